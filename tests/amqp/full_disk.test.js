'use strict';
// A full disk, end to end (Ferry only): the broker runs on the fault build of the file storage plugin
// ("file-faults", plugins/storage-file/tests/CMakeLists.txt), which refuses every write that needs space with
// FERRY_E_NO_SPACE while FAIL_WRITES exists in its data dir. Persistent publishes are then nacked (a publisher
// confirm nack, not a channel error), a durable declare that cannot be stored is 541 INTERNAL_ERROR (a connection
// error, as the spec has it), transient traffic goes on, and once space is back nothing confirmed is missing, also
// after kill -9. Needs FERRY_TEST_PLUGIN_DIR (set by CTest) naming <build>/lib/ferry/test-plugins.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { startTarget, isRabbit } = require('./lib/target');
const A = require('./lib/amqp');

const testPlugins = process.env.FERRY_TEST_PLUGIN_DIR;
const skip = isRabbit ? 'the full-disk test uses Ferry\'s fault-injecting storage plugin'
  : !testPlugins ? 'FERRY_TEST_PLUGIN_DIR is not set (run through CTest)' : false;
let t;
let s;

before(async () => {
  if (skip) return;
  const defaultPlugins = path.resolve(path.dirname(process.env.FERRY_BROKER), '..', 'lib', 'ferry', 'plugins', 'v1');
  t = await startTarget({ set: { 'plugins.dirs': `${defaultPlugins};${testPlugins}`, 'storage.plugin': 'file-faults' } });
  s = A.session(t);
});
after(async () => {
  if (s) await s.closeAll();
  if (t) await t.stop();
});

const marker = () => path.join(t.broker.dataDir, 'storage', 'file-faults', 'FAIL_WRITES');

function publishAll(ch, queue, bodies, options) {
  return Promise.all(bodies.map(b => new Promise(resolve =>
    ch.sendToQueue(queue, Buffer.from(b), options, err => resolve(err ? 'nack' : 'ack')))));
}

test('full disk: persistent publishes nacked, durable declare 541, transient traffic goes on, nothing confirmed lost', { timeout: 60000, skip }, async () => {
  const conn = await s.connect();
  const ch = await A.channel(conn, { confirm: true });
  const q = A.name('full-disk');
  await ch.assertQueue(q, { durable: true });
  const before = Array.from({ length: 50 }, (_, i) => `kept-${i}`);
  assert.deepEqual(await publishAll(ch, q, before, { persistent: true }), before.map(() => 'ack'));

  fs.writeFileSync(marker(), 'full');
  const refused = ['lost-0', 'lost-1', 'lost-2'];
  assert.deepEqual(await A.withTimeout(publishAll(ch, q, refused, { persistent: true }), 10000, 'confirms while full'),
    refused.map(() => 'nack'), 'every persistent publish is nacked while the disk is full');
  assert.equal(ch.closed, false, 'a nack is not a channel error');

  // What needs no disk keeps working: a transient queue and non-persistent messages.
  const tq = (await ch.assertQueue('', { exclusive: true, durable: false })).queue;
  assert.deepEqual(await publishAll(ch, tq, ['transient'], { persistent: false }), ['ack']);
  const got = await A.waitFor(() => ch.get(tq, { noAck: true }), { message: 'the transient message' });
  assert.equal(got.content.toString(), 'transient');

  // A durable queue cannot be stored: 541 INTERNAL_ERROR closes the connection, with the reason.
  const c2 = await s.connect();
  const ch2 = await A.channel(c2);
  ch2.assertQueue(A.name('cannot-store'), { durable: true }).catch(() => {});
  await A.expectConnectionError(c2, 541, /INTERNAL_ERROR - .*no space left on device/, 'durable declare on a full disk');

  fs.rmSync(marker());
  const afterSpace = ['after-0', 'after-1'];
  assert.deepEqual(await publishAll(ch, q, afterSpace, { persistent: true }), afterSpace.map(() => 'ack'),
    'publishes are confirmed again once space is back');
  assert.equal((await ch.checkQueue(q)).messageCount, before.length + afterSpace.length, 'the nacked ones are not there');

  await t.kill9AndStart();
  const again = await A.retry(async () => A.channel(await s.connect()), { timeoutMs: 20000, what: 'reconnect' });
  const bodies = (await A.drain(again, q)).map(m => m.content.toString());
  assert.deepEqual(bodies, [...before, ...afterSpace], 'every confirmed message, in order, after kill -9');
  await again.deleteQueue(q);
});
