'use strict';
// ferryctl (broker/app/ferryctl/README.md) as a child process against a real ferry-broker, with amqplib producing
// traffic: every verb whose endpoint exists, the table and --json output, the exit codes (1 API error, 2 usage,
// 3 unreachable), and the flag > environment > config file > default precedence.
//
// FERRYCTL is the ferryctl binary (CTest sets it when the ferryctl target exists), FERRY_BROKER the broker's. Without
// FERRYCTL every test fails: a missing client is a failure, not a skip.
//
// The consumer-group verbs get their group from ali-ons (../rocket/lib/alions.js) against the same broker; the
// definitions verbs export from this broker and import into a second one.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { execFile } = require('node:child_process');
const amqp = require('amqplib');
const { startBroker } = require('../rocket/lib/broker');
const { AliOns, message } = require('../rocket/lib/alions');
const { newTopic, collector } = require('../rocket/lib/fixtures');
const { uniqueName } = require('../rocket/lib/util');

const FERRYCTL = process.env.FERRYCTL;
const enc = encodeURIComponent;
const sleep = ms => new Promise(r => setTimeout(r, ms));

let broker;
let base;
let ons; // ali-ons, made by the consumer-group test
// A config home of our own: the user's ~/.config/ferry/ferryctl.conf must not leak into the tests.
const configHome = fs.mkdtempSync(path.join(os.tmpdir(), 'ferryctl-home-'));

