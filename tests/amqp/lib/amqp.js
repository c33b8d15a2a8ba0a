'use strict';
// amqplib helpers for the tests: bounded connects, channels whose errors are recorded (an amqplib 'error' event with
// no listener would throw), message collectors, and the "this must fail with code N" assertion.
//
//   const A = require('./lib/amqp');
//   const session = A.session(t);              // one per test file; session.closeAll() in after()
//   const conn = await session.connect();      // t.url, or session.connect(t.urlFor({user, pass, vhost}))
//   const ch = await A.channel(conn);          // ch.errors: the channel errors seen (each with .code)
//   const got = A.collector();  await ch.consume(q, got.handler(ch, { ack: true }));
//   await got.waitForCount(3);   got.bodies()
//   const err = await A.expectChannelError(() => ch.checkQueue('nope'), ch, 404, /no queue 'nope'/);

const assert = require('node:assert/strict');
const amqplib = require('amqplib');
const { sleep, waitFor, withTimeout, uniqueName } = require('../../rocket/lib/util');

const CONNECT_TIMEOUT_MS = 8000;

function session(target) {
  const conns = new Set();
  return {
    target,
    conns,
    // Resolves an open amqplib ChannelModel; its 'error' events are recorded in conn.errors.
    async connect(url = target.url, socketOptions = {}) {
      const conn = await withTimeout(amqplib.connect(url, { timeout: CONNECT_TIMEOUT_MS, ...socketOptions }),
        CONNECT_TIMEOUT_MS + 2000, `amqplib.connect(${url.replace(/:[^:@/]*@/, ':***@')})`);
      conn.errors = [];
      conn.closed = false;
      conn.on('error', err => conn.errors.push(err));
      conn.closedPromise = new Promise(resolve => conn.once('close', err => { conn.closed = true; resolve(err); }));
      conns.add(conn);
      return conn;
    },
    async closeAll() {
      for (const c of conns) {
        if (!c.closed) await withTimeout(c.close(), 5000, 'connection close').catch(() => {});
        // amqplib only notices a socket's 'end' or 'error'; a stuck one would keep its heartbeat timers running.
        if (!c.closed) c.connection.stream.destroy(new Error('closed by the test harness'));
      }
      conns.clear();
    },
  };
}

// A channel (or confirm channel) whose 'error' events are collected in ch.errors and whose closing is observable.
async function channel(conn, { confirm = false, prefetch } = {}) {
  const ch = await withTimeout(confirm ? conn.createConfirmChannel() : conn.createChannel(), 8000, 'channel open');
  ch.errors = [];
  ch.returns = [];
  ch.closed = false;
  ch.conn = conn; // the amqplib ChannelModel (ch.connection is amqplib's internal Connection)
  ch.on('error', err => ch.errors.push(err));
  ch.on('return', msg => ch.returns.push(msg));
  ch.closedPromise = new Promise(resolve => ch.once('close', () => { ch.closed = true; resolve(); }));
  if (prefetch !== undefined) await ch.prefetch(prefetch);
  return ch;
}

// Runs op (a function returning a promise) and expects it to fail with AMQP reply code `code` (amqplib sets
// err.code), the text matching `pattern` when given; then waits until `closes` (a channel or connection) is closed.
// Returns the error.
async function expectFailure(op, code, pattern, closes, what = 'operation') {
  let err = null;
  try {
    await withTimeout(op(), 10000, what);
  } catch (e) {
    err = e;
  }
  assert.ok(err, `${what} should have failed with ${code}, but it succeeded`);
  assert.equal(err.code, code, `${what}: expected reply code ${code}, got ${err.code}: ${err.message}`);
  if (pattern) assert.match(err.message, pattern, `${what}: reply text`);
  if (closes) {
    await withTimeout(closes.closedPromise, 5000, `${what}: close after error ${code}`);
  }
  return err;
}

const expectChannelError = (op, ch, code, pattern, what) => expectFailure(op, code, pattern, ch, what);

// A connection-level (hard) error: the connection gets connection.close with `code`; resolves the error emitted.
async function expectConnectionError(conn, code, pattern, what = 'connection') {
  await withTimeout(conn.closedPromise, 10000, `${what}: connection close with ${code}`);
  const err = conn.errors.find(e => e.code !== undefined) || null;
  assert.ok(err, `${what}: the connection closed without an error (expected ${code})`);
  assert.equal(err.code, code, `${what}: expected connection.close ${code}, got ${err.code}: ${err.message}`);
  if (pattern) assert.match(err.message, pattern, `${what}: reply text`);
  return err;
}

// Collects deliveries. handler(ch, {ack}) gives the consume callback; messages keep amqplib's shape
// ({content, fields, properties}); a null delivery (server-sent basic.cancel) sets `cancelled`.
function collector() {
  const msgs = [];
  const c = {
    msgs,
    cancelled: false,
    handler(ch, { ack = false, onMessage } = {}) {
      return msg => {
        if (msg === null) { c.cancelled = true; return; }
        msgs.push(msg);
        if (onMessage) onMessage(msg);
        if (ack) ch.ack(msg);
      };
    },
    bodies: () => msgs.map(m => m.content.toString()),
    async waitForCount(n, { timeoutMs = 10000, describe = () => '' } = {}) {
      await waitFor(() => msgs.length >= n, {
        timeoutMs,
        message: () => `${n} deliveries (got ${msgs.length}: ${JSON.stringify(c.bodies().slice(0, 20))})${describe()}`,
      });
      return msgs;
    },
    // Waits quietMs and asserts nothing more than `n` arrived.
    async expectNoMore(n, quietMs = 400) {
      await sleep(quietMs);
      assert.equal(msgs.length, n, `expected exactly ${n} deliveries, got ${msgs.length}: ${JSON.stringify(c.bodies())}`);
    },
  };
  return c;
}

// A queue/exchange name unique to this process and call (fine for AMQP: letters, digits, '_', '.').
const name = prefix => uniqueName(prefix);

// Reads everything currently in a queue with basic.get (no-ack), in order.
async function drain(ch, queue, { max = 10000 } = {}) {
  const out = [];
  for (let i = 0; i < max; i++) {
    const m = await ch.get(queue, { noAck: true });
    if (!m) break;
    out.push(m);
  }
  return out;
}

// Retries op until it stops failing (e.g. first connect after a restart).
async function retry(op, { timeoutMs = 15000, intervalMs = 200, what = 'operation' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try { return await op(); } catch (err) { last = err; }
    if (Date.now() >= deadline) throw new Error(`${what} kept failing for ${timeoutMs} ms: ${last && last.message}`);
    await sleep(intervalMs);
  }
}

module.exports = {
  amqplib, session, channel, expectFailure, expectChannelError, expectConnectionError, collector, name, drain, retry,
  sleep, waitFor, withTimeout,
};
