'use strict';
// Memory given back with amqplib (Ferry only, Linux: it reads the broker's resident size from /proc): a queue holding
// ~200 MB of transient messages is deleted, and the broker's resident memory falls back. glibc keeps freed heap in
// its bins unless told otherwise, and a hot path walking a bloated heap was what made Ferry's latency p99 go from
// 0.3 ms to 20-30 ms after a large queue was deleted; the kernel's MemoryReclaimer trims it.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { startTarget, isRabbit } = require('./lib/target');
const A = require('./lib/amqp');

const skip = isRabbit ? 'reads the Ferry broker process\'s memory' :
  process.platform !== 'linux' ? 'reads /proc/<pid>/status (Linux only)' : false;
const MiB = 1024 * 1024;
let t;
let s;

function residentBytes(pid) {
  const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find(l => l.startsWith('VmRSS:'));
  assert.ok(line, 'VmRSS in /proc/<pid>/status');
  return Number(line.replace(/[^0-9]/g, '')) * 1024;
}

before(async () => {
  if (skip) return;
  t = await startTarget();
  s = A.session(t);
});
after(async () => {
  if (s) await s.closeAll();
  if (t) await t.stop();
});

test('deleting a queue of 200k messages gives the memory back to the OS', { timeout: 120000, skip }, async () => {
  const pid = t.broker.pid;
  assert.ok(pid, 'broker pid');
  const ch = await A.channel(await s.connect(), { confirm: true });
  const q = A.name('memory');
  await ch.assertQueue(q, { durable: false });
  const before = residentBytes(pid);
  const body = Buffer.alloc(1024, 0x61);
  const count = 200000;
  for (let i = 0; i < count; i++) {
    if (!ch.sendToQueue(q, body)) await new Promise(resolve => ch.once('drain', resolve));
    if (i % 5000 === 4999) await ch.waitForConfirms();
  }
  await ch.waitForConfirms();
  assert.equal((await ch.checkQueue(q)).messageCount, count);
  const full = residentBytes(pid);
  assert.ok(full - before > 150 * MiB, `the queue holds its messages in memory (${before} -> ${full} bytes resident)`);

  await ch.deleteQueue(q);
  // The reclaimer looks once a second and waits for the count to settle: a few seconds at most.
  await A.waitFor(() => residentBytes(pid) < full - 120 * MiB, {
    timeoutMs: 15000, intervalMs: 250,
    message: `resident memory after the delete stays near ${full} bytes (was ${before} before the queue filled)`,
  });
});