before(async () => {
  broker = await startBroker({ set: { 'amqp.listen': '127.0.0.1:0', 'auth.users': 'ctl-plain:plainpw' } });
  base = `http://${broker.listeners['admin.listen']}`;
});
after(async () => {
  if (ons) await ons.closeAll();
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

// The section of ferryctl's output after the line `title:` (up to the next blank line, as parseTable reads it).
function section(text, title) {
  const at = text.indexOf(`\n${title}:\n`);
  assert.ok(at >= 0, `no '${title}:' section in ${JSON.stringify(text)}`);
  return text.slice(at + title.length + 3);
}

test('consumer groups: an ali-ons group in consumer-groups and consumer-group (members, offsets, lag); reset-offset to an offset, a time and one queue', { timeout: 120000 }, async () => {
  ons = new AliOns(broker.namesrvAddr, { name: 'ferryctl' });
  try {
    await consumerGroupChecks();
  } finally {
    await ons.closeAll(); // the other tests see no RocketMQ client
    ons = null;
  }
});

async function consumerGroupChecks() {
  const diag = () => `${ons.recentLog()}\n--- broker ---\n${broker.output()}`;
  const { topic } = await newTopic(broker, 'TCtlGroups', 2);
  const group = uniqueName('CG_CTL');
  const producer = await ons.producer();
  for (let i = 0; i < 6; i++) await producer.send(message(topic, 'A', `m${i}`));
  const got = collector();
  const consumer = ons.consumer({ consumerGroup: group, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
  consumer.subscribe(topic, '*', got.handler);
  await consumer.ready();
  await got.waitForKeys([...Array(6).keys()].map(i => `m${i}`), { describe: diag });

  // ali-ons commits its offsets every second: wait until both queues of the topic are consumed to their end.
  const detail = await until(`committed offsets of ${group}`, async () => {
    const r = await ctl(['consumer-group', group, '--json']);
    const g = r.code === 0 ? JSON.parse(r.stdout) : null;
    const mine = g ? g.offsets.filter(o => o.topic === topic) : [];
    return { done: mine.length === 2 && mine.every(o => o.broker_offset > 0 && o.consumer_offset === o.broker_offset), value: g || r.stderr };
  }, 20000);
  assert.equal(detail.group, group);
  assert.ok(Array.isArray(detail.members), 'the detail\'s members are objects');
  assert.equal(detail.member_count, 1);
  assert.equal(detail.members[0].client_id, ons.clientIdOf(consumer));

  // the list: members is a number there
  let t = parseTable(await ok(['consumer-groups']));
  assert.deepEqual(t.columns, ['GROUP', 'PROTOCOL', 'MODEL', 'MEMBERS', 'TOPICS', 'LAG']);
  let row = t.rows.find(x => x.GROUP === group);
  assert.ok(row, `${group} in ${JSON.stringify(t.rows)}`);
  assert.deepEqual([row.PROTOCOL, row.MODEL, row.MEMBERS, row.LAG], ['rocket', 'CLUSTERING', '1', '0']);
  assert.ok(row.TOPICS.split(',').includes(topic), row.TOPICS);
  const listed = JSON.parse(await ok(['consumer-groups', '--json'])).find(x => x.group === group);
  assert.equal(listed.members, 1);
  assert.equal(listed.lag, 0);

  // the detail: key/value lines, a members table, an offsets table
  let out = await ok(['consumer-group', group]);
  assert.match(out, new RegExp(`^group +${group}$`, 'm'));
  assert.match(out, /^protocol +rocket$/m);
  assert.match(out, /^model +CLUSTERING$/m);
  assert.match(out, /^members +1$/m);
  assert.match(out, /^lag +0$/m);
  const members = parseTable(section(out, 'members'));
  assert.deepEqual(members.columns, ['CLIENT_ID', 'ADDRESS', 'CONNECTION', 'MODEL', 'TOPICS']);
  assert.equal(members.rows.length, 1);
  assert.equal(members.rows[0].CLIENT_ID, ons.clientIdOf(consumer));
  assert.match(members.rows[0].ADDRESS, /^127\.0\.0\.1:\d+$/);
  assert.ok(members.rows[0].TOPICS.split(',').includes(topic));
  let offsets = parseTable(section(out, 'offsets'));
  assert.deepEqual(offsets.columns, ['TOPIC', 'QUEUE_ID', 'BROKER_OFFSET', 'CONSUMER_OFFSET', 'LAG']);
  let mine = offsets.rows.filter(o => o.TOPIC === topic);
  assert.deepEqual(mine.map(o => o.QUEUE_ID), ['0', '1']);
  assert.equal(mine.reduce((n, o) => n + Number(o.BROKER_OFFSET), 0), 6, 'six messages over two queues');
  assert.ok(mine.every(o => o.CONSUMER_OFFSET === o.BROKER_OFFSET && o.LAG === '0'), JSON.stringify(mine));
  const ends = mine.map(o => Number(o.BROKER_OFFSET));

  // A running consumer overwrites a reset with its own offsets: close it first.
  await ons.close(consumer);
  out = await until('no member left', async () => {
    const text = await ok(['consumer-group', group]);
    return { done: /^members: \(none\)$/m.test(text), value: text };
  });
  assert.match(out, /^members +0$/m);

  // --to-offset 0: the lag is every message
  out = await ok(['reset-offset', group, topic, '--to-offset', '0']);
  assert.equal(out.split('\n')[0], `reset the offsets of group '${group}' on topic '${topic}' to offset 0:`);
  let results = parseTable(out.slice(out.indexOf('\n') + 1));
  assert.deepEqual(results.columns, ['QUEUE_ID', 'OFFSET', 'OK', 'ERROR']);
  assert.deepEqual(results.rows.map(x => [x.QUEUE_ID, x.OFFSET, x.OK, x.ERROR]), [['0', '0', 'true', ''], ['1', '0', 'true', '']]);
  row = parseTable(await ok(['consumer-groups'])).rows.find(x => x.GROUP === group);
  assert.equal(row.MEMBERS, '0');
  assert.equal(row.LAG, '6', 'reset to 0: all six messages are lag');
  offsets = parseTable(section(await ok(['consumer-group', group]), 'offsets'));
  mine = offsets.rows.filter(o => o.TOPIC === topic);
  assert.deepEqual(mine.map(o => [o.CONSUMER_OFFSET, o.LAG]), ends.map(e => ['0', `${e}`]));

  // --to-time (ISO 8601): the first message stored at or after the cut, in each queue
  await sleep(200);
  const cut = Date.now();
  await sleep(50);
  for (let i = 6; i < 8; i++) await producer.send(message(topic, 'A', `m${i}`));
  out = await ok(['reset-offset', group, topic, '--to-time', new Date(cut).toISOString()]);
  assert.equal(out.split('\n')[0], `reset the offsets of group '${group}' on topic '${topic}' to time ${new Date(cut).toISOString()}:`);
  results = parseTable(out.slice(out.indexOf('\n') + 1));
  assert.deepEqual(results.rows.map(x => [x.QUEUE_ID, x.OFFSET, x.OK]), [['0', `${ends[0]}`, 'true'], ['1', `${ends[1]}`, 'true']],
    'the offsets the queues had before the cut');
  let g = JSON.parse(await ok(['consumer-group', group, '--json']));
  assert.equal(g.lag, 2, 'from the cut on: the two later messages');

  // --queue-id: only that queue moves
  const json = JSON.parse(await ok(['reset-offset', group, topic, '--to-offset', '0', '--queue-id', '1', '--json']));
  assert.deepEqual(json.results, [{ queue_id: 1, offset: 0, ok: true }]);
  g = JSON.parse(await ok(['consumer-group', group, '--json']));
  assert.deepEqual(g.offsets.filter(o => o.topic === topic).map(o => [o.queue_id, o.consumer_offset]), [[0, ends[0]], [1, 0]]);

  // --to-time in milliseconds, after the last message: the end of each queue, no lag
  await sleep(50);
  out = await ok(['reset-offset', group, topic, '--to-time', `${Date.now()}`]);
  assert.ok(parseTable(out.slice(out.indexOf('\n') + 1)).rows.every(x => x.OK === 'true'), out);
  g = JSON.parse(await ok(['consumer-group', group, '--json']));
  assert.equal(g.lag, 0);
  assert.ok(g.offsets.filter(o => o.topic === topic).every(o => o.consumer_offset === o.broker_offset));

  // errors: the API's 404 and 400 exit 1; what ferryctl can tell is wrong itself exits 2
  let r = await fails(['reset-offset', group, 'TCtlNoSuchTopic', '--to-offset', '0'], 1);
  assert.match(r.stderr, /^ferryctl: 404 not_found: no topic 'TCtlNoSuchTopic'/);
  r = await fails(['consumer-group', 'CG_CTL_NO_SUCH_GROUP'], 1);
  assert.match(r.stderr, /^ferryctl: 404 not_found: no consumer group 'CG_CTL_NO_SUCH_GROUP'/);
  r = await fails(['reset-offset', group, topic, '--to-offset', '-1'], 1);
  assert.match(r.stderr, /^ferryctl: 400 bad_request: give exactly one of "timestamp" .* or "offset"/);
  r = await fails(['reset-offset', group, topic, '--to-offset', '0', '--queue-id', '2'], 1);
  assert.match(r.stderr, /^ferryctl: 400 bad_request: queue_id is out of range/);
  r = await fails(['reset-offset', group, topic, '--to-offset', '0', '--to-time', '0'], 2);
  assert.match(r.stderr, /^ferryctl: reset-offset needs --to-time or --to-offset \(one of them\)\nusage: ferryctl reset-offset GROUP TOPIC/);
  r = await fails(['reset-offset', group, topic], 2);
  assert.match(r.stderr, /needs --to-time or --to-offset/);
  r = await fails(['reset-offset', group, topic, '--to-time', 'yesterday'], 2);
  assert.match(r.stderr, /--to-time must be ISO 8601/);
  assert.equal(JSON.parse(await ok(['consumer-group', group, '--json'])).lag, 0, 'the refused resets changed nothing');
}

test('definitions: what export-definitions writes from one broker, import-definitions creates in another; a user logs in there with its password; a bad file is refused with the reason', { timeout: 60000 }, async () => {
  await ok(['add-vhost', 'ctl-defs']);
  await ok(['add-user', 'ctl-dave', 'dave-pw', '--tags', 'management']);
  await ok(['set-permissions', '--vhost', 'ctl-defs', 'ctl-dave', '.*', '.*', '.*']);
  await ok(['declare-queue', '--vhost', 'ctl-defs', 'ctl-dq', '--arg', 'x-max-length=7']);
  await ok(['declare-exchange', '--vhost', 'ctl-defs', 'ctl-dx', 'direct']);
  await ok(['bind', '--vhost', 'ctl-defs', 'ctl-dx', 'ctl-dq', 'dk']);

  const file = path.join(configHome, 'defs.json');
  assert.equal(await ok(['export-definitions', file]), `exported definitions to ${file}\n`);
  const text = fs.readFileSync(file, 'utf8');
  const defs = JSON.parse(text);
  assert.ok(defs.vhosts.some(v => v.name === 'ctl-defs'));
  const dave = defs.users.find(u => u.name === 'ctl-dave');
  assert.deepEqual(dave.tags, ['management']);
  assert.equal(dave.hashing_algorithm, 'rabbit_password_hashing_sha256');
  assert.ok(!text.includes('dave-pw'), 'a hash, never the password');
  assert.deepEqual(defs.queues.find(q => q.name === 'ctl-dq' && q.vhost === 'ctl-defs').arguments['x-max-length'], 7);
  assert.equal(defs.exchanges.find(e => e.name === 'ctl-dx').type, 'direct');
  assert.ok(defs.bindings.some(b => b.source === 'ctl-dx' && b.destination === 'ctl-dq' && b.routing_key === 'dk'));
  assert.ok(Array.isArray(defs.topics));
  const stdout = JSON.parse(await ok(['export-definitions']));
  assert.deepEqual(stdout.queues, defs.queues, 'to stdout: the same document');

  const other = await startBroker({ set: { 'amqp.listen': '127.0.0.1:0' } });
  try {
    const url = `http://${other.listeners['admin.listen']}`;
    const otherAmqp = (user, pw, vhost) => `amqp://${user}:${pw}@${other.listeners['amqp.listen']}/${enc(vhost)}`;
    await assert.rejects(amqp.connect(otherAmqp('ctl-dave', 'dave-pw', 'ctl-defs')), /ACCESS_REFUSED|403/, 'not there before the import');

    const out = await ok(['--url', url, 'import-definitions', file]);
    assert.match(out, new RegExp(`^imported definitions from ${file.replace(/[.\\/]/g, '\\$&')}: ` +
      `${defs.vhosts.length} vhosts, ${defs.users.length} users, ${defs.permissions.length} permissions, ` +
      `${defs.topics.length} topics, ${defs.exchanges.length} exchanges, ${defs.queues.length} queues, ` +
      `${defs.bindings.length} bindings\\n$`));
    const rows = parseTable(await ok(['--url', url, 'list-queues', 'ctl-defs'])).rows;
    assert.deepEqual(rows.map(q => [q.NAME, q.VHOST, q.MESSAGES]), [['ctl-dq', 'ctl-defs', '0']]);
    assert.ok(parseTable(await ok(['--url', url, 'list-users'])).rows.some(u => u.NAME === 'ctl-dave' && u.TAGS === 'management'));
    // dave logs in to the other broker with the password he had here; the binding routes his publish
    const got = await withChannel(async ch => {
      ch.publish('ctl-dx', 'dk', Buffer.from('via imported binding'), { persistent: true });
      await ch.waitForConfirms();
      const m = await ch.get('ctl-dq', { noAck: true });
      return m && m.content.toString();
    }, otherAmqp('ctl-dave', 'dave-pw', 'ctl-defs'));
    assert.equal(got, 'via imported binding');
    await assert.rejects(amqp.connect(otherAmqp('ctl-dave', 'wrong', 'ctl-defs')), /ACCESS_REFUSED|403/);
    // again: nothing new, still fine; --json shows the counts
    const again = JSON.parse(await ok(['--url', url, 'import-definitions', file, '--json']));
    assert.equal(again.imported.queues, defs.queues.length);

    // a bad entry: refused as a whole, with the reason naming it
    const bad = path.join(configHome, 'bad-defs.json');
    fs.writeFileSync(bad, JSON.stringify({ vhosts: [{ name: 'ctl-never' }],
      queues: [{ name: 'ctl-bogus', vhost: 'ctl-never', durable: true, arguments: { 'x-bogus': 1 } }] }));
    let r = await fails(['--url', url, 'import-definitions', bad], 1);
    assert.match(r.stderr, /^ferryctl: 400 bad_request: 1 definitions were refused: queues\[0\] 'ctl-bogus': unknown queue argument 'x-bogus'\n$/);
    assert.equal(r.stdout, '');
    assert.ok(!parseTable(await ok(['--url', url, 'list-vhosts'])).rows.some(v => v.NAME === 'ctl-never'), 'nothing applied');
    // files ferryctl refuses before sending
    const notJson = path.join(configHome, 'not-json.json');
    fs.writeFileSync(notJson, '{"vhosts": [');
    r = await fails(['--url', url, 'import-definitions', notJson], 1);
    assert.match(r.stderr, /^ferryctl: .*not-json\.json is not JSON: /);
    const array = path.join(configHome, 'array.json');
    fs.writeFileSync(array, '[]');
    r = await fails(['--url', url, 'import-definitions', array], 1);
    assert.match(r.stderr, /array\.json is not a definitions document \(a JSON object\)/);
    r = await fails(['--url', url, 'import-definitions', path.join(configHome, 'absent.json')], 1);
    assert.match(r.stderr, /^ferryctl: cannot read .*absent\.json: /);
    r = await fails(['export-definitions', path.join(configHome, 'no-such-dir', 'x.json')], 1);
    assert.match(r.stderr, /^ferryctl: cannot write /);
    r = await fails(['import-definitions'], 2);
  } finally {
    await other.stop();
  }
});

test('delete-user ends the user\'s logins; delete-vhost takes its queues and exchanges; 404s and deleting oneself exit 1', async () => {
  await ok(['add-user', 'ctl-gone', 'gone-pw']);
  await ok(['add-vhost', 'ctl-gone-v']);
  await ok(['set-permissions', '--vhost', 'ctl-gone-v', 'ctl-gone', '.*', '.*', '.*']);
  await withChannel(async ch => { await ch.checkExchange('amq.direct'); }, amqpUrl('ctl-gone', 'gone-pw', 'ctl-gone-v'));

  assert.equal(await ok(['delete-user', 'ctl-gone']), "deleted user 'ctl-gone'\n");
  await assert.rejects(amqp.connect(amqpUrl('ctl-gone', 'gone-pw', 'ctl-gone-v')), /ACCESS_REFUSED|403/, 'its login is refused');
  assert.ok(!parseTable(await ok(['list-users'])).rows.some(u => u.NAME === 'ctl-gone'));
  assert.ok(!parseTable(await ok(['list-permissions'])).rows.some(p => p.USER === 'ctl-gone'), 'its permissions went too');
  let r = await fails(['delete-user', 'ctl-gone'], 1);
  assert.match(r.stderr, /^ferryctl: 404 not_found: no user 'ctl-gone'/);
  r = await fails(['delete-user', 'guest'], 1);
  assert.match(r.stderr, /^ferryctl: 400 bad_request: a user cannot delete itself/);
  assert.ok(parseTable(await ok(['list-users'])).rows.some(u => u.NAME === 'guest'), 'guest is still there');
  await ok(['add-user', 'ctl-gone2', 'pw']);
  assert.equal(await ok(['delete-user', 'ctl-gone2', '--json']), '', '--json: a 204 prints nothing');
  r = await fails(['delete-user'], 2);

  await ok(['declare-queue', '--vhost', 'ctl-gone-v', 'ctl-vq']);
  await ok(['declare-exchange', '--vhost', 'ctl-gone-v', 'ctl-vx', 'fanout']);
  await ok(['bind', '--vhost', 'ctl-gone-v', 'ctl-vx', 'ctl-vq']);
  assert.equal(parseTable(await ok(['list-queues', 'ctl-gone-v'])).rows.length, 1);
  assert.equal(await ok(['delete-vhost', 'ctl-gone-v']), "deleted vhost 'ctl-gone-v'\n");
  assert.ok(!parseTable(await ok(['list-vhosts'])).rows.some(v => v.NAME === 'ctl-gone-v'));
  await until('the vhost\'s queue deleted', async () => {
    const s = (await api('GET', `/api/v1/queues/ctl-gone-v/ctl-vq`)).status;
    return { done: s === 404, value: s };
  });
  assert.equal((await api('GET', '/api/v1/exchanges/ctl-gone-v/ctl-vx')).status, 404);
  assert.ok(!parseTable(await ok(['list-queues'])).rows.some(q => q.VHOST === 'ctl-gone-v'));
  assert.ok(!parseTable(await ok(['list-exchanges'])).rows.some(x => x.VHOST === 'ctl-gone-v'));
  assert.ok(!parseTable(await ok(['list-bindings'])).rows.some(b => b.VHOST === 'ctl-gone-v'));
  await assert.rejects(amqp.connect(amqpUrl('guest', 'guest', 'ctl-gone-v')), /ConnectionClose|NOT_ALLOWED|530|403/i, 'the vhost is gone');
  r = await fails(['delete-vhost', 'ctl-gone-v'], 1);
  assert.match(r.stderr, /^ferryctl: 404 not_found: no vhost 'ctl-gone-v'/);
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
    const ch = await conn.createChannel();
    await ch.prefetch(7);
    const channels = parseTable(await ok(['list-channels']));
    assert.deepEqual(channels.columns, ['NAME', 'USER', 'VHOST', 'CONSUMERS', 'UNACKED', 'PREFETCH', 'CONFIRM']);
    const channelRow = channels.rows.find(x => x.NAME.startsWith(`${row.NAME} (`));
    assert.ok(channelRow, `a channel of ${row.NAME} in ${JSON.stringify(channels.rows)}`);
    assert.equal(channelRow.PREFETCH, '7');
    assert.equal(channelRow.USER, 'guest');
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
