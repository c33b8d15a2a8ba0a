'use strict';
// The admin API (docs/admin-api.md) against a real ferry-broker, with amqplib producing and consuming: every
// resource, the access rules (RabbitMQ's user tags), the error answers, and /metrics read by a Prometheus text
// parser.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const amqp = require('amqplib');
const parsePrometheus = require('parse-prometheus-text-format');
const { startBroker } = require('../rocket/lib/broker');
const { adminClient, auth } = require('./lib/api');

let broker;
let base;
before(async () => {
  broker = await startBroker({
    set: { 'amqp.listen': '127.0.0.1:0', 'admin.max_body_bytes': '4096', 'auth.users': 'mon:monpw;mgr:mgrpw;plain:plainpw' },
  });
  base = `http://${broker.listeners['admin.listen']}`;
  api = adminClient(base);
});
after(async () => { if (broker) await broker.stop(); });

const sleep = ms => new Promise(r => setTimeout(r, ms));
const enc = encodeURIComponent;
let api;

async function withChannel(fn, url = `amqp://guest:guest@${broker.listeners['amqp.listen']}`) {
  const conn = await amqp.connect(url);
  try {
    const ch = await conn.createConfirmChannel();
    return await fn(ch, conn);
  } finally {
    await conn.close().catch(() => {});
  }
}

test('every request needs credentials: 401 with a JSON body and WWW-Authenticate; 404 and 405 for unknown paths and methods', async () => {
  let r = await api('GET', '/api/v1/overview', { user: null });
  assert.equal(r.status, 401);
  assert.equal(r.headers.get('www-authenticate'), 'Basic realm="ferry"');
  assert.equal(r.body.error, 'not_authorised');
  r = await api('GET', '/api/v1/overview', { password: 'wrong' });
  assert.equal(r.status, 401);
  assert.match(r.body.reason, /invalid credentials/);
  r = await api('GET', '/metrics', { user: null });
  assert.equal(r.status, 401, '/metrics is authenticated too');
  r = await api('GET', '/api/v1/no-such-thing');
  assert.equal(r.status, 404);
  assert.equal(r.body.error, 'not_found');
  r = await api('POST', '/api/v1/overview');
  assert.equal(r.status, 405);
  assert.equal(r.headers.get('allow'), 'GET');
  r = await api('HEAD', '/api/v1/overview');
  assert.equal(r.status, 200);
  assert.equal(r.text, '', 'HEAD: no body');
});

test('user tags decide access: no tag 403, monitoring reads only, management changes what its permissions allow', async () => {
  // Tags and permissions through the API itself (administrator guest).
  assert.equal((await api('PUT', '/api/v1/users/mon', { body: { password: 'monpw', tags: 'monitoring' } })).status, 204);
  assert.equal((await api('PUT', '/api/v1/users/mgr', { body: { password: 'mgrpw', tags: ['management'] } })).status, 204);
  assert.equal((await api('PUT', `/api/v1/permissions/${enc('/')}/mgr`, { body: { configure: '^mgr-.*', write: '.*', read: '.*' } })).status, 201);
  let r = await api('GET', '/api/v1/queues', { user: 'plain', password: 'plainpw' });
  assert.equal(r.status, 403);
  assert.equal(r.body.error, 'not_authorised');
  r = await api('GET', '/api/v1/queues', { user: 'mon', password: 'monpw' });
  assert.equal(r.status, 200);
  r = await api('PUT', `/api/v1/queues/${enc('/')}/mon-q`, { user: 'mon', password: 'monpw', body: {} });
  assert.equal(r.status, 403, 'monitoring cannot declare');
  r = await api('PUT', `/api/v1/queues/${enc('/')}/mgr-q`, { user: 'mgr', password: 'mgrpw', body: { durable: true } });
  assert.equal(r.status, 201, 'management may declare what its configure permission matches');
  r = await api('PUT', `/api/v1/queues/${enc('/')}/other-q`, { user: 'mgr', password: 'mgrpw', body: {} });
  assert.equal(r.status, 403);
  assert.equal(r.body.error, 'access_refused');
  r = await api('GET', '/api/v1/users', { user: 'mgr', password: 'mgrpw' });
  assert.equal(r.status, 403, 'users need administrator');
});

