'use strict';
// ali-ons 3.12.0 clients for the tests, with the settings that make it usable against a test broker, and a
// closeAll() that really lets the test process exit. See ../README.md ("ali-ons behaviour the tests rely on").
//
//   const ons = new AliOns(broker.namesrvAddr);
//   const producer = await ons.producer();                       // ready
//   const consumer = ons.consumer({ consumerGroup: g, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
//   consumer.subscribe(topic, 'TagA || TagB', async msg => { ... });  // the handler must be an `async` function
//   await consumer.ready();
//   ...
//   await ons.closeAll();

const util = require('node:util');
const { Producer, Consumer, Message } = require('ali-ons');
const MQProducer = require('ali-ons/lib/producer/mq_producer');
const MessageQueue = require('ali-ons/lib/message_queue');
const { sleep, waitFor, withTimeout } = require('./util');

// ali-ons' defaults are 30 s (route poll, heartbeat), 10 s (rebalance), 5 s (offset persist): far too slow for tests.
const FAST = {
  pollNameServerInteval: 1000, // (sic) ali-ons' spelling
  heartbeatBrokerInterval: 1000,
  rebalanceInterval: 1000,
  persistConsumerOffsetInterval: 1000,
};

let instanceSeq = 0;

class AliOns {
  constructor(namesrvAddr, { name = 'ons' } = {}) {
    this.namesrvAddr = namesrvAddr;
    this.name = name;
    this.clients = [];
    this.errors = [];
    this.logLines = [];
    this.verbose = process.env.ALIONS_LOG === '1';
    const record = level => (...args) => {
      const line = `${new Date().toISOString()} ${level} ${util.format(...args)}`;
      this.logLines.push(line);
      if (this.logLines.length > 400) this.logLines.splice(0, this.logLines.length - 400);
      if (this.verbose) process.stderr.write(`[ali-ons] ${line}\n`);
    };
    this.logger = { info: record('info'), warn: record('warn'), error: record('error'), debug() {} };

    // ali-ons keeps one process-wide inner producer (group CLIENT_INNER_PRODUCER, for its retry fallback) that the
    // first client creates with *its own* options and clientId, so it would share (and keep alive) that client's
    // MQClient. Create it ourselves, with a clientId of its own and this broker's name server.
    if (MQProducer.defaultProducer) {
      closeClient(MQProducer.defaultProducer).catch(() => {});
      MQProducer.defaultProducer = null;
    }
    this.inner = new MQProducer(this.baseOptions({ producerGroup: 'CLIENT_INNER_PRODUCER' }));
    this.inner.on('error', err => {
      this.errors.push(err);
      this.logger.warn('[inner producer error] %s', err && err.message);
    });
    MQProducer.defaultProducer = this.inner;
  }

  baseOptions(extra) {
    instanceSeq += 1;
    return {
      nameSrv: this.namesrvAddr,
      httpclient: {}, // asserted by ali-ons, unused with nameSrv
      // A distinct instanceName per client: ali-ons shares one MQClient per clientId (ip@instanceName), and two
      // consumers of one group in one process must have distinct clientIds.
      instanceName: `${this.name}-${process.pid}-${instanceSeq}`,
      clientIP: '127.0.0.1',
      logger: this.logger,
      ...FAST,
      ...extra,
    };
  }

  track(client, kind) {
    client.on('error', err => {
      this.errors.push(err);
      this.logger.warn('[%s error] %s', kind, err && err.message);
    });
    this.clients.push(client);
    return client;
  }

  // A ready producer.
  async producer(options = {}) {
    const p = this.track(new Producer(this.baseOptions({
      producerGroup: options.producerGroup || `PG_${process.pid}_${instanceSeq + 1}`,
      sendMsgTimeout: 5000,
      ...options,
    })), 'producer');
    await withTimeout(p.ready(), 15000, 'ali-ons producer ready');
    return p;
  }

