'use strict';
// An admin API client for the tests: one request resolves {status, headers, body (parsed when it is JSON), text}.
//
//   const { adminClient } = require('./lib/api');
//   const api = adminClient(`http://${broker.listeners['admin.listen']}`);
//   const r = await api('GET', '/api/v1/overview');                      // as guest/guest
//   await api('PUT', '/api/v1/queues/%2F/q', { body: { durable: true }, user: 'mon', password: 'monpw' });
//   await api('GET', '/api/v1/overview', { user: null });                // no credentials

const auth = (user = 'guest', password = 'guest') => 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');

function adminClient(base) {
  return async function api(method, path, { body, user, password, headers = {}, raw } = {}) {
    const res = await fetch(base + path, {
      method,
      headers: {
        ...(user === null ? {} : { authorization: auth(user, password) }),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: raw !== undefined ? raw : body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    let parsed = null;
    if ((res.headers.get('content-type') || '').startsWith('application/json') && text) parsed = JSON.parse(text);
    return { status: res.status, headers: res.headers, body: parsed, text };
  };
}

module.exports = { adminClient, auth };
