'use strict';
// librabbitmq's command-line tools (Debian's amqp-tools 0.11) against the target: amqp-declare-queue,
// amqp-publish (-b, -l, -p, -C, -H, -e/-r), amqp-get, amqp-consume (-c, -e/-r, running a command per message),
// amqp-delete-queue (--if-empty), and a refused login. Each round trip is cross-checked with amqplib.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFile, spawn } = require('node:child_process');
const { startTarget } = require('../lib/target');
const A = require('../lib/amqp');

let t;
let s;
let ch;

before(async () => {
  t = await startTarget();
  s = A.session(t);
  ch = await A.channel(await s.connect());
});
after(async () => {
  if (s) await s.closeAll();
  if (t) await t.stop();
});

// Runs one tool with the connection options; resolves {code, stdout, stderr} (never rejects on a non-zero exit).
function tool(name, args, { input, timeoutMs = 10000, user = 'guest', pass = 'guest' } = {}) {
  const conn = ['--server', t.host, '--port', String(t.port), '--username', user, '--password', pass];
  return new Promise((resolve, reject) => {
    const child = execFile(name, [...conn, ...args], { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') {
        if (err.killed) return resolve({ code: null, killed: true, stdout, stderr });
        return reject(err);
      }
      resolve({ code: err ? err.code : 0, stdout, stderr });
    });
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

const ok = (r, what) => assert.equal(r.code, 0, `${what}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);

test('amqp-declare-queue -d declares a durable queue and prints its name; "" gets a server-generated name', { timeout: 15000 }, async () => {
  const q = A.name('tools-durable');
  const r = await tool('amqp-declare-queue', ['-q', q, '-d']);
  ok(r, 'declare');
  assert.equal(r.stdout.trim(), q);
  await ch.assertQueue(q, { durable: true }); // equivalent: it is durable
  const gen = await tool('amqp-declare-queue', ['-q', '']);
  ok(gen, 'declare ""');
  assert.match(gen.stdout.trim(), /^amq\.gen-/);
  await ch.deleteQueue(q);
});

test('amqp-publish -p -C -H, then amqplib reads body, persistence, content-type and headers', { timeout: 15000 }, async () => {
  const q = A.name('tools-pub');
  await ch.assertQueue(q, { durable: true });
  const r = await tool('amqp-publish', ['-r', q, '-b', 'hello tools', '-p', '-C', 'text/plain', '-E', 'identity',
    '-H', 'k: v', '-H', 'other: two words', '-t', 'reply-here']);
  ok(r, 'publish');
  const m = await A.waitFor(() => ch.get(q, { noAck: true }), { message: 'the published message' });
  assert.equal(m.content.toString(), 'hello tools');
  assert.equal(m.properties.deliveryMode, 2);
  assert.equal(m.properties.contentType, 'text/plain');
  assert.equal(m.properties.contentEncoding, 'identity');
  assert.equal(m.properties.replyTo, 'reply-here');
  assert.equal(m.properties.headers.k, 'v');
  assert.equal(m.properties.headers.other, 'two words');
  assert.equal(m.fields.routingKey, q);
  await ch.deleteQueue(q);
});

test('amqp-publish -l sends one message per stdin line; amqp-get reads them in order, then exits 2 on an empty queue', { timeout: 20000 }, async () => {
  const q = A.name('tools-lines');
  ok(await tool('amqp-declare-queue', ['-q', q]), 'declare');
  ok(await tool('amqp-publish', ['-r', q, '-l'], { input: 'line one\nline two\nline three\n' }), 'publish -l');
  await A.waitFor(async () => (await ch.checkQueue(q)).messageCount === 3, { message: '3 messages' });
  const bodies = [];
  for (let i = 0; i < 3; i++) {
    const g = await tool('amqp-get', ['-q', q]);
    ok(g, `get ${i}`);
    bodies.push(g.stdout);
  }
  assert.deepEqual(bodies, ['line one\n', 'line two\n', 'line three\n'], 'each line, newline included');
  const empty = await tool('amqp-get', ['-q', q]);
  assert.equal(empty.code, 2, `amqp-get on an empty queue: exit ${empty.code} ${empty.stderr}`);
  assert.equal(empty.stdout, '');
  await ch.deleteQueue(q);
});

test('amqp-consume -c 3 runs its command once per message (body on stdin) and acks them', { timeout: 20000 }, async () => {
  const q = A.name('tools-consume');
  await ch.assertQueue(q, { durable: false });
  for (const b of ['c1', 'c2', 'c3', 'c4']) ch.sendToQueue(q, Buffer.from(`${b}\n`));
  await A.sleep(100);
  const r = await tool('amqp-consume', ['-q', q, '-c', '3', '-p', '1', 'cat']);
  ok(r, 'consume');
  assert.equal(r.stdout, 'c1\nc2\nc3\n');
  await A.sleep(200);
  const left = await A.drain(ch, q);
  assert.deepEqual(left.map(m => m.content.toString()), ['c4\n'], 'three consumed and acked, the fourth untouched');
  await ch.deleteQueue(q);
});

test('amqp-consume -e -r binds its own queue to an exchange; amqp-publish -e -r routes to it', { timeout: 20000 }, async () => {
  const ex = A.name('tools-ex');
  await ch.assertExchange(ex, 'direct', { durable: false });
  const child = spawn('amqp-consume', ['--server', t.host, '--port', String(t.port), '-e', ex, '-r', 'tools.key',
    '-c', '2', '-A', 'cat'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const killer = setTimeout(() => child.kill('SIGKILL'), 15000);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', d => { stdout += d; });
  child.stderr.on('data', d => { stderr += d; });
  const exited = new Promise(resolve => child.once('exit', code => { clearTimeout(killer); resolve(code); }));
  // It declares a server-named queue (and says so on stderr), binds it, then consumes: wait for its consumer.
  const queue = await A.waitFor(() => (/Server provided queue name: (\S+)/.exec(stderr) || [])[1], { message: () => `queue name on stderr: ${stderr}` });
  await A.waitFor(async () => {
    const c = await A.channel(ch.conn);
    const info = await c.checkQueue(queue);
    await c.close();
    return info.consumerCount === 1;
  }, { message: 'amqp-consume consuming' });
  ok(await tool('amqp-publish', ['-e', ex, '-r', 'other.key', '-b', 'unrouted\n']), 'publish other key');
  ok(await tool('amqp-publish', ['-e', ex, '-r', 'tools.key', '-b', 'routed 1\n']), 'publish');
  ok(await tool('amqp-publish', ['-e', ex, '-r', 'tools.key', '-b', 'routed 2\n']), 'publish');
  assert.equal(await exited, 0, `amqp-consume exit\nstderr: ${stderr}`);
  assert.equal(stdout, 'routed 1\nrouted 2\n');
  await ch.deleteExchange(ex);
});

test('amqp-delete-queue prints the message count; --if-empty refuses a non-empty queue (406)', { timeout: 15000 }, async () => {
  const q = A.name('tools-delete');
  ok(await tool('amqp-declare-queue', ['-q', q]), 'declare');
  ok(await tool('amqp-publish', ['-r', q, '-b', 'x']), 'publish');
  await A.sleep(100);
  const refused = await tool('amqp-delete-queue', ['-q', q, '--if-empty']);
  assert.notEqual(refused.code, 0, 'if-empty on a non-empty queue fails');
  assert.match(refused.stderr, /406.*PRECONDITION_FAILED - queue '.*' in vhost '\/' not empty/);
  const del = await tool('amqp-delete-queue', ['-q', q]);
  ok(del, 'delete');
  assert.equal(del.stdout.trim(), '1');
  await assert.rejects(A.channel(ch.conn).then(c => c.checkQueue(q)), /404/);
  const missing = await tool('amqp-get', ['-q', q]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /404.*NOT_FOUND - no queue/);
});

test('a wrong password: the tools exit non-zero with 403 ACCESS_REFUSED', { timeout: 10000 }, async () => {
  const r = await tool('amqp-get', ['-q', 'whatever'], { pass: 'wrong' });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /403.*ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN/);
});