test('overview: version, plugins, listeners, totals that follow the traffic, storage', async () => {
  await withChannel(async ch => {
    await ch.assertQueue('ov-q', { durable: true });
    for (let i = 0; i < 4; i++) ch.sendToQueue('ov-q', Buffer.from(`o${i}`), { persistent: true });
    await ch.waitForConfirms();
  });
  const r = await api('GET', '/api/v1/overview');
  assert.equal(r.status, 200);
  assert.equal(r.body.product_name, 'Ferry');
  assert.match(r.body.product_version, /^\d+\.\d+\.\d+/);
  assert.equal(r.body.role, 'ASYNC_MASTER');
  const plugins = r.body.plugins.map(p => `${p.name}:${p.kind}`).sort();
  for (const p of ['amqp:protocol', 'rocket:protocol', 'file:storage', 'sqlite:storage']) assert.ok(plugins.includes(p), p);
  assert.ok(r.body.listeners.some(l => l.key === 'admin.listen' && l.address === broker.listeners['admin.listen']));
  assert.ok(r.body.object_totals.queues >= 1);
  assert.ok(r.body.queue_totals.messages >= 4, JSON.stringify(r.body.queue_totals));
  assert.ok(r.body.storage.bytes > 0);
  assert.ok(r.body.uptime_ms > 0);
});

test('queues: depth, ready, unacked and consumers as amqplib leaves them; declare, equivalence, purge, delete', async () => {
  const conn = await amqp.connect(`amqp://guest:guest@${broker.listeners['amqp.listen']}`);
  try {
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue('depth-q', { durable: true });
    for (let i = 0; i < 10; i++) ch.sendToQueue('depth-q', Buffer.from(`d${i}`), { persistent: true });
    await ch.waitForConfirms();
    const consumer = await conn.createChannel();
    await consumer.prefetch(3);
    await consumer.consume('depth-q', () => {}, { noAck: false }); // holds 3 unacked
    let q;
    for (let i = 0; i < 50; i++) {
      q = (await api('GET', `/api/v1/queues/${enc('/')}/depth-q`)).body;
      if (q.messages_unacknowledged === 3) break;
      await sleep(50);
    }
    assert.equal(q.name, 'depth-q');
    assert.equal(q.vhost, '/');
    assert.equal(q.durable, true);
    assert.equal(q.messages, 10);
    assert.equal(q.messages_ready, 7);
    assert.equal(q.messages_unacknowledged, 3);
    assert.equal(q.consumers, 1);
    const list = (await api('GET', '/api/v1/queues')).body;
    assert.ok(list.some(x => x.name === 'depth-q' && x.messages === 10));
    assert.deepEqual((await api('GET', `/api/v1/queues/${enc('/')}`)).body.map(x => x.vhost).filter(v => v !== '/'), []);
    // Purge drops the ready ones; the unacked stay with their consumer.
    assert.equal((await api('DELETE', `/api/v1/queues/${enc('/')}/depth-q/contents`)).status, 204);
    q = (await api('GET', `/api/v1/queues/${enc('/')}/depth-q`)).body;
    assert.equal(q.messages_ready, 0);
    assert.equal(q.messages_unacknowledged, 3);
    // if-unused refuses while the consumer is there.
    let r = await api('DELETE', `/api/v1/queues/${enc('/')}/depth-q?if-unused=true`);
    assert.equal(r.status, 400);
    assert.equal(r.body.error, 'precondition_failed');
  } finally {
    await conn.close();
  }
  // Declared through the API, used through AMQP.
  let r = await api('PUT', `/api/v1/queues/${enc('/')}/api-q`, { body: { durable: true, arguments: { 'x-max-length': 2, 'x-overflow': 'reject-publish' } } });
  assert.equal(r.status, 201);
  r = await api('PUT', `/api/v1/queues/${enc('/')}/api-q`, { body: { durable: true, arguments: { 'x-max-length': 2, 'x-overflow': 'reject-publish' } } });
  assert.equal(r.status, 204, 'the same declaration again');
  r = await api('PUT', `/api/v1/queues/${enc('/')}/api-q`, { body: { durable: true, arguments: { 'x-max-length': 5 } } });
  assert.equal(r.status, 400, 'inequivalent arguments');
  assert.equal(r.body.error, 'precondition_failed');
  const q = (await api('GET', `/api/v1/queues/${enc('/')}/api-q`)).body;
  assert.deepEqual(q.arguments, { 'x-max-length': 2, 'x-overflow': 'reject-publish' });
  const results = await withChannel(async ch => {
    await ch.checkQueue('api-q');
    return Promise.all([0, 1, 2].map(i => new Promise(res => ch.sendToQueue('api-q', Buffer.from(`${i}`), { persistent: true }, err => res(!err)))));
  });
  assert.deepEqual(results, [true, true, false], 'x-max-length 2 with reject-publish, set through the API, holds');
  r = await api('PUT', `/api/v1/queues/${enc('/')}/bad-q`, { body: { arguments: { 'x-no-such': 1 } } });
  assert.equal(r.status, 400);
  assert.match(r.body.reason, /unknown queue argument 'x-no-such'/);
  r = await api('PUT', `/api/v1/queues/${enc('/')}/bad-q`, { raw: '{"durable": tru', headers: { 'content-type': 'application/json' } });
  assert.equal(r.status, 400);
  assert.match(r.body.reason, /not a JSON object/);
  assert.equal((await api('DELETE', `/api/v1/queues/${enc('/')}/api-q`)).status, 204);
  r = await api('GET', `/api/v1/queues/${enc('/')}/api-q`);
  assert.equal(r.status, 404);
  assert.equal(r.body.error, 'not_found');
  // The change is logged with the user (the log file is flushed within a few seconds).
  const logFile = path.join(broker.dataDir, 'logs', 'ferry.log');
  let logged = false;
  for (let i = 0; i < 100 && !logged; i++, await sleep(100)) {
    logged = /admin: DELETE \/api\/v1\/queues\/%2F\/api-q by user 'guest' from 127\.0\.0\.1:\d+: delete queue/.test(fs.readFileSync(logFile, 'utf8'));
  }
  assert.ok(logged, 'the deletion is in the log with the user');
});

