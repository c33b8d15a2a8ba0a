'use strict';
// Replication (Ferry only): several real ferry-broker processes on loopback, amqplib publishing with publisher
// confirms. What a slave holds is compared with its master through the replication listener's "digest" admin
// request (per queue: bounds, readable records and a hash of them; hashes of metadata and consumer offsets), which
// does not depend on the storage format, so file -> sqlite and sqlite -> file are compared directly.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const amqp = require('amqplib');
const { startBroker } = require('../rocket/lib/broker');
const { status, digest, replicationProxy, brokerCommand } = require('../rocket/lib/replication');

const sleep = ms => new Promise(r => setTimeout(r, ms));


async function waitFor(what, fn, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (last) return last;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

// A broker with the AMQP listener on; role etc. through `set`.
async function start({ storage = 'file', set = {}, args = [], dataDir } = {}) {
  return startBroker({
    rocket: false,
    dataDir,
    args,
    set: {
      'rocket.namesrv_listen': '', 'rocket.broker_listen': '', 'amqp.listen': '127.0.0.1:0',
      'storage.plugin': storage, ...set,
    },
  });
}

function slaveOf(master, { storage = 'file', id = 1, set = {}, args = [], dataDir } = {}) {
  return start({
    storage, dataDir, args,
    set: { 'replication.role': 'SLAVE', 'broker.id': String(id), 'replication.master': master.listeners['replication.listen'], ...set },
  });
}

const amqpUrl = b => `amqp://guest:guest@${b.listeners['amqp.listen']}`;

// Publishes n persistent messages to each queue with confirms; resolves with the number confirmed (acked).
async function publish(b, queues, n, tag = 'm') {
  const conn = await amqp.connect(amqpUrl(b));
  try {
    const ch = await conn.createConfirmChannel();
    for (const q of queues) await ch.assertQueue(q, { durable: true });
    const results = [];
    for (let i = 0; i < n; i++) {
      for (const q of queues) {
        results.push(new Promise(resolve => ch.sendToQueue(q, Buffer.from(`${tag}-${q}-${i}`), { persistent: true },
          err => resolve(!err))));
      }
    }
    const settled = await Promise.all(results);
    await ch.close().catch(() => {});
    return settled.filter(Boolean).length;
  } finally {
    await conn.close().catch(() => {});
  }
}

async function consumeAndAck(b, queue, n) {
  const conn = await amqp.connect(amqpUrl(b));
  try {
    const ch = await conn.createChannel();
    let got = 0;
    for (; got < n; got++) {
      const m = await ch.get(queue, { noAck: false });
      if (!m) break;
      ch.ack(m);
    }
    await ch.close();
    return got;
  } finally {
    await conn.close().catch(() => {});
  }
}

// The slave applied everything the master published.
async function inSync(master, slave) {
  return waitFor('the slave to catch up', async () => {
    const m = await status(master);
    const s = await status(slave);
    return s.master && s.master.state === 'streaming' && s.master.appliedSeq === m.seq &&
      m.slaves.some(x => x.inSync && x.replicatedSeq === m.seq) ? { m, s } : null;
  });
}

async function queueDepth(b, queue) {
  const conn = await amqp.connect(amqpUrl(b));
  try {
    const ch = await conn.createChannel();
    return (await ch.checkQueue(queue)).messageCount;
  } finally {
    await conn.close().catch(() => {});
  }
}

function assertSameData(a, b) {
  assert.deepEqual(b.queues, a.queues, 'every queue: bounds, readable records and their hash');
  assert.equal(b.metaHash, a.metaHash, 'metadata');
  assert.equal(b.metaKeys, a.metaKeys);
  assert.equal(b.offsetsHash, a.offsetsHash, 'consumer offsets');
}

for (const [from, to] of [['file', 'sqlite'], ['sqlite', 'file']]) {
  test(`ASYNC_MASTER on ${from} -> SLAVE on ${to}: the slave holds exactly the master's data`, async () => {
    const master = await start({ storage: from });
    const slave = await slaveOf(master, { storage: to });
    try {
      assert.equal(await publish(master, ['r1', 'r2'], 500), 1000);
      assert.equal(await consumeAndAck(master, 'r1', 200), 200);
      await inSync(master, slave);
      const [dm, ds] = [await digest(master), await digest(slave)];
      assertSameData(dm, ds);
      const r1 = Object.values(dm.queues).find(q => q.next === 500 && q.records === 300);
      assert.ok(r1, `queue r1 has 300 of its 500 records left on both: ${JSON.stringify(dm.queues)}`);
    } finally {
      await slave.kill9();
      await master.kill9();
    }
  });
}

test('a slave killed and restarted catches up from where it stopped, not with a full copy', async () => {
  const master = await start({ storage: 'file' });
  let slave = await slaveOf(master, { storage: 'sqlite' });
  const dataDir = slave.dataDir;
  try {
    assert.equal(await publish(master, ['c1'], 2000), 2000);
    await inSync(master, slave);
    await slave.kill9();
    assert.equal(await publish(master, ['c1'], 300, 'later'), 300);
    await consumeAndAck(master, 'c1', 100);
    slave = await slaveOf(master, { storage: 'sqlite', dataDir });
    const { s } = await inSync(master, slave);
    assert.equal(s.master.appliedRecords, 300, 'only the 300 records it missed were sent');
    assertSameData(await digest(master), await digest(slave));
  } finally {
    await slave.kill9();
    await master.kill9();
  }
});

test('ASYNC_MASTER: lag is reported while the slave is paused (SIGSTOP) and closes after SIGCONT', async () => {
  const master = await start();
  const slave = await slaveOf(master);
  try {
    await publish(master, ['lag'], 10);
    await inSync(master, slave);
    process.kill(slave.pid, 'SIGSTOP');
    assert.equal(await publish(master, ['lag'], 2000), 2000, 'ASYNC_MASTER confirms without the slave');
    const m = await waitFor('lag on the master', async () => {
      const st = await status(master);
      const v = st.slaves[0];
      return v && v.lagMessages > 0 ? st : null;
    });
    assert.ok(m.slaves[0].lagMessages <= 2000 && m.slaves[0].lagBytes > 0, JSON.stringify(m.slaves[0]));
    process.kill(slave.pid, 'SIGCONT');
    const { m: after } = await inSync(master, slave);
    assert.equal(after.slaves[0].lagMessages, 0);
    assert.equal(after.slaves[0].lagBytes, 0);
    assertSameData(await digest(master), await digest(slave));
  } finally {
    try { process.kill(slave.pid, 'SIGCONT'); } catch { /* gone */ }
    await slave.kill9();
    await master.kill9();
  }
});

test('SYNC_MASTER confirms only what a slave has: nack with no slave, ack with one, nack after the timeout when it stalls', async () => {
  const master = await start({ set: { 'replication.role': 'SYNC_MASTER', 'replication.sync_timeout_ms': '700' } });
  let slave = null;
  try {
    assert.equal(await publish(master, ['s1'], 5), 0, 'no slave: every publish is nacked (SLAVE_NOT_AVAILABLE)');
    slave = await slaveOf(master, { storage: 'sqlite' });
    await waitFor('an in-sync slave', async () => (await status(master)).inSyncSlaves === 1);
    assert.equal(await publish(master, ['s1'], 500), 500, 'with a slave every publish is acked');
    const d = await digest(slave);
    assert.ok(Object.values(d.queues).some(q => q.records === 505),
      `every acked message is on the slave already: ${JSON.stringify(d.queues)}`);
    process.kill(slave.pid, 'SIGSTOP');
    const t0 = Date.now();
    assert.equal(await publish(master, ['s1'], 3), 0, 'a stalled slave: nacked (FLUSH_SLAVE_TIMEOUT)');
    assert.ok(Date.now() - t0 >= 600, 'after replication.sync_timeout_ms');
    process.kill(slave.pid, 'SIGCONT');
    await inSync(master, slave);
    assertSameData(await digest(master), await digest(slave));
  } finally {
    if (slave) {
      try { process.kill(slave.pid, 'SIGCONT'); } catch { /* gone */ }
      await slave.kill9();
    }
    await master.kill9();
  }
});

test('fail-over by restart (broker.id 0): the new master serves; the old master is refused as diverged until --reconcile', async () => {
  const a = await start();
  let b = await slaveOf(a, { storage: 'sqlite' });
  const bDir = b.dataDir;
  let aAgain = null;
  try {
    assert.equal(await publish(a, ['f1'], 100), 100);
    await inSync(a, b);
    // A takes writes the slave never gets, then dies.
    process.kill(b.pid, 'SIGSTOP');
    assert.equal(await publish(a, ['f1'], 10, 'lost'), 10);
    await a.kill9();
    // Killed while still stopped, so the changes waiting in its socket are never applied.
    await b.kill9();
    // RocketMQ 4.x fail-over: the slave restarts as the group's master (broker.id 0) and takes new writes.
    b = await start({ storage: 'sqlite', dataDir: bDir });
    assert.equal(await publish(b, ['f1'], 10, 'new'), 10);
    // The old master rejoins as a slave: its f1 differs from the new master's at the same offsets.
    aAgain = await slaveOf(b, { dataDir: a.dataDir });
    const exit = await Promise.race([aAgain.exited, sleep(15000).then(() => null)]);
    assert.ok(exit, 'the diverged slave stops');
    assert.equal(exit.code, 3, 'exit code 3: diverged');
    assert.match(aAgain.stderr, /diverges from its master/);
    // Reconciled, it drops what the master does not have and follows.
    aAgain = await slaveOf(b, { dataDir: a.dataDir, args: ['--reconcile'] });
    await inSync(b, aAgain);
    assertSameData(await digest(b), await digest(aAgain));
  } finally {
    if (aAgain) await aAgain.kill9();
    await b.kill9();
    await a.kill9();
  }
});

test('AMQP clients connecting to a slave are refused with a clear message', async () => {
  const master = await start();
  const slave = await slaveOf(master);
  try {
    await assert.rejects(amqp.connect(amqpUrl(slave)), /ConnectionClose/, 'amqplib: the handshake ends in connection.close');
    // pika reports the reply code and text of that connection.close.
    const [host, port] = slave.listeners['amqp.listen'].split(':');
    const py = spawnSync('/usr/bin/python3', ['-c', `
import pika
try:
    pika.BlockingConnection(pika.ConnectionParameters(host='${host}', port=${port}))
    print('opened')
except pika.exceptions.AMQPError as e:
    print(e)
`], { encoding: 'utf8', timeout: 20000 });
    assert.match(py.stdout, /\(530\) "NOT_ALLOWED - this broker is a read-only replica \(replication.role SLAVE of group 'broker-a'\); connect to its master/,
      py.stdout + py.stderr);
  } finally {
    await slave.kill9();
    await master.kill9();
  }
});

test('SYNC_MASTER killed with SIGKILL at random moments, ten rounds: every confirmed message is on the slave once', async () => {
  let master = await start({ set: { 'replication.role': 'SYNC_MASTER', 'replication.sync_timeout_ms': '2000' } });
  const masterDir = master.dataDir;
  const masterListeners = { ...master.listeners };
  let slave = await slaveOf(master, { storage: 'sqlite' });
  const slaveDir = slave.dataDir;
  const confirmed = new Set();
  try {
    for (let round = 0; round < 10; round++) {
      await waitFor('an in-sync slave', async () => (await status(master)).inSyncSlaves === 1);
      const conn = await amqp.connect(amqpUrl(master));
      conn.on('error', () => {});
      const ch = await conn.createConfirmChannel();
      ch.on('error', () => {});
      await ch.assertQueue('kill', { durable: true });
      let stop = false;
      const pumping = (async () => {
        let i = 0;
        while (!stop) {
          const body = `r${round}-${i++}`;
          const ok = await new Promise(resolve => {
            try {
              ch.sendToQueue('kill', Buffer.from(body), { persistent: true }, err => resolve(!err));
            } catch { resolve(false); }
          });
          if (ok) confirmed.add(body);
          else break; // the master is gone: the rest of this round is unconfirmed
        }
      })();
      await sleep(150 + Math.floor(Math.random() * 500));
      await master.kill9();
      stop = true;
      await Promise.race([pumping, sleep(3000)]);
      await Promise.race([conn.close().catch(() => {}), sleep(500)]);
      master = await start({
        set: {
          'replication.role': 'SYNC_MASTER', 'replication.sync_timeout_ms': '2000',
          'amqp.listen': masterListeners['amqp.listen'], 'replication.listen': masterListeners['replication.listen'],
        },
        dataDir: masterDir,
      });
    }
    assert.ok(confirmed.size > 100, `enough confirmed messages to mean something (${confirmed.size})`);
    await inSync(master, slave);
    // Fail over: the slave becomes the master; every confirmed message must be there exactly once.
    await master.kill9();
    await slave.kill9();
    slave = await start({ storage: 'sqlite', dataDir: slaveDir });
    const conn = await amqp.connect(amqpUrl(slave));
    const ch = await conn.createChannel();
    const seen = new Map();
    for (;;) {
      const m = await ch.get('kill', { noAck: true });
      if (!m) break;
      const body = m.content.toString();
      seen.set(body, (seen.get(body) || 0) + 1);
    }
    await conn.close();
    const missing = [...confirmed].filter(b => !seen.has(b));
    const twice = [...seen].filter(([, n]) => n > 1).map(([b]) => b);
    assert.deepEqual(missing, [], `confirmed messages missing on the slave (of ${confirmed.size})`);
    assert.deepEqual(twice, [], 'messages stored twice');
  } finally {
    await slave.kill9();
    await master.kill9();
  }
});

test('a cut connection: the slave reconnects and resumes from the master\'s backlog, without a catch-up from storage', async () => {
  const master = await start();
  // A TCP proxy between slave and master, so the connection can be cut while both brokers keep running.
  const proxy = await replicationProxy(master);
  const slave = await start({
    storage: 'sqlite',
    set: { 'replication.role': 'SLAVE', 'broker.id': '1', 'replication.master': proxy.address },
  });
  try {
    assert.equal(await publish(master, ['cut'], 500), 500);
    await inSync(master, slave);
    assert.equal((await status(slave)).master.snapshots, 1, 'one catch-up from storage, at start');
    proxy.cut();
    assert.equal(await publish(master, ['cut'], 500, 'after'), 500, 'ASYNC_MASTER confirms while the slave is away');
    const { s } = await inSync(master, slave);
    assert.equal(s.master.resumes, 1, 'the reconnection resumed from the backlog');
    assert.equal(s.master.snapshots, 1, 'no second catch-up from storage');
    assertSameData(await digest(master), await digest(slave));
  } finally {
    proxy.close();
    await slave.kill9();
    await master.kill9();
  }
});

test('--promote: a slave becomes the master in place, the other slave follows it, the old master rejoins only reconciled', async () => {
  const a = await start();
  const [pb, pc] = [await replicationProxy(a), await replicationProxy(a)];
  const slaveSet = (id, proxy) => ({ 'replication.role': 'SLAVE', 'broker.id': String(id), 'replication.master': proxy.address });
  const b = await start({ storage: 'sqlite', set: slaveSet(1, pb) });
  let c = await start({ set: slaveSet(2, pc) });
  const replAddr = x => x.listeners['replication.listen'];
  let aAgain = null;
  try {
    assert.equal(await publish(a, ['p1'], 100), 100);
    await inSync(a, b);
    await inSync(a, c);
    // While the master is alive, promoting is refused (two masters), and so are bad credentials.
    let r = await brokerCommand(['--promote', '--replication-address', replAddr(c)]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /the master .* is alive/);
    r = await brokerCommand(['--promote', '--force', '--replication-address', replAddr(c), '--admin-password', 'nope']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /invalid credentials/);
    // b stops receiving, c gets 20 more, then neither gets the last 5; the master dies.
    pb.hold();
    assert.equal(await publish(a, ['p1'], 20, 'c-only'), 20);
    await waitFor('c to apply the 20', async () => (await status(c)).master.appliedSeq === (await status(a)).seq);
    pc.hold();
    assert.equal(await publish(a, ['p1'], 5, 'lost'), 5);
    await a.kill9();
    pb.cut();
    pc.cut();
    // b is behind c in the same stream: promoting b would lose c's 20 and get c refused.
    r = await brokerCommand(['--promote', '--replication-address', replAddr(b), '--repoint', replAddr(c)]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /applied more of the old master's changes/);
    // c becomes a SYNC_MASTER in place (same process, same addresses) and b follows it.
    const amqpBefore = c.listeners['amqp.listen'];
    r = await brokerCommand(['--promote', '--role', 'SYNC_MASTER', '--replication-address', replAddr(c),
      '--repoint', replAddr(b)]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { promoted: replAddr(c), role: 'SYNC_MASTER', repointed: [replAddr(b)] });
    const sc = await status(c);
    assert.equal(sc.role, 'SYNC_MASTER');
    assert.equal(sc.brokerId, 0);
    assert.ok(c.running, 'the promoted broker restarted in place (same process)');
    await inSync(c, b);
    assert.equal(await queueDepth({ listeners: { 'amqp.listen': amqpBefore } }, 'p1'), 120,
      'AMQP on the old address: the 100 + the 20 only c had');
    assert.equal(await publish(c, ['p1'], 10, 'new'), 10, 'the new SYNC_MASTER confirms: b is in sync');
    await inSync(c, b);
    assertSameData(await digest(c), await digest(b));
    // The promotion outlives a restart with the old (SLAVE) config: it is in c's data dir.
    const cListen = replAddr(c);
    await c.stop();
    c = await start({ dataDir: c.dataDir, set: { ...slaveSet(2, pc), 'replication.listen': cListen } });
    assert.equal((await status(c)).role, 'SYNC_MASTER');
    await inSync(c, b);
    // The old master holds 5 writes nobody else has: refused as diverged, then reconciled.
    aAgain = await start({ dataDir: a.dataDir, set: { 'replication.role': 'SLAVE', 'broker.id': '3', 'replication.master': cListen } });
    const exit = await Promise.race([aAgain.exited, sleep(15000).then(() => null)]);
    assert.ok(exit, 'the diverged old master stops');
    assert.equal(exit.code, 3);
    assert.match(aAgain.stderr, /diverges from its master/);
    aAgain = await start({ dataDir: a.dataDir, args: ['--reconcile'],
      set: { 'replication.role': 'SLAVE', 'broker.id': '3', 'replication.master': cListen } });
    await inSync(c, aAgain);
    assertSameData(await digest(c), await digest(aAgain));
    assert.equal((await status(c)).slaves.length, 2, 'b and the old master follow c');
  } finally {
    pb.close();
    pc.close();
    if (aAgain) await aAgain.kill9();
    await c.kill9();
    await b.kill9();
    await a.kill9();
  }
});

test('TTL and dead-lettering happen on the master and reach the slave as replicated changes: a restarted slave holds the same', async () => {
  const master = await start();
  const slave = await slaveOf(master, { storage: 'sqlite' });
  let slaveAgain = null;
  try {
    const conn = await amqp.connect(amqpUrl(master));
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue('dlq', { durable: true });
    await ch.assertQueue('ttl', { durable: true, arguments: { 'x-message-ttl': 2500, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'dlq' } });
    for (let i = 0; i < 5; i++) ch.sendToQueue('ttl', Buffer.from(`t${i}`), { persistent: true });
    await ch.waitForConfirms();
    await conn.close();
    await inSync(master, slave);
    const slaveDir = slave.dataDir;
    await slave.kill9();
    // Restarted, the slave restores the queue with its 5 messages as the kernel's own: their TTL must not run there.
    slaveAgain = await slaveOf(master, { storage: 'sqlite', dataDir: slaveDir });
    await waitFor('the master to dead-letter the 5', async () => (await queueDepth(master, 'dlq')) === 5, 10000);
    await sleep(500);
    await inSync(master, slaveAgain);
    assertSameData(await digest(master), await digest(slaveAgain));
    const log = slaveAgain.output();
    assert.doesNotMatch(log, /read-only|READ_ONLY|dead.letter.*fail/i, 'the slave tried no write of its own');
  } finally {
    if (slaveAgain) await slaveAgain.kill9();
    await slave.kill9();
    await master.kill9();
  }
});
