'use strict';
// Users, vhosts and permissions (lib/target.js AUTH: vhosts / and test; alice:secret with .*,.*,.* on /;
// bob:pw with ^bob-.*,^bob-.*,.* on test; guest/guest full rights on / only): wrong password and unknown user
// (403 ACCESS_REFUSED at login, authentication_failure_close), a vhost the user has no access to (530 NOT_ALLOWED),
// configure / write / read permission checks (403), and the user-id property check (406).
// Ferry gets them through auth.vhosts / auth.users / auth.permissions; RabbitMQ through rabbitmqctl
// (scripts/rabbitmq-local.sh ctl, needs FERRY_RABBITMQ_DIR; without it, in rabbitmq mode only, the file skips).

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startTarget, isRabbit } = require('./lib/target');
const A = require('./lib/amqp');
const W = require('./lib/wire');

let t;
let s;
const skip = isRabbit && !process.env.FERRY_RABBITMQ_DIR
  ? 'rabbitmq mode without FERRY_RABBITMQ_DIR: cannot create the users and vhosts' : false;

before(async () => {
  if (skip) return;
  t = await startTarget({ auth: true });
  s = A.session(t);
});
after(async () => {
  if (s) await s.closeAll();
  if (t) await t.stop();
});

async function rawLogin(opts) {
  const c = await W.RawConnection.connect(t.host, t.port);
  try {
    await c.handshake(opts);
  } catch (err) {
    const close = await c.expectConnectionClose({ timeoutMs: 5000 });
    await c.expectSocketClosed({ timeoutMs: 6000 });
    return close;
  }
  c.destroy();
  return null;
}

test('wrong password and unknown user: 403 ACCESS_REFUSED at login (amqplib and raw)', { timeout: 15000, skip }, async () => {
  for (const creds of [{ user: 'alice', pass: 'wrong' }, { user: 'mallory', pass: 'secret' }, { user: 'bob', pass: 'secret' }]) {
    let err = null;
    try { await s.connect(t.urlFor({ ...creds, vhost: '/' })); } catch (e) { err = e; }
    assert.ok(err, `${creds.user}/${creds.pass} must be refused`);
    assert.match(err.message, /403 \(ACCESS-REFUSED\) with message "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN/,
      `${creds.user}: ${err.message}`);
    const close = await rawLogin({ ...creds });
    assert.ok(close, 'raw: connection.close');
    assert.equal(close.replyCode, 403);
    assert.match(close.replyText, /^ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN/);
  }
  const amq = await rawLogin({ user: 'alice', pass: 'wrong', mechanism: 'AMQPLAIN' });
  assert.equal(amq && amq.replyCode, 403);
  assert.match(amq.replyText, /AMQPLAIN/);
});

test('right passwords log in: alice on /, bob on test, guest on / from loopback', { timeout: 15000, skip }, async () => {
  for (const creds of [{ user: 'alice', pass: 'secret', vhost: '/' }, { user: 'bob', pass: 'pw', vhost: 'test' },
    { user: 'guest', pass: 'guest', vhost: '/' }]) {
    const c = await s.connect(t.urlFor(creds));
    const ch = await A.channel(c);
    const q = (await ch.assertQueue(creds.user === 'bob' ? A.name('bob-ok') : '', { exclusive: true })).queue;
    assert.ok(q);
    await c.close();
  }
});

test('530 NOT_ALLOWED: a vhost the user has no permissions on', { timeout: 15000, skip }, async () => {
  for (const [creds, vhost] of [[{ user: 'alice', pass: 'secret' }, 'test'], [{ user: 'bob', pass: 'pw' }, '/'],
    [{ user: 'guest', pass: 'guest' }, 'test']]) {
    const close = await rawLogin({ ...creds, vhost });
    assert.ok(close, `${creds.user} on ${vhost} must be refused`);
    assert.equal(close.replyCode, 530, `${creds.user} on ${vhost}: ${close.replyText}`);
    assert.equal(close.replyText, `NOT_ALLOWED - access to vhost '${vhost}' refused for user '${creds.user}'`);
    assert.equal(close.classId, 10);
    assert.equal(close.methodId, 40);
    await assert.rejects(s.connect(t.urlFor({ ...creds, vhost })), /ConnectionClose|530|NOT_ALLOWED/);
  }
});

