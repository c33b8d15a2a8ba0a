'use strict';
// The admin API's connections (docs/admin-api.md, "Connections") against a real ferry-broker: amqplib and ali-ons
// connections listed with their user, vhost, client and channels; closing one through the API reaches amqplib as
// connection.close 320 CONNECTION_FORCED.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const amqp = require('amqplib');
const { startBroker } = require('../rocket/lib/broker');
const { AliOns, message } = require('../rocket/lib/alions');
const { newTopic } = require('../rocket/lib/fixtures');
const { waitFor } = require('../rocket/lib/util');
const { adminClient } = require('./lib/api');

const enc = encodeURIComponent;
let broker;
let api;
before(async () => {
  broker = await startBroker({ set: { 'amqp.listen': '127.0.0.1:0', 'auth.users': 'mon:monpw' } });
  api = adminClient(`http://${broker.listeners['admin.listen']}`);
  assert.equal((await api('PUT', '/api/v1/users/mon', { body: { password: 'monpw', tags: 'monitoring' } })).status, 204);
});
after(async () => { if (broker) await broker.stop(); });

test('an amqplib connection is listed with its user, vhost, client, channels and bytes; closing it sends 320', async () => {
  const conn = await amqp.connect(`amqp://guest:guest@${broker.listeners['amqp.listen']}`);
  const closed = new Promise(resolve => conn.on('close', resolve));
  conn.on('error', () => {});
  const localPort = conn.connection.stream.localPort;
  await conn.createChannel();
  await conn.createChannel();
  const amqpPort = Number(broker.listeners['amqp.listen'].split(':').pop());

  let mine;
  await waitFor(async () => {
    const r = await api('GET', '/api/v1/connections?protocol=amqp');
    mine = r.body.find(c => c.peer_port === localPort);
    return mine && mine.channels === 2;
  }, { message: 'the connection with two channels' });
  assert.equal(mine.protocol, 'amqp');
  assert.equal(mine.user, 'guest');
  assert.equal(mine.vhost, '/');
  assert.equal(mine.peer_host, '127.0.0.1');
  assert.equal(mine.port, amqpPort);
  assert.equal(mine.name, `127.0.0.1:${localPort} -> 127.0.0.1:${amqpPort}`);
  assert.match(mine.client, /amqplib/i, 'the client product from connection.start-ok');
  assert.ok(mine.recv_oct > 0 && mine.send_oct > 0, 'bytes counted both ways');
  assert.ok(Math.abs(mine.connected_at - Date.now()) < 60000);
  assert.equal(typeof mine.recv_oct_details.rate, 'number');

  let r = await api('GET', `/api/v1/connections/${enc(mine.name)}`);
  assert.equal(r.status, 200);
  assert.equal(r.body.id, mine.id);
  r = await api('GET', `/api/v1/connections/${mine.id}`);
  assert.equal(r.body.name, mine.name, 'by id too');
  r = await api('GET', '/api/v1/connections', { user: 'mon', password: 'monpw' });
  assert.ok(r.body.some(c => c.id === mine.id), 'monitoring sees every connection');
  assert.ok(r.body.some(c => c.protocol === 'admin'), 'the admin API\'s own connections are listed');
  r = await api('DELETE', `/api/v1/connections/${mine.id}`, { user: 'mon', password: 'monpw' });
  assert.equal(r.status, 403, 'monitoring may not close');
  r = await api('DELETE', `/api/v1/connections/${enc('1.2.3.4:5 -> 6.7.8.9:10')}`);
  assert.equal(r.status, 404);

  r = await api('DELETE', `/api/v1/connections/${enc(mine.name)}`, { headers: { 'x-reason': 'maintenance' } });
  assert.equal(r.status, 204);
  const why = await closed;
  assert.ok(why, 'amqplib reports why the server closed');
  assert.equal(why.code, 320);
  assert.match(why.message, /CONNECTION_FORCED - closed by user 'guest': maintenance/);
  await waitFor(async () => !(await api('GET', '/api/v1/connections')).body.some(c => c.id === mine.id),
    { message: 'gone from the list' });
  r = await api('GET', `/api/v1/connections/${mine.id}`);
  assert.equal(r.status, 404);
});

