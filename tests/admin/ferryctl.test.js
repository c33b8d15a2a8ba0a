'use strict';
// ferryctl (broker/app/ferryctl/README.md) as a child process against a real ferry-broker, with amqplib producing
// traffic: every verb whose endpoint exists, the table and --json output, the exit codes (1 API error, 2 usage,
// 3 unreachable), and the flag > environment > config file > default precedence.
//
// FERRYCTL is the ferryctl binary (CTest sets it when the ferryctl target exists), FERRY_BROKER the broker's. Without
// FERRYCTL every test fails: a missing client is a failure, not a skip.
//
// Not covered here (their endpoints are not in the broker yet): consumer-groups, consumer-group, reset-offset,
// export-definitions, import-definitions, delete-user, delete-vhost.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { execFile } = require('node:child_process');
const amqp = require('amqplib');
const { startBroker } = require('../rocket/lib/broker');

const FERRYCTL = process.env.FERRYCTL;
const enc = encodeURIComponent;
const sleep = ms => new Promise(r => setTimeout(r, ms));

let broker;
let base;
// A config home of our own: the user's ~/.config/ferry/ferryctl.conf must not leak into the tests.
const configHome = fs.mkdtempSync(path.join(os.tmpdir(), 'ferryctl-home-'));

before(async () => {
  broker = await startBroker({ set: { 'amqp.listen': '127.0.0.1:0', 'auth.users': 'ctl-plain:plainpw' } });
  base = `http://${broker.listeners['admin.listen']}`;
});
after(async () => {
  if (broker) await broker.stop();
  fs.rmSync(configHome, { recursive: true, force: true });
});

