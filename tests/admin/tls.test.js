'use strict';
// The admin API over TLS (admin.tls_cert_file, admin.tls_key_file) against a real ferry-broker, with the
// self-signed certificate in fixtures/ (CN and subjectAltName 127.0.0.1; test use only).

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const https = require('node:https');
const net = require('node:net');
const path = require('node:path');
const { startBroker } = require('../rocket/lib/broker');

const certFile = path.join(__dirname, 'fixtures', 'admin-test.crt');
const keyFile = path.join(__dirname, 'fixtures', 'admin-test.key');
const ca = fs.readFileSync(certFile);
let broker;
let host;
let port;
before(async () => {
  broker = await startBroker({ set: { 'admin.tls_cert_file': certFile, 'admin.tls_key_file': keyFile } });
  [host, port] = broker.listeners['admin.listen'].split(':');
});
after(async () => { if (broker) await broker.stop(); });

// One HTTPS request that trusts only the fixture certificate; resolves {status, body}.
function get(pathname, { user = 'guest', password = 'guest' } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host, port: Number(port), path: pathname, method: 'GET', ca, servername: 'localhost',
      headers: { authorization: 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64') },
    }, res => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', d => { data += d; });
      res.on('end', () => resolve({ status: res.statusCode, body: data ? JSON.parse(data) : null, socket: res.socket }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('HTTPS: the certificate verifies, requests are answered and authenticated, the connection is listed as TLS', async () => {
  let r = await get('/api/v1/overview');
  assert.equal(r.status, 200);
  assert.equal(r.body.product_name, 'Ferry');
  r = await get('/api/v1/overview', { password: 'wrong' });
  assert.equal(r.status, 401);
  r = await get('/api/v1/connections?protocol=admin');
  assert.ok(r.body.length >= 1);
  assert.ok(r.body.every(c => c.ssl === true), 'admin connections run TLS');
});

test('plain HTTP on the TLS port gets no answer; a client that distrusts the certificate is refused', async () => {
  const reply = await new Promise(resolve => {
    const s = net.connect({ host, port: Number(port) });
    let data = '';
    s.on('data', d => { data += d.toString('latin1'); });
    s.on('error', () => resolve(data));
    s.on('close', () => resolve(data));
    s.write('GET /api/v1/overview HTTP/1.1\r\nHost: x\r\n\r\n');
    setTimeout(() => s.destroy(), 1500);
  });
  assert.doesNotMatch(reply, /HTTP\/1\.1 200/, 'no plaintext answer');
  await assert.rejects(new Promise((resolve, reject) => {
    const req = https.request({ host, port: Number(port), path: '/api/v1/overview' }, resolve);
    req.on('error', reject);
    req.end();
  }), /self[- ]signed|certificate/i);
});

test('TLS settings are checked at start-up: both keys or neither, readable PEM files', async () => {
  await assert.rejects(startBroker({ set: { 'admin.tls_cert_file': certFile } }), /admin\.tls_cert_file and admin\.tls_key_file go together/);
  await assert.rejects(startBroker({ set: { 'admin.tls_cert_file': '/no/such.crt', 'admin.tls_key_file': keyFile } }), /cannot read \/no\/such\.crt/);
  await assert.rejects(startBroker({ set: { 'admin.tls_cert_file': keyFile, 'admin.tls_key_file': keyFile } }), /holds no PEM certificate/);
});