test('exchanges and bindings: declared through the API, routing amqplib\'s publishes; unbound, they stop', async () => {
  let r = await api('PUT', `/api/v1/exchanges/${enc('/')}/api-x`, { body: { type: 'topic', durable: true } });
  assert.equal(r.status, 201);
  r = await api('GET', `/api/v1/exchanges/${enc('/')}/api-x`);
  assert.deepEqual(r.body, { name: 'api-x', vhost: '/', type: 'topic', durable: true, auto_delete: false, internal: false, arguments: {} });
  const names = (await api('GET', '/api/v1/exchanges')).body.map(e => e.name);
  for (const n of ['', 'amq.direct', 'amq.fanout', 'amq.topic', 'api-x']) assert.ok(names.includes(n), n);
  assert.equal((await api('PUT', `/api/v1/queues/${enc('/')}/bound-q`, { body: {} })).status, 201);
  r = await api('POST', `/api/v1/bindings/${enc('/')}/e/api-x/q/bound-q`, { body: { routing_key: 'a.*' } });
  assert.equal(r.status, 201);
  assert.match(r.headers.get('location'), /\/a\.\*$/);
  const bindings = (await api('GET', `/api/v1/bindings/${enc('/')}/e/api-x/q/bound-q`)).body;
  assert.deepEqual(bindings.map(b => [b.source, b.destination, b.destination_type, b.routing_key, b.properties_key]),
    [['api-x', 'bound-q', 'queue', 'a.*', 'a.*']]);
  assert.ok((await api('GET', '/api/v1/bindings')).body.some(b => b.source === 'api-x'));
  const publish = key => withChannel(async ch => { ch.publish('api-x', key, Buffer.from(key), { persistent: true }); await ch.waitForConfirms(); });
  await publish('a.b');
  await publish('b.b');
  assert.equal((await api('GET', `/api/v1/queues/${enc('/')}/bound-q`)).body.messages, 1, 'only a.* is routed');
  r = await api('DELETE', `/api/v1/bindings/${enc('/')}/e/api-x/q/bound-q/${enc('a.*')}`);
  assert.equal(r.status, 204);
  await publish('a.c');
  assert.equal((await api('GET', `/api/v1/queues/${enc('/')}/bound-q`)).body.messages, 1, 'unbound: no more');
  r = await api('DELETE', `/api/v1/bindings/${enc('/')}/e/api-x/q/bound-q/${enc('a.*')}`);
  assert.equal(r.status, 404);
  assert.equal((await api('DELETE', `/api/v1/exchanges/${enc('/')}/amq.direct`)).status, 403);
  assert.equal((await api('DELETE', `/api/v1/exchanges/${enc('/')}/api-x`)).status, 204);
  assert.equal((await api('GET', `/api/v1/exchanges/${enc('/')}/api-x`)).status, 404);
  r = await api('PUT', `/api/v1/exchanges/${enc('/')}/typeless`, { body: {} });
  assert.equal(r.status, 400);
});

