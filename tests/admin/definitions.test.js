'use strict';
// The admin API's definitions (export, import), binding arguments (headers exchanges) and deleting users and vhosts
// (docs/admin-api.md), against two real ferry-brokers: what one exports, the other imports, and amqplib uses it.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const amqp = require('amqplib');
const { startBroker } = require('../rocket/lib/broker');
const { waitFor } = require('../rocket/lib/util');
const { adminClient } = require('./lib/api');

const enc = encodeURIComponent;
let source;
let target;
let apiA;
let apiB;
before(async () => {
  [source, target] = await Promise.all([
    startBroker({ set: { 'amqp.listen': '127.0.0.1:0' } }),
    startBroker({ set: { 'amqp.listen': '127.0.0.1:0' } }),
  ]);
  apiA = adminClient(`http://${source.listeners['admin.listen']}`);
  apiB = adminClient(`http://${target.listeners['admin.listen']}`);
});
after(async () => {
  await Promise.all([source, target].filter(Boolean).map(b => b.stop()));
});

const amqpUrl = (broker, user, password, vhost = '/') =>
  `amqp://${user}:${password}@${broker.listeners['amqp.listen']}/${enc(vhost)}`;

async function withChannel(url, fn) {
  const conn = await amqp.connect(url);
  try {
    const ch = await conn.createConfirmChannel();
    return await fn(ch);
  } finally {
    await conn.close().catch(() => {});
  }
}

// Publishes one message per headers value through exchange `x`, then reads what reached `queue`.
async function routeByHeaders(url, x, queue, values) {
  return withChannel(url, async ch => {
    for (const kind of values) ch.publish(x, '', Buffer.from(kind), { headers: { kind } });
    await ch.waitForConfirms();
    const got = [];
    for (;;) {
      const m = await ch.get(queue, { noAck: true });
      if (!m) break;
      got.push(m.content.toString());
    }
    return got;
  });
}

test('binding arguments: a headers binding made through the API routes amqplib publishes; deleted by its properties key', async () => {
  const api = apiA;
  assert.equal((await api('PUT', '/api/v1/exchanges/%2F/hx', { body: { type: 'headers' } })).status, 201);
  assert.equal((await api('PUT', '/api/v1/queues/%2F/hq', { body: {} })).status, 201);
  let r = await api('POST', '/api/v1/bindings/%2F/e/hx/q/hq', { body: { routing_key: '', arguments: { 'x-match': 'all', kind: 'a' } } });
  assert.equal(r.status, 201, r.text);
  const location = r.headers.get('location');
  assert.match(location, /\/api\/v1\/bindings\/%2F\/e\/hx\/q\/hq\/~[0-9a-f]{8}$/);
  r = await api('GET', '/api/v1/bindings/%2F/e/hx/q/hq');
  assert.equal(r.body.length, 1);
  assert.deepEqual(r.body[0].arguments, { 'x-match': 'all', kind: 'a' });
  assert.equal(location.endsWith('/' + r.body[0].properties_key), true);

  assert.deepEqual(await routeByHeaders(amqpUrl(source, 'guest', 'guest'), 'hx', 'hq', ['a', 'b', 'a']), ['a', 'a']);
  r = await api('POST', '/api/v1/bindings/%2F/e/hx/q/hq', { body: { arguments: { nested: { no: 1 } } } });
  assert.equal(r.status, 400, 'a nested argument is refused');
  r = await api('POST', '/api/v1/bindings/%2F/e/hx/q/hq', { body: { arguments: 'x' } });
  assert.equal(r.status, 400);

  r = await api('DELETE', `/api/v1/bindings/%2F/e/hx/q/hq/${enc('~00000000')}`);
  assert.equal(r.status, 404, 'another properties key');
  const key = (await api('GET', '/api/v1/bindings/%2F/e/hx/q/hq')).body[0].properties_key;
  r = await api('DELETE', `/api/v1/bindings/%2F/e/hx/q/hq/${enc(key)}`);
  assert.equal(r.status, 204);
  assert.deepEqual(await routeByHeaders(amqpUrl(source, 'guest', 'guest'), 'hx', 'hq', ['a']), [], 'unbound: nothing arrives');
});