test('a RocketMQ client connection is listed with its clientID and can be closed', async () => {
  const ons = new AliOns(broker.namesrvAddr, { name: 'admin-conn' });
  try {
    const { topic } = await newTopic(broker, 'TConn', 1);
    const producer = await ons.producer();
    assert.equal((await producer.send(message(topic, 'A', 'hello'))).sendStatus, 'SEND_OK'); // connects to the broker
    const clientId = producer._mqClient ? producer._mqClient.clientId : null;
    let rocket;
    await waitFor(async () => {
      const r = await api('GET', '/api/v1/connections?protocol=rocket');
      rocket = r.body.find(c => c.client !== '');
      return rocket;
    }, { timeoutMs: 10000, message: 'a rocket connection with a client id (heartbeat)' });
    if (clientId) assert.equal(rocket.client, clientId);
    assert.match(rocket.client, /@/, 'a RocketMQ clientID (ip@instance)');
    assert.equal(rocket.user, '');
    const r = await api('DELETE', `/api/v1/connections/${rocket.id}`);
    assert.equal(r.status, 204);
    await waitFor(async () => !(await api('GET', '/api/v1/connections')).body.some(c => c.id === rocket.id),
      { message: 'closed by the kernel (the rocket plugin has no goodbye)' });
  } finally {
    await ons.closeAll();
  }
});

test('channels: each amqplib channel with its consumers, unacked deliveries, prefetch and confirm mode', async () => {
  const conn = await amqp.connect(`amqp://guest:guest@${broker.listeners['amqp.listen']}`);
  try {
    const localPort = conn.connection.stream.localPort;
    const publisher = await conn.createConfirmChannel();
    const consumer = await conn.createChannel();
    await consumer.prefetch(5);
    const queue = `chan-${process.pid}`;
    await publisher.assertQueue(queue, { durable: false });
    for (let i = 0; i < 3; i++) publisher.sendToQueue(queue, Buffer.from(`m${i}`));
    await publisher.waitForConfirms();
    const held = [];
    await consumer.consume(queue, m => held.push(m));
    await waitFor(() => held.length === 3, { message: 'three deliveries held unacked' });

    const name = `127.0.0.1:${localPort} -> ${broker.listeners['amqp.listen']}`;
    let channels;
    await waitFor(async () => {
      const r = await api('GET', '/api/v1/channels');
      channels = r.body.filter(c => c.connection_details.peer_port === localPort);
      return channels.length === 2 && channels.some(c => c.messages_unacknowledged === 3);
    }, { message: () => `two channels of the connection: ${JSON.stringify(channels)}` });
    const [pub, con] = channels.sort((a, b) => a.number - b.number);
    assert.equal(pub.confirm, true);
    assert.equal(pub.consumer_count, 0);
    assert.equal(pub.messages_unconfirmed, 0, 'every publish was confirmed');
    assert.equal(con.confirm, false);
    assert.equal(con.consumer_count, 1);
    assert.equal(con.prefetch_count, 5);
    assert.equal(con.messages_unacknowledged, 3);
    assert.equal(con.user, 'guest');
    assert.equal(con.name, `${name} (${con.number})`);
    assert.equal(con.connection_details.name, name);

    let r = await api('GET', `/api/v1/connections/${enc(name)}/channels`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.map(c => c.number).sort(), channels.map(c => c.number).sort());
    consumer.ackAll();
    await waitFor(async () => {
      const list = (await api('GET', `/api/v1/connections/${enc(name)}/channels`)).body;
      return list.some(c => c.number === con.number && c.messages_unacknowledged === 0);
    }, { message: 'acked: no unacked left' });
    r = await api('GET', `/api/v1/connections/${enc('1.2.3.4:5 -> 6.7.8.9:10')}/channels`);
    assert.equal(r.status, 404);
  } finally {
    await conn.close().catch(() => {});
  }
});