test('vhosts, users and permissions: what the API creates, an amqplib client can use', async () => {
  assert.equal((await api('PUT', `/api/v1/vhosts/v2`)).status, 201);
  assert.equal((await api('PUT', `/api/v1/vhosts/v2`)).status, 204);
  assert.ok((await api('GET', '/api/v1/vhosts')).body.some(v => v.name === 'v2'));
  assert.equal((await api('GET', '/api/v1/vhosts/v2')).body.name, 'v2');
  assert.equal((await api('GET', '/api/v1/vhosts/nope')).status, 404);
  assert.equal((await api('PUT', '/api/v1/users/alice', { body: { password: 'alicepw', tags: '' } })).status, 201);
  assert.equal((await api('PUT', '/api/v1/users/alice', { body: {} })).status, 400, 'a password is required');
  assert.deepEqual((await api('GET', '/api/v1/users/alice')).body, { name: 'alice', tags: [] });
  assert.ok((await api('GET', '/api/v1/users')).body.some(u => u.name === 'guest' && u.tags.includes('administrator')));
  const url = `amqp://alice:alicepw@${broker.listeners['amqp.listen']}/v2`;
  await assert.rejects(amqp.connect(url), /ConnectionClose|ACCESS_REFUSED/, 'no permission yet');
  assert.equal((await api('PUT', '/api/v1/permissions/v2/alice', { body: { configure: '.*', write: '.*', read: '.*' } })).status, 201);
  assert.deepEqual((await api('GET', '/api/v1/permissions/v2/alice')).body,
    { user: 'alice', vhost: 'v2', configure: '.*', write: '.*', read: '.*' });
  await withChannel(async ch => {
    await ch.assertQueue('in-v2', { durable: true });
    ch.sendToQueue('in-v2', Buffer.from('x'), { persistent: true });
    await ch.waitForConfirms();
  }, url);
  const q = (await api('GET', '/api/v1/queues/v2/in-v2')).body;
  assert.equal(q.vhost, 'v2');
  assert.equal(q.messages, 1);
  assert.ok((await api('GET', '/api/v1/queues/v2')).body.every(x => x.vhost === 'v2'));
  const r = await api('PUT', '/api/v1/permissions/v2/alice', { body: { configure: '(', write: '.*', read: '.*' } });
  assert.equal(r.status, 400, 'a bad regular expression');
});

test('topics: created with queue counts and permissions, per-queue offsets and depth, updated, deleted', async () => {
  let r = await api('PUT', '/api/v1/topics/TAdmin', { body: { read_queue_nums: 4, write_queue_nums: 4 } });
  assert.equal(r.status, 201);
  r = await api('GET', '/api/v1/topics/TAdmin');
  assert.equal(r.body.read_queue_nums, 4);
  assert.equal(r.body.write_queue_nums, 4);
  assert.equal(r.body.perm, 6);
  assert.deepEqual(r.body.queues.map(x => [x.queue_id, x.min_offset, x.max_offset, x.messages]), [0, 1, 2, 3].map(i => [i, 0, 0, 0]));
  r = await api('PUT', '/api/v1/topics/TAdmin', { body: { write_queue_nums: 2, perm: 4 } });
  assert.equal(r.status, 204);
  r = await api('GET', '/api/v1/topics/TAdmin');
  assert.equal(r.body.write_queue_nums, 2);
  assert.equal(r.body.read_queue_nums, 4);
  assert.equal(r.body.perm, 4);
  assert.ok((await api('GET', '/api/v1/topics')).body.some(t => t.name === 'TAdmin'));
  r = await api('PUT', '/api/v1/topics/TAdmin', { body: { read_queue_nums: 0 } });
  assert.equal(r.status, 400);
  assert.equal((await api('DELETE', '/api/v1/topics/TAdmin')).status, 204);
  assert.equal((await api('GET', '/api/v1/topics/TAdmin')).status, 404);
});