  // A consumer (not ready yet: subscribe first, then await consumer.ready()).
  consumer(options = {}) {
    if (!options.consumerGroup) throw new Error('consumerGroup is required');
    return this.track(new Consumer(this.baseOptions({
      pullTimeDelayMillsWhenException: 500,
      ...options,
    })), 'consumer');
  }

  clientIdOf(client) {
    return client._mqClient.clientId;
  }

  // The queues this consumer currently pulls for topic, as sorted queueIds.
  assignedQueues(consumer, topic) {
    const ids = [];
    for (const { messageQueue } of consumer.processQueueTable.values()) {
      if (messageQueue.topic === topic) ids.push(messageQueue.queueId);
    }
    return ids.sort((a, b) => a - b);
  }

  async waitForAssignment(consumer, topic, predicate, timeoutMs = 15000) {
    return waitFor(() => {
      const q = this.assignedQueues(consumer, topic);
      return predicate(q) ? q : null;
    }, { timeoutMs, message: () => `queue assignment on ${topic} (now ${JSON.stringify(this.assignedQueues(consumer, topic))})\n${this.recentLog()}` });
  }

  async close(client) {
    const i = this.clients.indexOf(client);
    if (i >= 0) this.clients.splice(i, 1);
    await closeClient(client);
  }

  // Closes every client, then the inner producer, so that nothing keeps the process alive.
  async closeAll() {
    const clients = this.clients.splice(0);
    for (const c of clients) await closeClient(c);
    if (this.inner) {
      if (MQProducer.defaultProducer === this.inner) MQProducer.defaultProducer = null;
      const inner = this.inner;
      this.inner = null;
      await closeClient(inner);
    }
  }

  recentLog(n = 60) {
    return `ali-ons log (last ${n} lines):\n  ` + this.logLines.slice(-n).join('\n  ') +
      (this.errors.length ? `\nali-ons errors (last 10):\n  ${this.errors.slice(-10).map(e => e.message).join('\n  ')}` : '');
  }
}

// close() can throw (e.g. UNREGISTER_CLIENT to a dead broker) before it closes the MQClient, which then keeps
// polling forever; so close the MQClient by force afterwards in every case.
// Also: Producer#close() removes every listener, 'error' included, and a late error emitted on an EventEmitter
// without an 'error' listener throws; so put a no-op listener back.
const noop = () => {};
// And a client closed before its (asynchronous) init ran would start its MQClient's polling loops afterwards, so
// wait for ready first.
async function closeClient(client) {
  try {
    await withTimeout(client.ready(), 10000, 'ali-ons ready');
  } catch { /* close anyway */ }
  try {
    await withTimeout(client.close(), 8000, 'ali-ons close');
  } catch { /* forced below */ }
  client.on('error', noop);
  const mq = client._mqClient;
  if (mq) {
    mq._consumerTable.clear();
    mq._producerTable.clear();
    try { await withTimeout(mq.close(), 5000, 'MQClient close'); } catch { /* best effort */ }
    mq._inited = false; // stops its scheduled tasks at their next wake-up in any case
    mq.on('error', noop);
  }
  await sleep(10);
}

function message(topic, tags, body, { keys, delayTimeLevel, shardingKey, properties } = {}) {
  const m = tags === null || tags === undefined ? new Message(topic, body) : new Message(topic, tags, body);
  if (keys) m.keys = Array.isArray(keys) ? keys : [keys];
  if (delayTimeLevel) m.delayTimeLevel = delayTimeLevel;
  if (shardingKey) m.shardingKey = shardingKey;
  if (properties) Object.assign(m.properties, properties);
  return m;
}

// ali-ons' consumeTimestamp format: local time yyyyMMddHHmmss (second precision).
function humanTimestamp(ms) {
  const d = new Date(ms);
  const z = v => String(v).padStart(2, '0');
  return `${d.getFullYear()}${z(d.getMonth() + 1)}${z(d.getDate())}${z(d.getHours())}${z(d.getMinutes())}${z(d.getSeconds())}`;
}

module.exports = { AliOns, Message, MessageQueue, MQProducer, message, humanTimestamp, FAST };