test('403 ACCESS_REFUSED: bob may configure and write only ^bob-.* in test, but read everything', { timeout: 20000, skip }, async () => {
  const admin = await s.connect(t.urlFor({ user: 'bob', pass: 'pw', vhost: 'test' }));
  const ok = await A.channel(admin);
  const mine = A.name('bob-q');
  const myEx = A.name('bob-x');
  await ok.assertQueue(mine, { durable: false });
  await ok.assertExchange(myEx, 'direct', { durable: false });
  await ok.bindQueue(mine, myEx, 'k'); // write on the queue, read on the exchange
  ok.publish(myEx, 'k', Buffer.from('bob-msg'));
  const m = await A.waitFor(() => ok.get(mine, { noAck: true }), { message: 'bob reads his queue' });
  assert.equal(m.content.toString(), 'bob-msg');

  const other = A.name('other-q');
  const cases = [
    ['declare other-q (configure)', ch => ch.assertQueue(other, { durable: false }),
      new RegExp(`ACCESS_REFUSED - access to queue '${other}' in vhost 'test' refused for user 'bob'`)],
    ['declare an exchange other-x (configure)', ch => ch.assertExchange('other-x', 'fanout', { durable: false }),
      /ACCESS_REFUSED - access to exchange 'other-x' in vhost 'test' refused for user 'bob'/],
  ];
  for (const [what, op, pattern] of cases) {
    const ch = await A.channel(admin);
    await A.expectChannelError(() => op(ch), ch, 403, pattern, what);
  }
  // Binding needs write on the destination and read on the source: bob-q from amq.fanout is fine, the reverse
  // direction (an exchange binding into amq.fanout) needs write on amq.fanout.
  await ok.bindQueue(mine, 'amq.fanout', '');
  const eb = await A.channel(admin);
  await A.expectChannelError(() => eb.bindExchange('amq.fanout', myEx, 'k'), eb, 403,
    /ACCESS_REFUSED - access to exchange 'amq.fanout' in vhost 'test' refused for user 'bob'/, 'bind into amq.fanout');
  // Publishing needs write on the exchange: the default exchange is 'amq.default', not ^bob-.*.
  const pub = await A.channel(admin);
  pub.sendToQueue(mine, Buffer.from('via default'));
  await A.withTimeout(pub.closedPromise, 5000, 'close after publishing to the default exchange');
  assert.equal(pub.errors[0].code, 403, pub.errors[0].message);
  assert.match(pub.errors[0].message, /ACCESS_REFUSED - access to exchange 'amq.default' in vhost 'test' refused for user 'bob'/);
  // Deleting needs configure.
  const del = await A.channel(admin);
  await A.expectChannelError(() => del.deleteExchange('amq.fanout'), del, 403, /ACCESS_REFUSED/, 'delete amq.fanout');
  await ok.deleteQueue(mine);
  await ok.deleteExchange(myEx);
  assert.equal(admin.closed, false, 'soft errors only');
});

test('406: a user-id property other than the logged-in user is refused', { timeout: 10000, skip }, async () => {
  const c = await s.connect(t.urlFor({ user: 'alice', pass: 'secret', vhost: '/' }));
  const ch = await A.channel(c);
  const q = (await ch.assertQueue('', { exclusive: true })).queue;
  ch.sendToQueue(q, Buffer.from('mine'), { userId: 'alice' });
  const m = await A.waitFor(() => ch.get(q, { noAck: true }), { message: 'alice message' });
  assert.equal(m.properties.userId, 'alice');
  ch.sendToQueue(q, Buffer.from('spoofed'), { userId: 'bob' });
  await A.withTimeout(ch.closedPromise, 5000, 'close after a spoofed user-id');
  assert.equal(ch.errors[0].code, 406, ch.errors[0].message);
  assert.match(ch.errors[0].message, /PRECONDITION_FAILED - user_id property set to 'bob' but authenticated user was 'alice'/);
});