// Runs ferryctl; resolves {code, stdout, stderr}. env: extra variables (null removes one); FERRY_URL is the test
// broker unless env sets it (null: unset).
function ctl(args, { env = {} } = {}) {
  if (!FERRYCTL) {
    throw new Error('FERRYCTL is not set: export FERRYCTL=/path/to/ferryctl (CTest sets it when the ferryctl target ' +
      'is built)');
  }
  const full = { ...process.env, HOME: configHome, XDG_CONFIG_HOME: configHome, FERRY_URL: base };
  for (const k of ['FERRY_USER', 'FERRY_PASSWORD', 'FERRYCTL_CONFIG']) delete full[k];
  for (const [k, v] of Object.entries(env)) {
    if (v === null) delete full[k];
    else full[k] = v;
  }
  return new Promise(resolve => {
    execFile(FERRYCTL, args, { env: full, timeout: 60000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : `spawn error: ${err.message}`) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

// ferryctl that must succeed; resolves its stdout.
async function ok(args, opts) {
  const r = await ctl(args, opts);
  assert.equal(r.code, 0, `ferryctl ${args.join(' ')} -> ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}

// ferryctl that must fail with `code`; resolves {stdout, stderr}.
async function fails(args, code, opts) {
  const r = await ctl(args, opts);
  assert.equal(r.code, code, `ferryctl ${args.join(' ')}: exit ${r.code}, expected ${code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

// A table as ferryctl prints it (up to the first empty line): the header's words give the columns, each starting
// where its header starts.
function parseTable(text) {
  const end = text.indexOf('\n\n');
  const lines = (end >= 0 ? text.slice(0, end) : text).split('\n').filter(l => l.length > 0);
  assert.ok(lines.length >= 1, `no table in ${JSON.stringify(text)}`);
  const header = lines[0];
  const starts = [...header.matchAll(/\S+/g)].map(m => ({ name: m[0], at: m.index }));
  assert.ok(starts.length > 0 && starts.every(s => s.name === s.name.toUpperCase()), `header not upper case: ${header}`);
  const rows = lines.slice(1).map(line => {
    const row = {};
    starts.forEach((s, i) => {
      const end = i + 1 < starts.length ? starts[i + 1].at : undefined;
      // a cell is aligned under its header: the two characters before the next column are padding
      row[s.name] = line.slice(s.at, end).trimEnd();
    });
    return row;
  });
  return { columns: starts.map(s => s.name), rows };
}

async function api(method, p, body) {
  const res = await fetch(base + p, {
    method,
    headers: { authorization: 'Basic ' + Buffer.from('guest:guest').toString('base64'), ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text && (res.headers.get('content-type') || '').startsWith('application/json') ? JSON.parse(text) : null };
}

const amqpUrl = (user = 'guest', pw = 'guest', vhost = '') => `amqp://${user}:${pw}@${broker.listeners['amqp.listen']}/${vhost}`;

async function withChannel(fn, url = amqpUrl()) {
  const conn = await amqp.connect(url);
  try {
    const ch = await conn.createConfirmChannel();
    return await fn(ch, conn);
  } finally {
    await conn.close().catch(() => {});
  }
}

async function until(what, fn, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last.done) return last.value;
    if (Date.now() > deadline) assert.fail(`${what}: not within ${timeoutMs} ms; last: ${JSON.stringify(last.value)}`);
    await sleep(100);
  }
}

test('FERRYCTL runs: --help lists every verb; help VERB shows its usage and request; unknown help topics are usage errors', async () => {
  const help = await ok(['--help']);
  const verbs = ['overview', 'metrics', 'list-vhosts', 'add-vhost', 'delete-vhost', 'list-queues', 'declare-queue',
    'delete-queue', 'purge-queue', 'list-exchanges', 'declare-exchange', 'delete-exchange', 'list-bindings', 'bind',
    'unbind', 'list-users', 'add-user', 'delete-user', 'list-permissions', 'set-permissions', 'list-connections',
    'close-connection', 'browse', 'browse-topic', 'publish', 'publish-topic', 'resend', 'dlq list', 'dlq browse',
    'dlq resend', 'dlq export', 'consumer-groups', 'consumer-group', 'reset-offset', 'list-topics', 'create-topic',
    'update-topic', 'delete-topic', 'topic-status', 'export-definitions', 'import-definitions', 'replication status',
    'replication promote', 'replication follow'];
  for (const v of verbs) assert.match(help, new RegExp(`^  ${v.replace(/ /g, ' ')}( |$)`, 'm'), `--help lists ${v}`);
  for (const f of ['--url', '--user', '--password', '--json', '--config', '--vhost', 'FERRY_URL', 'FERRYCTL_CONFIG']) {
    assert.ok(help.includes(f), `--help mentions ${f}`);
  }
  const one = await ok(['help', 'declare-queue']);
  assert.match(one, /^usage: ferryctl declare-queue NAME /);
  assert.match(one, /request: PUT \/api\/v1\/queues\/\{vhost\}\/\{name\}/);
  assert.match(one, /--arg key=value/);
  assert.match(await ok(['help', 'dlq', 'export']), /GET \/api\/v1\/dead-letters\/\{kind\}\/\{name\}\/export/);
  assert.match(await ok(['purge-queue', '--help']), /^usage: ferryctl purge-queue NAME/);
  const r = await fails(['help', 'no-such-verb'], 2);
  assert.match(r.stderr, /unknown verb 'no-such-verb'/);
});

test('list-queues: an aligned table with the depth amqplib leaves (ready, unacked, consumers); --json parses; VHOST filters', async () => {
  const conn = await amqp.connect(amqpUrl());
  try {
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue('ctl-depth', { durable: true });
    for (let i = 0; i < 5; i++) ch.sendToQueue('ctl-depth', Buffer.from(`d${i}`), { persistent: true });
    await ch.waitForConfirms();
    const consumer = await conn.createChannel();
    await consumer.prefetch(2);
    await consumer.consume('ctl-depth', () => {}, { noAck: false }); // holds 2 unacked
    const row = await until('2 unacked in list-queues', async () => {
      const t = parseTable(await ok(['list-queues']));
      assert.deepEqual(t.columns, ['NAME', 'VHOST', 'MESSAGES', 'READY', 'UNACKED', 'CONSUMERS']);
      const mine = t.rows.find(x => x.NAME === 'ctl-depth');
      return { done: mine && mine.UNACKED === '2', value: mine };
    });
    assert.deepEqual(row, { NAME: 'ctl-depth', VHOST: '/', MESSAGES: '5', READY: '3', UNACKED: '2', CONSUMERS: '1' });
    // the header line itself, as a user sees it
    const out = await ok(['list-queues', '/']);
    assert.match(out.split('\n')[0], /^NAME +VHOST  MESSAGES  READY  UNACKED  CONSUMERS$/);
    assert.match(out, /^ctl-depth +\/ +5 +3 +2 +1$/m);
    const json = JSON.parse(await ok(['list-queues', '--json']));
    assert.ok(Array.isArray(json));
    const q = json.find(x => x.name === 'ctl-depth');
    assert.equal(q.messages_unacknowledged, 2);
    assert.equal(q.consumers, 1);
    assert.equal(q.durable, true);
  } finally {
    await conn.close();
  }
  await ok(['add-vhost', 'ctl-empty']);
  assert.deepEqual(parseTable(await ok(['list-queues', 'ctl-empty'])).rows, [], 'a vhost without queues: only the header');
  assert.deepEqual(parseTable(await ok(['list-queues', '--vhost', 'ctl-empty'])).rows, [], '--vhost filters too');
});

test('overview: key/value lines with sections; --json has the fields', async () => {
  const out = await ok(['overview']);
  assert.match(out, /^product_name +Ferry$/m);
  assert.match(out, /^role +ASYNC_MASTER$/m);
  assert.match(out, /^object_totals\.queues +\d+$/m);
  const plugins = parseTable(out.slice(out.indexOf('plugins:\n') + 'plugins:\n'.length));
  assert.ok(plugins.rows.some(p => p.NAME === 'amqp' && p.KIND === 'protocol'), JSON.stringify(plugins.rows));
  const listeners = out.slice(out.indexOf('listeners:\n'));
  assert.ok(listeners.includes(broker.listeners['admin.listen']));
  const json = JSON.parse(await ok(['overview', '--json']));
  assert.equal(json.product_name, 'Ferry');
  assert.equal(json.role, 'ASYNC_MASTER');
  assert.ok(json.listeners.some(l => l.key === 'admin.listen' && l.address === broker.listeners['admin.listen']));
});

test('declare-queue: --arg values as numbers (x-max-length holds for amqplib), equivalence, --durable; purge-queue; delete-queue with --if-empty', async () => {
  let out = await ok(['declare-queue', 'ctl-args', '--arg', 'x-max-length=2', '--arg', 'x-overflow=reject-publish']);
  assert.equal(out, "declared queue 'ctl-args' in vhost '/'\n");
  let q = (await api('GET', `/api/v1/queues/${enc('/')}/ctl-args`)).body;
  assert.deepEqual(q.arguments, { 'x-max-length': 2, 'x-overflow': 'reject-publish' }, 'numbers sent as numbers');
  assert.equal(q.durable, true, 'durable by default');
  const results = await withChannel(async ch => Promise.all([0, 1, 2].map(i => new Promise(res =>
    ch.sendToQueue('ctl-args', Buffer.from(`${i}`), { persistent: true }, err => res(!err))))));
  assert.deepEqual(results, [true, true, false], 'x-max-length 2 with reject-publish');
  out = await ok(['declare-queue', 'ctl-args', '--arg=x-max-length=2', '--arg', 'x-overflow=reject-publish']);
  assert.match(out, /declared queue 'ctl-args' in vhost '\/' \(an equal one existed\)/);
  let r = await fails(['declare-queue', 'ctl-args', '--arg', 'x-max-length=5'], 1);
  assert.match(r.stderr, /^ferryctl: 400 precondition_failed: /);
  r = await fails(['delete-queue', 'ctl-args', '--if-empty'], 1);
  assert.match(r.stderr, /^ferryctl: 400 precondition_failed: /);
  assert.equal(await ok(['purge-queue', 'ctl-args']), "purged queue 'ctl-args' in vhost '/'\n");
  q = (await api('GET', `/api/v1/queues/${enc('/')}/ctl-args`)).body;
  assert.equal(q.messages, 0);
  assert.equal(await ok(['delete-queue', 'ctl-args', '--if-empty', '--if-unused']), "deleted queue 'ctl-args' in vhost '/'\n");
  assert.equal((await api('GET', `/api/v1/queues/${enc('/')}/ctl-args`)).status, 404);
  r = await fails(['delete-queue', 'ctl-args'], 1);
  assert.match(r.stderr, /^ferryctl: 404 not_found: /);

  await ok(['declare-queue', 'ctl-transient', '--durable', 'false', '--arg', 'x-message-ttl=60000']);
  q = (await api('GET', `/api/v1/queues/${enc('/')}/ctl-transient`)).body;
  assert.equal(q.durable, false);
  assert.equal(q.arguments['x-message-ttl'], 60000);
  r = await fails(['declare-queue', 'ctl-x', '--durable', 'maybe'], 2);
  assert.match(r.stderr, /--durable must be true or false/);
  r = await fails(['declare-queue', 'ctl-x', '--arg', 'novalue'], 2);
  assert.match(r.stderr, /--arg needs key=value/);
  r = await fails(['declare-queue', 'ctl-x', '--arg', 'x-no-such=1'], 1);
  assert.match(r.stderr, /^ferryctl: 400 bad_request: .*x-no-such/);
});

test('path segments are percent-encoded: a vhost and a queue with / space ? # in their names', async () => {
  assert.equal(await ok(['add-vhost', 'ctl/v x']), "added vhost 'ctl/v x'\n");
  assert.equal(await ok(['add-vhost', 'ctl/v x']), "vhost 'ctl/v x' exists\n");
  assert.ok(parseTable(await ok(['list-vhosts'])).rows.some(v => v.NAME === 'ctl/v x'));
  await ok(['declare-queue', '--vhost', 'ctl/v x', 'q/a b?#']);
  const r = await api('GET', `/api/v1/queues/${enc('ctl/v x')}/${enc('q/a b?#')}`);
  assert.equal(r.status, 200);
  assert.equal(r.body.name, 'q/a b?#');
  assert.equal(r.body.vhost, 'ctl/v x');
  const rows = parseTable(await ok(['list-queues', 'ctl/v x'])).rows;
  assert.deepEqual(rows.map(x => [x.NAME, x.VHOST]), [['q/a b?#', 'ctl/v x']]);
  await ok(['delete-queue', 'q/a b?#', '--vhost=ctl/v x']);
  assert.equal((await api('GET', `/api/v1/queues/${enc('ctl/v x')}/${enc('q/a b?#')}`)).status, 404);
});

test('exchanges and bindings: declared and bound by ferryctl, routing amqplib\'s publishes; unbound, they stop', async () => {
  assert.equal(await ok(['declare-exchange', 'ctl-x', 'topic']), "declared topic exchange 'ctl-x' in vhost '/'\n");
  let rows = parseTable(await ok(['list-exchanges', '/'])).rows;
  assert.deepEqual(rows.find(e => e.NAME === 'ctl-x'),
    { NAME: 'ctl-x', VHOST: '/', TYPE: 'topic', DURABLE: 'true', AUTO_DELETE: 'false', INTERNAL: 'false' });
  assert.ok(rows.some(e => e.NAME === '(default)'), 'the default exchange is named');
  await ok(['declare-exchange', 'ctl-x-int', 'fanout', '--internal', '--durable', 'false']);
  const xi = (await api('GET', `/api/v1/exchanges/${enc('/')}/ctl-x-int`)).body;
  assert.equal(xi.internal, true);
  assert.equal(xi.durable, false);
  await ok(['declare-queue', 'ctl-bq']);
  assert.equal(await ok(['bind', 'ctl-x', 'ctl-bq', 'a.*']),
    "bound queue 'ctl-bq' to exchange 'ctl-x' with routing key 'a.*' in vhost '/'\n");
  await ok(['bind', 'ctl-x', 'ctl-x-int', '#', '--to-exchange']);
  rows = parseTable(await ok(['list-bindings'])).rows.filter(b => b.SOURCE === 'ctl-x');
  assert.deepEqual(rows.map(b => [b.DESTINATION, b.DESTINATION_TYPE, b.ROUTING_KEY, b.VHOST]).sort(),
    [['ctl-bq', 'queue', 'a.*', '/'], ['ctl-x-int', 'exchange', '#', '/']]);
  const json = JSON.parse(await ok(['list-bindings', '/', '--json']));
  assert.ok(json.some(b => b.source === 'ctl-x' && b.properties_key === 'a.*'));
  const publish = key => withChannel(async ch => { ch.publish('ctl-x', key, Buffer.from(key), { persistent: true }); await ch.waitForConfirms(); });
  await publish('a.b');
  await publish('b.b');
  assert.equal((await api('GET', `/api/v1/queues/${enc('/')}/ctl-bq`)).body.messages, 1, 'only a.* is routed');
  let r = await fails(['delete-exchange', 'ctl-x', '--if-unused'], 1);
  assert.match(r.stderr, /^ferryctl: 400 precondition_failed: /);
  assert.match(await ok(['unbind', 'ctl-x', 'ctl-bq', 'a.*']), /^unbound queue 'ctl-bq' from exchange 'ctl-x'/);
  await publish('a.c');
  assert.equal((await api('GET', `/api/v1/queues/${enc('/')}/ctl-bq`)).body.messages, 1, 'unbound: no more');
  r = await fails(['unbind', 'ctl-x', 'ctl-bq', 'a.*'], 1);
  assert.match(r.stderr, /^ferryctl: 404 not_found: /);
  await ok(['unbind', 'ctl-x', 'ctl-x-int', '#', '--to-exchange']);
  // an empty routing key is the properties key "~"
  await ok(['bind', 'ctl-x', 'ctl-bq']);
  assert.ok((await api('GET', '/api/v1/bindings')).body.some(b => b.source === 'ctl-x' && b.routing_key === ''));
  await ok(['unbind', 'ctl-x', 'ctl-bq', '']);
  assert.ok(!(await api('GET', '/api/v1/bindings')).body.some(b => b.source === 'ctl-x'));
  r = await fails(['delete-exchange', 'amq.direct'], 1);
  assert.match(r.stderr, /^ferryctl: 403 access_refused: /);
  assert.equal(await ok(['delete-exchange', 'ctl-x', '--if-unused']), "deleted exchange 'ctl-x' in vhost '/'\n");
  await ok(['delete-exchange', 'ctl-x-int']);
  assert.equal((await api('GET', `/api/v1/exchanges/${enc('/')}/ctl-x`)).status, 404);
});

test('vhosts, users and permissions: what ferryctl sets, an amqplib client uses; the tags decide what a user may do', async () => {
  await ok(['add-vhost', 'ctl-v']);
  assert.equal(await ok(['add-user', 'ctl-alice', 'alicepw', '--tags', 'management']), "added user 'ctl-alice'\n");
  assert.equal(await ok(['add-user', 'ctl-alice', 'alicepw2', '--tags', 'management,monitoring']), "updated user 'ctl-alice'\n");
  const users = parseTable(await ok(['list-users'])).rows;
  assert.deepEqual(users.find(u => u.NAME === 'ctl-alice'), { NAME: 'ctl-alice', TAGS: 'management,monitoring' });
  assert.ok(users.some(u => u.NAME === 'guest' && u.TAGS === 'administrator'));
  await assert.rejects(amqp.connect(amqpUrl('ctl-alice', 'alicepw2', 'ctl-v')), /ConnectionClose|ACCESS_REFUSED/, 'no permission yet');
  assert.equal(await ok(['set-permissions', '--vhost', 'ctl-v', 'ctl-alice', '^ctl-.*', '.*', '.*']),
    "set permissions of user 'ctl-alice' in vhost 'ctl-v'\n");
  const perms = parseTable(await ok(['list-permissions'])).rows;
  assert.deepEqual(perms.find(p => p.USER === 'ctl-alice'), { USER: 'ctl-alice', VHOST: 'ctl-v', CONFIGURE: '^ctl-.*', WRITE: '.*', READ: '.*' });
  await withChannel(async ch => {
    await ch.assertQueue('ctl-in-v', { durable: true });
    ch.sendToQueue('ctl-in-v', Buffer.from('x'), { persistent: true });
    await ch.waitForConfirms();
  }, amqpUrl('ctl-alice', 'alicepw2', 'ctl-v'));
  const rows = parseTable(await ok(['list-queues', 'ctl-v'])).rows;
  assert.deepEqual(rows.map(x => [x.NAME, x.MESSAGES]), [['ctl-in-v', '1']]);
  // the same user through ferryctl: management may list its vhost's queues, not the users
  const asAlice = ['--user', 'ctl-alice', '--password', 'alicepw2'];
  assert.ok(parseTable(await ok([...asAlice, 'list-queues', 'ctl-v'])).rows.some(x => x.NAME === 'ctl-in-v'));
  let r = await fails([...asAlice, 'list-users'], 1);
  assert.match(r.stderr, /^ferryctl: 403 not_authorised: /);
  r = await fails(['--user', 'ctl-plain', '--password', 'plainpw', 'list-queues'], 1);
  assert.match(r.stderr, /^ferryctl: 403 not_authorised: /, 'a user without tags may do nothing');
  r = await fails(['set-permissions', '--vhost', 'ctl-v', 'ctl-alice', '(', '.*', '.*'], 1);
  assert.match(r.stderr, /^ferryctl: 400 /, 'a bad regular expression');
});

test('topics: create-topic, list-topics, topic-status per queue, update-topic (never creates), delete-topic', async () => {
  assert.equal(await ok(['create-topic', 'CtlTopic', '--read-queues', '4', '--write-queues', '4']), "created topic 'CtlTopic'\n");
  const row = parseTable(await ok(['list-topics'])).rows.find(t => t.NAME === 'CtlTopic');
  assert.deepEqual(row, { NAME: 'CtlTopic', READ_QUEUES: '4', WRITE_QUEUES: '4', PERM: '6', MESSAGES: '0' });
  const status = parseTable(await ok(['topic-status', 'CtlTopic']));
  assert.deepEqual(status.columns, ['QUEUE_ID', 'MIN_OFFSET', 'MAX_OFFSET', 'MESSAGES']);
  assert.deepEqual(status.rows.map(x => [x.QUEUE_ID, x.MIN_OFFSET, x.MAX_OFFSET, x.MESSAGES]),
    [0, 1, 2, 3].map(i => [`${i}`, '0', '0', '0']));
  assert.equal(JSON.parse(await ok(['topic-status', 'CtlTopic', '--json'])).queues.length, 4);
  assert.equal(await ok(['update-topic', 'CtlTopic', '--write-queues', '2', '--perm', '4']), "updated topic 'CtlTopic'\n");
  const t = (await api('GET', '/api/v1/topics/CtlTopic')).body;
  assert.deepEqual([t.read_queue_nums, t.write_queue_nums, t.perm], [4, 2, 4]);
  assert.equal(await ok(['create-topic', 'CtlTopic', '--perm', '6']), "topic 'CtlTopic' existed: updated\n");
  let r = await fails(['update-topic', 'CtlNoTopic', '--perm', '4'], 1);
  assert.match(r.stderr, /^ferryctl: 404 not_found: /);
  assert.equal((await api('GET', '/api/v1/topics/CtlNoTopic')).status, 404, 'update-topic did not create it');
  r = await fails(['create-topic', 'CtlBad', '--read-queues', 'many'], 2);
  assert.match(r.stderr, /--read-queues must be an integer/);
  r = await fails(['create-topic', 'CtlBad', '--read-queues', '0'], 1);
  assert.match(r.stderr, /^ferryctl: 400 /);
  assert.equal(await ok(['delete-topic', 'CtlTopic']), "deleted topic 'CtlTopic'\n");
  r = await fails(['topic-status', 'CtlTopic'], 1);
  assert.match(r.stderr, /^ferryctl: 404 not_found: /);
});

test('messages: publish (routed or not), browse pages without consuming, resend with a result per message', async () => {
  await ok(['declare-queue', 'ctl-m']);
  await ok(['declare-queue', 'ctl-m2']);
  assert.equal(await ok(['publish', '', 'ctl-m', 'hello']),
    "published to exchange 'amq.default' in vhost '/' with routing key 'ctl-m': routed\n");
  await ok(['publish', 'amq.default', 'ctl-m', 'line one\nline two']);
  assert.match(await ok(['publish', 'amq.direct', 'ctl-nowhere', 'x']), /: not routed/);
  let r = await fails(['publish', 'ctl-no-exchange', 'k', 'x'], 1);
  assert.match(r.stderr, /^ferryctl: 404 not_found: /);
  const t = parseTable(await ok(['browse', 'ctl-m']));
  assert.deepEqual(t.columns, ['OFFSET', 'ID', 'EXCHANGE', 'ROUTING_KEY', 'BYTES', 'STORE_TIME', 'PAYLOAD']);
  assert.deepEqual(t.rows.map(m => [m.OFFSET, m.ROUTING_KEY, m.BYTES, m.PAYLOAD]),
    [['0', 'ctl-m', '5', 'hello'], ['1', 'ctl-m', '17', 'line one\\nline two']]);
  assert.match(t.rows[0].STORE_TIME, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.match(await ok(['browse', 'ctl-m']), /^next offset: 2$/m);
  const page = JSON.parse(await ok(['browse', 'ctl-m', '--offset', '1', '--count', '1', '--json']));
  assert.deepEqual(page.messages.map(m => [m.offset, m.payload]), [[1, 'line one\nline two']]);
  assert.equal(page.next_offset, 2);
  r = await fails(['browse', 'ctl-m', '--count', 'lots'], 2);
  assert.match(r.stderr, /--count must be an integer/);
  r = await fails(['browse', 'ctl-m', '--count', '0'], 1);
  assert.match(r.stderr, /^ferryctl: 400 bad_request: /);

  // resend to the message's own exchange and routing key, then elsewhere; 99 does not exist: exit 1
  let out = await ok(['resend', '--from-queue', 'ctl-m', '0']);
  assert.deepEqual(parseTable(out).rows.map(x => [x.OFFSET, x.OK]), [['0', 'true']]);
  assert.equal((await api('GET', `/api/v1/queues/${enc('/')}/ctl-m`)).body.messages, 3, 'a copy, the source keeps its own');
  await ok(['bind', 'amq.direct', 'ctl-m2', 'ctl-m2']);
  r = await fails(['resend', '--from-queue', 'ctl-m', '1,99', '--to-exchange', 'amq.direct', '--routing-key', 'ctl-m2'], 1);
  const rows = parseTable(r.stdout).rows;
  assert.deepEqual(rows.map(x => [x.OFFSET, x.OK]), [['1', 'true'], ['99', 'false']]);
  assert.notEqual(rows[1].ERROR, '');
  assert.match(r.stderr, /^ferryctl: 1 of 2 messages were not resent$/m);
  out = await ok(['resend', '--from-queue', 'ctl-m', '1', '--to-exchange', 'amq.direct', '--routing-key', 'ctl-m2', '--json']);
  assert.equal(JSON.parse(out).results[0].ok, true);
  const got = await withChannel(async ch => [await ch.get('ctl-m2', { noAck: true }), await ch.get('ctl-m2', { noAck: true })]);
  assert.deepEqual(got.map(m => m && m.content.toString()), ['line one\nline two', 'line one\nline two'], 'amqplib gets the resent copies');
  r = await fails(['resend', '--from-queue', 'ctl-m'], 2);
  r = await fails(['resend', '0'], 2);
  assert.match(r.stderr, /--from-queue/);
  r = await fails(['resend', '--from-queue', 'ctl-m', '0', '--routing-key', 'k'], 2);
});

test('dead letters: a queue\'s expired messages in dlq list, browse, export (csv, json to a file) and resend', async () => {
  await ok(['declare-queue', 'ctl-dlq']);
  await ok(['declare-queue', 'ctl-dying', '--arg', 'x-dead-letter-exchange=', '--arg', 'x-dead-letter-routing-key=ctl-dlq',
    '--arg', 'x-message-ttl=1']);
  await withChannel(async ch => {
    ch.sendToQueue('ctl-dying', Buffer.from('to die'), { persistent: true });
    await ch.waitForConfirms();
  });
  const row = await until('ctl-dlq in dlq list with 1 message', async () => {
    const mine = parseTable(await ok(['dlq', 'list'])).rows.find(d => d.NAME === 'ctl-dlq');
    return { done: mine && mine.MESSAGES === '1', value: mine };
  });
  assert.deepEqual(row, { KIND: 'amqp', NAME: 'ctl-dlq', VHOST: '/', MESSAGES: '1', FROM: 'ctl-dying' });
  const b = parseTable(await ok(['dlq', 'browse', 'amqp', 'ctl-dlq']));
  assert.deepEqual(b.rows.map(m => [m.OFFSET, m.FROM, m.REASON, m.PAYLOAD]), [['0', 'ctl-dying', 'expired', 'to die']]);
  const csv = await ok(['dlq', 'export', 'amqp', 'ctl-dlq', '--format', 'csv']);
  assert.match(csv, /^offset,id,/);
  assert.match(csv, /\r\n0,[0-9A-F]+,\d+,ctl-dlq,,,ctl-dying,expired,string,to die\r\n$/);
  const file = path.join(configHome, 'dlq.json');
  assert.match(await ok(['dlq', 'export', 'amqp', 'ctl-dlq', '--output', file]), /^exported \d+ bytes to /);
  const exported = JSON.parse(fs.readFileSync(file, 'utf8'));
  assert.deepEqual(exported.map(m => m.payload), ['to die']);
  const resent = parseTable(await ok(['dlq', 'resend', 'amqp', 'ctl-dlq', '--all']));
  assert.deepEqual(resent.rows.map(x => [x.OFFSET, x.OK]), [['0', 'true']]);
  assert.match(resent.rows[0].DESTINATION, /ctl-dying/, 'back to the queue it died in');
  // it dies again (ttl 1 ms) and comes back: two now
  await until('the resent message dead-lettered again', async () => {
    const mine = parseTable(await ok(['dlq', 'list'])).rows.find(d => d.NAME === 'ctl-dlq');
    return { done: mine && mine.MESSAGES === '2', value: mine };
  });
  assert.equal(JSON.parse(await ok(['dlq', 'resend', 'amqp', 'ctl-dlq', '0', '--json'])).results[0].ok, true);
  let r = await fails(['dlq', 'resend', 'amqp', 'ctl-dlq'], 2);
  assert.match(r.stderr, /offsets or --all/);
  r = await fails(['dlq', 'browse', 'kafka', 'x'], 2);
  assert.match(r.stderr, /KIND must be amqp or rocketmq/);
  r = await fails(['dlq', 'browse', 'amqp', 'ctl-m2'], 1);
  assert.match(r.stderr, /^ferryctl: 404 not_found: /, 'not a dead-letter queue');
  r = await fails(['dlq', 'export', 'amqp', 'ctl-dlq', '--format', 'xml'], 2);
  r = await fails(['dlq'], 2);
  assert.match(r.stderr, /'dlq' needs one of: list, browse, resend, export/);
});

test('RocketMQ topics: publish-topic, then browse-topic shows the message with its tags and keys', async () => {
  await ok(['create-topic', 'CtlMsgTopic', '--read-queues', '1', '--write-queues', '1']);
  assert.match(await ok(['publish-topic', 'CtlMsgTopic', 'hello rocket', '--tags', 'TagA', '--keys', 'k1']),
    /^published to topic 'CtlMsgTopic'/);
  const t = parseTable(await ok(['browse-topic', 'CtlMsgTopic', '--queue-id', '0']));
  assert.deepEqual(t.rows.map(m => [m.OFFSET, m.TAGS, m.KEYS, m.BODY]), [['0', 'TagA', 'k1', 'hello rocket']]);
  const json = JSON.parse(await ok(['browse-topic', 'CtlMsgTopic', '--queue-id', '0', '--count', '5', '--json']));
  assert.equal(json.messages[0].payload, 'hello rocket');
  let r = await fails(['browse-topic', 'CtlMsgTopic'], 2);
  assert.match(r.stderr, /--queue-id/);
  r = await fails(['publish-topic', 'CtlNoSuchTopic', 'x'], 1);
  assert.match(r.stderr, /^ferryctl: 404 not_found: /);
});

test('connections: list-connections shows amqplib\'s connection with its user and port; close-connection closes it', async () => {
  const conn = await amqp.connect(amqpUrl());
  const closed = new Promise(resolve => conn.once('close', () => resolve(true)));
  conn.on('error', () => {}); // the forced close is reported as an error too
  try {
    const port = conn.connection.stream.localPort;
    const t = parseTable(await ok(['list-connections']));
    assert.deepEqual(t.columns, ['NAME', 'PROTOCOL', 'USER', 'VHOST', 'PEER_HOST', 'PEER_PORT', 'CONNECTED_AT', 'RECV_OCT', 'SEND_OCT']);
    const row = t.rows.find(x => x.PROTOCOL === 'amqp' && x.PEER_PORT === `${port}`);
    assert.ok(row, `amqplib's connection (port ${port}) in ${JSON.stringify(t.rows)}`);
    assert.equal(row.USER, 'guest');
    assert.equal(row.VHOST, '/');
    assert.equal(row.PEER_HOST, '127.0.0.1');
    assert.match(row.CONNECTED_AT, /^\d{4}-\d\d-\d\dT/);
    assert.ok(Number(row.RECV_OCT) > 0);
    const json = JSON.parse(await ok(['list-connections', '--json'])).find(x => x.peer_port === port);
    assert.equal(json.name, row.NAME);
    assert.equal(await ok(['close-connection', row.NAME]), `closed connection '${row.NAME}'\n`);
    const result = await Promise.race([closed, sleep(5000).then(() => false)]);
    assert.equal(result, true, 'amqplib saw its connection closed');
    assert.ok(!parseTable(await ok(['list-connections'])).rows.some(x => x.NAME === row.NAME), 'gone from the list');
    const r = await fails(['close-connection', row.NAME], 1);
    assert.match(r.stderr, /^ferryctl: 404 not_found: /);
  } finally {
    await conn.close().catch(() => {});
  }
});

test('replication status, promote and follow; metrics as Prometheus text', async () => {
  const out = await ok(['replication', 'status']);
  assert.match(out, /^role +ASYNC_MASTER$/m);
  assert.match(out, /^slaves +\(none\)$/m);
  assert.equal(JSON.parse(await ok(['replication', 'status', '--json'])).role, 'ASYNC_MASTER');
  let r = await fails(['replication', 'promote', '--role', 'SYNC_MASTER'], 1);
  assert.match(r.stderr, /^ferryctl: 400 bad_request: .*already a master/);
  r = await fails(['replication', 'follow', 'nonsense'], 1);
  assert.match(r.stderr, /^ferryctl: 400 bad_request: /);
  r = await fails(['replication'], 2);
  assert.match(r.stderr, /needs one of: status, promote, follow/);

  await withChannel(async ch => {
    await ch.assertQueue('ctl-metrics', { durable: true });
    for (let i = 0; i < 3; i++) ch.sendToQueue('ctl-metrics', Buffer.from('m'), { persistent: true });
    await ch.waitForConfirms();
  });
  const metrics = await ok(['metrics']);
  assert.match(metrics, /^# TYPE ferry_queue_messages gauge$/m);
  assert.match(metrics, /^ferry_queue_messages\{vhost="\/",queue="ctl-metrics"\} 3$/m);
});

test('exit codes: 1 with the API\'s status and error, 2 for bad usage, 3 for an unreachable broker', async () => {
  let r = await fails(['--password', 'wrong', 'overview'], 1);
  assert.match(r.stderr, /^ferryctl: 401 not_authorised: .+/);
  assert.equal(r.stdout, '');
  r = await fails(['delete-queue', 'ctl-no-such-queue'], 1);
  assert.match(r.stderr, /^ferryctl: 404 not_found: no queue 'ctl-no-such-queue'/);
  r = await fails(['frobnicate'], 2);
  assert.match(r.stderr, /^ferryctl: unknown verb 'frobnicate'\nusage: ferryctl /);
  r = await fails([], 2);
  assert.match(r.stderr, /^ferryctl: no verb given\nusage: /);
  r = await fails(['declare-queue'], 2);
  assert.match(r.stderr, /^ferryctl: 'declare-queue' needs more arguments\nusage: ferryctl declare-queue NAME/);
  r = await fails(['add-vhost', 'a', 'b'], 2);
  assert.match(r.stderr, /too many arguments/);
  r = await fails(['list-queues', '--bogus'], 2);
  assert.match(r.stderr, /unknown option '--bogus' for 'list-queues'/);
  r = await fails(['--if-unused', 'delete-queue', 'x'], 2); // a verb's option before the verb
  assert.match(r.stderr, /unknown option '--if-unused'/);
  r = await fails(['overview', '--url'], 2);
  assert.match(r.stderr, /'--url' needs a value/);
  r = await fails(['list-users', '--json=yes'], 2);

  const closed = await new Promise(resolve => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
  r = await fails(['--url', `http://127.0.0.1:${closed}`, 'overview'], 3);
  assert.match(r.stderr, new RegExp(`^ferryctl: cannot reach http://127\\.0\\.0\\.1:${closed}: .+`));
  r = await fails(['--url', 'not a url', 'overview'], 3);
  assert.match(r.stderr, /^ferryctl: cannot reach not a url: /);
  r = await fails(['--url', 'ftp://127.0.0.1:21', 'overview'], 3);
  assert.match(r.stderr, /unsupported scheme/);
});

test('exit code 3 when the broker accepts but never answers: the 10 s timeout', async () => {
  const sockets = [];
  const server = net.createServer(s => sockets.push(s)); // reads nothing, answers nothing
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  try {
    const started = Date.now();
    const r = await fails(['--url', url, 'overview'], 3);
    const elapsed = Date.now() - started;
    assert.match(r.stderr, new RegExp(`^ferryctl: cannot reach ${url.replace(/\./g, '\\.')}: no answer within 10 s`));
    assert.ok(elapsed >= 9500 && elapsed < 30000, `gave up after ${elapsed} ms`);
  } finally {
    for (const s of sockets) s.destroy();
    server.close();
  }
});

test('precedence: --password over FERRY_PASSWORD over the config file over the default; --config over FERRYCTL_CONFIG over the default file', async () => {
  const dir = fs.mkdtempSync(path.join(configHome, 'cfg-'));
  const wrong = path.join(dir, 'wrong.conf');
  fs.writeFileSync(wrong, `# a config with a wrong password\nurl = ${base}\nuser = guest\npassword = not-the-password\n`);
  const good = path.join(dir, 'good.conf');
  fs.writeFileSync(good, `url=${base}\n\n   # indented comment\npassword=guest\n`);

  // the config file alone: its url (FERRY_URL unset) and its wrong password
  let r = await fails(['--config', wrong, 'list-vhosts'], 1, { env: { FERRY_URL: null } });
  assert.match(r.stderr, /^ferryctl: 401 not_authorised: /);
  r = await fails(['list-vhosts'], 1, { env: { FERRY_URL: null, FERRYCTL_CONFIG: wrong } });
  assert.match(r.stderr, /^ferryctl: 401 /, 'FERRYCTL_CONFIG names the file');
  // the environment wins over the file
  await ok(['--config', wrong, 'list-vhosts'], { env: { FERRY_URL: null, FERRY_PASSWORD: 'guest' } });
  // the flag wins over the environment
  await ok(['--config', wrong, '--password', 'guest', 'list-vhosts'], { env: { FERRY_URL: null, FERRY_PASSWORD: 'also-wrong' } });
  r = await fails(['--config', wrong, '--password', 'also-wrong', 'list-vhosts'], 1, { env: { FERRY_URL: null, FERRY_PASSWORD: 'guest' } });
  assert.match(r.stderr, /^ferryctl: 401 /);
  // the user the same way
  r = await fails(['list-vhosts'], 1, { env: { FERRY_USER: 'nobody' } });
  assert.match(r.stderr, /^ferryctl: 401 /);
  await ok(['--user', 'guest', 'list-vhosts'], { env: { FERRY_USER: 'nobody' } });
  // --config wins over FERRYCTL_CONFIG
  await ok(['--config', good, 'list-vhosts'], { env: { FERRY_URL: null, FERRYCTL_CONFIG: wrong } });
  // the url: FERRY_URL over the file, --url over FERRY_URL
  r = await fails(['list-vhosts'], 3, { env: { FERRYCTL_CONFIG: good, FERRY_URL: 'http://127.0.0.1:1' } });
  assert.match(r.stderr, /cannot reach http:\/\/127\.0\.0\.1:1:/);
  await ok(['--url', base, 'list-vhosts'], { env: { FERRY_URL: 'http://127.0.0.1:1' } });
  // no flag, no environment, no file: http://127.0.0.1:15680 (unreachable here, unless some other broker listens there)
  r = await ctl(['list-vhosts'], { env: { FERRY_URL: null } });
  if (r.code === 3) assert.match(r.stderr, /^ferryctl: cannot reach http:\/\/127\.0\.0\.1:15680: /);
  else assert.ok(r.code === 0 || r.code === 1, `exit ${r.code}: ${r.stderr}`);

  // the default file: <XDG_CONFIG_HOME>/ferry/ferryctl.conf
  const xdg = fs.mkdtempSync(path.join(configHome, 'xdg-'));
  fs.mkdirSync(path.join(xdg, 'ferry'));
  fs.writeFileSync(path.join(xdg, 'ferry', 'ferryctl.conf'), `url = ${base}\npassword = from-default-file\n`);
  r = await fails(['list-vhosts'], 1, { env: { FERRY_URL: null, XDG_CONFIG_HOME: xdg } });
  assert.match(r.stderr, /^ferryctl: 401 /, 'the default file was read (its url, its wrong password)');
  await ok(['list-vhosts'], { env: { FERRY_URL: null, XDG_CONFIG_HOME: xdg, FERRY_PASSWORD: 'guest' } });

  // a config file that cannot be read, or with an unknown key, is a usage error
  r = await fails(['--config', path.join(dir, 'absent.conf'), 'list-vhosts'], 2);
  assert.match(r.stderr, /cannot read the config file/);
  const typo = path.join(dir, 'typo.conf');
  fs.writeFileSync(typo, 'url = http://127.0.0.1:1\npasword = x\n');
  r = await fails(['--config', typo, 'list-vhosts'], 2);
  assert.match(r.stderr, /typo\.conf:2: unknown key 'pasword'/);
});
