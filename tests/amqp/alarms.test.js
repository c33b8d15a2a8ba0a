'use strict';
// Resource alarms with amqplib (Ferry only): the kernel's disk alarm (storage.disk_free_limit) as RabbitMQ's
// connection.blocked / connection.unblocked. The broker starts with a limit just below the free space of its file
// system; a file allocated in its data dir pushes the free space under the limit, removing it brings it back.
// While blocked, a publish is held unread (its confirm waits, nothing is lost), other methods keep working, and a
// connection opened meanwhile is told at once. In rabbitmq mode the file skips (it cannot move RabbitMQ's limit).

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { startTarget, isRabbit } = require('./lib/target');
const A = require('./lib/amqp');

const skip = isRabbit ? 'the disk alarm test moves Ferry\'s storage.disk_free_limit; RabbitMQ is not configured here' : false;
const MiB = 1024 * 1024;
let t;
let s;
let margin;
let filler;

function freeBytes(dir) {
  const st = fs.statfsSync(dir);
  return st.bavail * st.bsize;
}

// Takes `bytes` of real disk space (fallocate; written zeros where it is not supported).
function allocate(file, bytes) {
  try {
    execFileSync('fallocate', ['-l', String(bytes), file]);
    return;
  } catch (_) { /* fall through */ }
  const fd = fs.openSync(file, 'w');
  const chunk = Buffer.alloc(8 * MiB);
  for (let done = 0; done < bytes; done += chunk.length) fs.writeSync(fd, chunk);
  fs.fsyncSync(fd);
  fs.closeSync(fd);
}

function waitForEvent(conn, name, timeoutMs, what) {
  return A.withTimeout(new Promise(resolve => conn.once(name, resolve)), timeoutMs, what);
}

before(async () => {
  if (skip) return;
  const free = freeBytes(os.tmpdir());
  // Far enough from the free space that other processes' writes do not cross the limit by themselves.
  margin = Math.max(16 * MiB, Math.min(256 * MiB, Math.floor(free / 10)));
  t = await startTarget({ set: { 'storage.disk_free_limit': String(free - margin) } });
  s = A.session(t);
});
after(async () => {
  if (filler) fs.rmSync(filler, { force: true });
  if (s) await s.closeAll();
  if (t) await t.stop();
});

test('disk alarm: connection.blocked, publishes held until space is back, then unblocked and confirmed', { timeout: 60000, skip }, async () => {
  const pubConn = await s.connect();
  const pub = await A.channel(pubConn, { confirm: true });
  const q = (await pub.assertQueue('', { exclusive: false, autoDelete: false, durable: false })).queue;
  pub.sendToQueue(q, Buffer.from('before'));
  await A.withTimeout(pub.waitForConfirms(), 5000, 'confirm before the alarm');
  const obsConn = await s.connect();
  const obs = await A.channel(obsConn);
  assert.equal((await obs.get(q, { noAck: true })).content.toString(), 'before');

  const blocked = waitForEvent(pubConn, 'blocked', 10000, 'connection.blocked after the disk filled');
  filler = path.join(t.broker.dataDir, 'filler.bin');
  allocate(filler, 2 * margin);
  assert.equal(await blocked, 'low on disk', 'connection.blocked reason');
  assert.equal(pubConn.connection.blocked, true);

  // A connection opened during the alarm hears of it right after connection.open.
  // (amqplib may handle that frame before connect() resolves, so its flag is checked rather than the event.)
  const lateConn = await s.connect();
  await A.waitFor(() => lateConn.connection.blocked === true,
    { timeoutMs: 5000, message: 'connection.blocked for a connection opened during the alarm' });

  let confirmed = null;
  pub.sendToQueue(q, Buffer.from('during'), {}, err => { confirmed = err ? 'nack' : 'ack'; });
  await A.sleep(1500);
  assert.equal(confirmed, null, 'the publish is held while the alarm is raised');
  // Everything but publishing goes on, on every connection.
  assert.equal((await obs.checkQueue(q)).messageCount, 0, 'nothing appended while blocked');
  const other = A.name('during-alarm');
  await obs.assertQueue(other, { durable: false });
  await obs.deleteQueue(other);

  const unblocked = waitForEvent(pubConn, 'unblocked', 10000, 'connection.unblocked after the space came back');
  const lateUnblocked = waitForEvent(lateConn, 'unblocked', 10000, 'connection.unblocked on the late connection');
  fs.rmSync(filler, { force: true });
  filler = null;
  await unblocked;
  await lateUnblocked;
  await A.withTimeout(pub.waitForConfirms(), 5000, 'the held publish is confirmed after unblocked');
  assert.equal(confirmed, 'ack');
  const m = await A.waitFor(() => obs.get(q, { noAck: true }), { message: 'the held message' });
  assert.equal(m.content.toString(), 'during');
  assert.equal(pubConn.connection.blocked, false);
  assert.match(t.output(), /disk alarm raised/, 'the log says why');
  await obs.deleteQueue(q);
});