test('replication: the status of this broker; promoting a master is refused', async () => {
  let r = await api('GET', '/api/v1/replication');
  assert.equal(r.status, 200);
  assert.equal(r.body.role, 'ASYNC_MASTER');
  assert.deepEqual(r.body.slaves, []);
  r = await api('POST', '/api/v1/replication/promote', { body: { role: 'SYNC_MASTER' } });
  assert.equal(r.status, 400);
  assert.match(r.body.reason, /already a master/);
  r = await api('POST', '/api/v1/replication/follow', { body: { master: 'nonsense' } });
  assert.equal(r.status, 400);
});

test('/metrics: Prometheus text that a parser reads, with the queues\' depth, the connections, storage and the plugins\' counters', async () => {
  const before = parsePrometheus((await api('GET', '/metrics')).text);
  const published = families => {
    const f = families.find(x => x.name === 'ferry_plugin_events_total');
    const m = f && f.metrics.find(x => x.labels.plugin === 'amqp' && x.labels.event === 'messages_published');
    return m ? Number(m.value) : 0;
  };
  let r;
  await withChannel(async ch => {
    await ch.assertQueue('metrics-q', { durable: true });
    for (let i = 0; i < 3; i++) ch.sendToQueue('metrics-q', Buffer.from('m'), { persistent: true });
    await ch.waitForConfirms();
    r = await api('GET', '/metrics'); // while the amqplib connection is open
  });
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  const families = parsePrometheus(r.text);
  const family = name => families.find(f => f.name === name);
  const depth = family('ferry_queue_messages');
  assert.equal(depth.type, 'GAUGE');
  const sample = depth.metrics.find(m => m.labels.queue === 'metrics-q' && m.labels.vhost === '/');
  assert.equal(Number(sample.value), 3);
  assert.equal(Number(family('ferry_queue_published_total').metrics.find(m => m.labels.queue === 'metrics-q').value), 3);
  assert.ok(Number(family('ferry_connections').metrics[0].value) >= 1);
  assert.equal(family('ferry_replication_role').metrics[0].labels.role, 'ASYNC_MASTER');
  assert.ok(family('ferry_storage_syncs_total'));
  assert.ok(Number(family('ferry_storage_bytes').metrics[0].value) > 0, 'the data directory holds bytes');
  assert.ok(Number(family('ferry_storage_appends_total').metrics[0].value) >= 3);
  const amqpConnections = family('ferry_protocol_connections').metrics.find(m => m.labels.protocol === 'amqp');
  assert.ok(Number(amqpConnections.value) >= 1, 'per-protocol connections');
  assert.ok(Number(family('ferry_protocol_received_bytes').metrics.find(m => m.labels.protocol === 'amqp').value) > 0);
  assert.equal(published(families) - published(before), 3, 'the amqp plugin counted the three publishes');
  assert.equal(family('ferry_plugin_events_total').type, 'COUNTER');
});

test('bad HTTP: garbage gets 400 and a closed connection; a body over admin.max_body_bytes gets 413; pipelined requests are answered in order', async () => {
  const [host, port] = broker.listeners['admin.listen'].split(':');
  const exchange = bytes => new Promise((resolve, reject) => {
    const s = net.connect({ host, port: Number(port) });
    let data = '';
    s.on('data', d => { data += d; });
    s.on('error', reject);
    s.on('close', () => resolve(data));
    s.write(bytes);
    setTimeout(() => s.end(), 1500);
  });
  let out = await exchange('NOT HTTP AT ALL\r\n\r\n');
  assert.match(out, /^HTTP\/1\.1 400 /);
  assert.match(out, /malformed HTTP/);
  const big = 'x'.repeat(5000);
  out = await exchange(`PUT /api/v1/vhosts/big HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth()}\r\nContent-Length: ${big.length}\r\n\r\n${big}`);
  assert.match(out, /^HTTP\/1\.1 413 /);
  assert.equal((await api('GET', '/api/v1/vhosts/big')).status, 404, 'nothing was created');
  const get = path => `GET ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth()}\r\n\r\n`;
  out = await exchange(get('/api/v1/vhosts') + get('/api/v1/nope') + get('/api/v1/topics'));
  const statuses = [...out.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map(m => Number(m[1]));
  assert.deepEqual(statuses, [200, 404, 200]);
});