test('definitions exported from one broker and imported into another: users log in with their password, routing works', async () => {
  // Set up the source.
  assert.equal((await apiA('PUT', '/api/v1/vhosts/dv')).status, 201);
  assert.equal((await apiA('PUT', '/api/v1/users/alice', { body: { password: 'alice-pw', tags: 'management' } })).status, 201);
  assert.equal((await apiA('PUT', '/api/v1/permissions/dv/alice', { body: { configure: '.*', write: '.*', read: '.*' } })).status, 201);
  assert.equal((await apiA('PUT', '/api/v1/exchanges/dv/dx', { body: { type: 'headers', durable: true } })).status, 201);
  assert.equal((await apiA('PUT', '/api/v1/queues/dv/dq', { body: { durable: true, arguments: { 'x-max-length': 10 } } })).status, 201);
  assert.equal((await apiA('POST', '/api/v1/bindings/dv/e/dx/q/dq', { body: { arguments: { 'x-match': 'any', kind: 'k1' } } })).status, 201);
  assert.equal((await apiA('PUT', '/api/v1/topics/TDefs', { body: { read_queue_nums: 3, write_queue_nums: 3 } })).status, 201);

  let r = await apiA('GET', '/api/v1/definitions');
  assert.equal(r.status, 200);
  const defs = r.body;
  assert.equal(defs.product_name, 'Ferry');
  const alice = defs.users.find(u => u.name === 'alice');
  assert.equal(alice.hashing_algorithm, 'rabbit_password_hashing_sha256');
  assert.equal(Buffer.from(alice.password_hash, 'base64').length, 36, 'salt + SHA-256, never the password');
  assert.deepEqual(alice.tags, ['management']);
  assert.ok(defs.vhosts.some(v => v.name === 'dv'));
  assert.ok(defs.permissions.some(p => p.user === 'alice' && p.vhost === 'dv' && p.configure === '.*'));
  assert.deepEqual(defs.queues.find(q => q.name === 'dq'), { name: 'dq', vhost: 'dv', durable: true, auto_delete: false, arguments: { 'x-max-length': 10, 'x-overflow': 'drop-head' } });
  assert.equal(defs.exchanges.find(e => e.name === 'dx').type, 'headers');
  assert.ok(!defs.exchanges.some(e => e.name.startsWith('amq.')), 'predeclared exchanges are left out');
  assert.deepEqual(defs.bindings.find(b => b.source === 'dx').arguments, { 'x-match': 'any', kind: 'k1' });
  assert.deepEqual(defs.topics.find(t => t.name === 'TDefs'), { name: 'TDefs', read_queue_nums: 3, write_queue_nums: 3, perm: 6 });
  r = await apiA('GET', '/api/v1/definitions', { user: null });
  assert.equal(r.status, 401);

  // Import into the target.
  r = await apiB('POST', '/api/v1/definitions', { body: defs });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.imported.queues, defs.queues.length);
  r = await apiB('GET', '/api/v1/queues/dv/dq');
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.arguments, { 'x-max-length': 10, 'x-overflow': 'drop-head' });
  r = await apiB('GET', '/api/v1/topics/TDefs');
  assert.equal(r.body.read_queue_nums, 3);
  // alice logs in to the target with the password she had on the source; the headers binding routes.
  assert.deepEqual(await routeByHeaders(amqpUrl(target, 'alice', 'alice-pw', 'dv'), 'dx', 'dq', ['k1', 'k2']), ['k1']);
  await assert.rejects(amqp.connect(amqpUrl(target, 'alice', 'wrong', 'dv')), /ACCESS_REFUSED|403/);
  // Importing the same file again changes nothing and succeeds.
  r = await apiB('POST', '/api/v1/definitions', { body: defs });
  assert.equal(r.status, 200, r.text);
});

test('definitions import refuses a bad file as a whole: malformed JSON, a bad entry (nothing applied), a conflicting queue', async () => {
  let r = await apiB('POST', '/api/v1/definitions', { raw: '{"vhosts": [', headers: { 'content-type': 'application/json' } });
  assert.equal(r.status, 400);
  r = await apiB('POST', '/api/v1/definitions', {
    body: { vhosts: [{ name: 'never-made' }], queues: [{ name: 'q', vhost: 'never-made', arguments: { 'x-bogus': 1 } }] },
  });
  assert.equal(r.status, 400);
  assert.match(r.body.reason, /queues\[0\] 'q': unknown queue argument 'x-bogus'/);
  assert.equal((await apiB('GET', '/api/v1/vhosts/never-made')).status, 404, 'nothing was applied');
  r = await apiB('POST', '/api/v1/definitions', { body: { users: [{ name: 'bob', password_hash: 'x', hashing_algorithm: 'rabbit_password_hashing_md5' }] } });
  assert.equal(r.status, 400);
  assert.match(r.body.reason, /not supported/);
  // A queue that exists with other arguments: reported, the rest applied.
  r = await apiB('POST', '/api/v1/definitions', {
    body: { vhosts: [{ name: 'v-late' }], queues: [{ name: 'dq', vhost: 'dv', durable: true, arguments: { 'x-max-length': 99 } }] },
  });
  assert.equal(r.status, 400);
  assert.match(r.body.reason, /queue 'dq'/);
  assert.equal((await apiB('GET', '/api/v1/vhosts/v-late')).status, 200, 'the other entries were applied');
  r = await apiB('POST', '/api/v1/definitions', { body: {}, user: 'alice', password: 'alice-pw' });
  assert.equal(r.status, 403, 'management may not import');
});

test('deleting a user ends its logins; deleting a vhost takes its queues and exchanges', async () => {
  let r = await apiB('DELETE', '/api/v1/users/alice');
  assert.equal(r.status, 204);
  await assert.rejects(amqp.connect(amqpUrl(target, 'alice', 'alice-pw', 'dv')), /ACCESS_REFUSED|403/);
  assert.equal((await apiB('GET', '/api/v1/users/alice')).status, 404);
  assert.ok(!(await apiB('GET', '/api/v1/permissions')).body.some(p => p.user === 'alice'), 'its permissions went too');
  assert.equal((await apiB('DELETE', '/api/v1/users/alice')).status, 404);
  assert.equal((await apiB('DELETE', '/api/v1/users/guest')).status, 400, 'not oneself');

  r = await apiB('DELETE', '/api/v1/vhosts/dv');
  assert.equal(r.status, 204);
  assert.equal((await apiB('GET', '/api/v1/vhosts/dv')).status, 404);
  await waitFor(async () => (await apiB('GET', '/api/v1/queues/dv/dq')).status === 404, { message: 'queue dq deleted' });
  assert.equal((await apiB('GET', '/api/v1/exchanges/dv/dx')).status, 404);
  assert.equal((await apiB('DELETE', '/api/v1/vhosts/dv')).status, 404);
  await assert.rejects(amqp.connect(amqpUrl(target, 'guest', 'guest', 'dv')), /ConnectionClose|NOT_ALLOWED|530/i, 'the vhost is gone');
});
