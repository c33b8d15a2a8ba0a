'use strict';
// Test fixtures: topics created through the broker and routed by the name server, message collectors.

const { createTopic, waitForRoute, connect } = require('./remoting');
const raw = require('./raw');
const { uniqueName, waitFor } = require('./util');

// Creates a topic with `queues` read/write queues on broker (UPDATE_AND_CREATE_TOPIC 17) and waits until the name
// server routes it with that many queues. Resolves {topic, route, brokerName}.
async function newTopic(broker, prefix = 'T', queues = 4, opts = {}) {
  const topic = opts.name || uniqueName(prefix);
  await createTopic(broker.brokerAddr, topic, queues, opts);
  const route = await waitForRoute(opts.namesrvAddr || broker.namesrvAddr, topic, {
    timeoutMs: opts.timeoutMs || 10000,
    predicate: r => (r.queueDatas || []).some(q => q.writeQueueNums === queues && q.readQueueNums === queues),
  });
  const qd = route.queueDatas.find(q => q.writeQueueNums === queues);
  return { topic, route, brokerName: qd.brokerName };
}

// The max offset of every queue of topic on broker: [q0, q1, ...].
async function maxOffsets(brokerAddr, topic, queues) {
  const conn = await connect(brokerAddr);
  try {
    const out = [];
    for (let q = 0; q < queues; q++) out.push(await raw.maxOffset(conn, topic, q));
    return out;
  } finally {
    await conn.close();
  }
}

// Records what an ali-ons handler receives. `key(msg)` identifies a message (default its body as text).
function collector(key = m => m.body.toString()) {
  const msgs = [];
  const c = {
    msgs,
    handler: async msg => { msgs.push(msg); },
    keys: () => msgs.map(key),
    distinct: () => new Set(msgs.map(key)),
    async waitForKeys(expected, { timeoutMs = 20000, describe = () => '' } = {}) {
      const want = [...expected];
      await waitFor(() => {
        const have = c.distinct();
        return want.every(k => have.has(k));
      }, {
        timeoutMs,
        message: () => {
          const have = c.distinct();
          const missing = want.filter(k => !have.has(k));
          return `${missing.length} of ${want.length} messages (missing e.g. ${JSON.stringify(missing.slice(0, 5))}, ` +
            `got ${msgs.length})\n${describe()}`;
        },
      });
    },
  };
  return c;
}

module.exports = { newTopic, maxOffsets, collector };
