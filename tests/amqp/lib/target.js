'use strict';
// The AMQP server a test file runs against: the real ferry-broker (default) or a RabbitMQ you started.
//
//   const { startTarget } = require('./lib/target');
//   const t = await startTarget();            // Ferry: ferry-broker with amqp.listen=127.0.0.1:0, rocket listeners off
//   t.url                                     // amqp://guest:guest@127.0.0.1:<port>/ (default vhost '/')
//   t.urlFor({ user, pass, vhost })           // same server, other credentials / vhost
//   t.host, t.port, t.mode                    // mode: 'ferry' | 'rabbitmq'
//   await t.restart();                        // graceful stop + start, same data, same port
//   await t.kill9AndStart();                  // SIGKILL + start
//   await t.stop();                           // Ferry: SIGTERM; RabbitMQ: nothing (it is yours)
//   t.output()                                // the broker's output for assertion messages
//
// Options: auth: true          Ferry gets the users/vhosts/permissions of AUTH below (RabbitMQ: created with
//                              `scripts/rabbitmq-local.sh ctl`, see below)
//          rocket: true        Ferry also listens RocketMQ (name server + broker) for the cross-protocol tests;
//                              t.namesrvAddr, t.brokerAddr; rabbitmq mode refuses it
//          set: {key: value}   extra ferry-broker --set options
//
// Environment:
//   FERRY_AMQP_TARGET=rabbitmq   run against RabbitMQ instead: AMQP_URL (required) names it, e.g.
//                                amqp://guest:guest@127.0.0.1:5698/ (the default vhost '/', guest has full rights)
//   FERRY_RABBITMQ_DIR           the <dir> given to scripts/rabbitmq-local.sh start: restart/kill -9 tests drive the
//                                node through the script, and `auth: true` creates AUTH's users/vhosts with its `ctl`.
//                                Without it those tests are skipped (rabbitmq mode only; in Ferry mode nothing skips)
//   FERRY_BROKER                 the ferry-broker binary (CTest sets it), else ../../build/bin/ferry-broker
//   and everything tests/rocket/lib/broker.js reads (FERRY_BROKER_ECHO=1, FERRY_KEEP_TEST_DATA=1, FERRY_STORAGE_*)

const path = require('node:path');
const { execFile } = require('node:child_process');
const { startBroker } = require('../../rocket/lib/broker');

const MODE = process.env.FERRY_AMQP_TARGET === 'rabbitmq' ? 'rabbitmq' : 'ferry';
const isRabbit = MODE === 'rabbitmq';
const SCRIPT = path.resolve(__dirname, '..', '..', '..', 'scripts', 'rabbitmq-local.sh');

// The users, vhosts and permissions of the auth tests (Ferry's auth.* keys; the same made by rabbitmqctl).
const AUTH = {
  vhosts: ['/', 'test'],
  users: [['alice', 'secret'], ['bob', 'pw']],
  // user, vhost, configure, write, read
  permissions: [['alice', '/', '.*', '.*', '.*'], ['bob', 'test', '^bob-.*', '^bob-.*', '.*']],
};

function ferryAuthSettings() {
  return {
    'auth.vhosts': AUTH.vhosts.join(';'),
    'auth.users': AUTH.users.map(([u, p]) => `${u}:${p}`).join(';'),
    'auth.permissions': AUTH.permissions.map(([u, v, c, w, r]) => `${u}@${v}=${c},${w},${r}`).join(';'),
  };
}

function run(file, args, { timeoutMs = 120000 } = {}) {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      if (err) {
        err.message += `\n  ${file} ${args.join(' ')}\n  stdout: ${stdout}\n  stderr: ${stderr}`;
        reject(err);
      } else {
        resolve({ stdout, stderr });
      }
    });
  });
}

function buildUrl(host, port, { user = 'guest', pass = 'guest', vhost = '/' } = {}) {
  return `amqp://${encodeURIComponent(user)}:${encodeURIComponent(pass)}@${host}:${port}/${encodeURIComponent(vhost)}`;
}

class FerryTarget {
  constructor(broker, options) {
    this.mode = 'ferry';
    this.broker = broker;
    this.options = options;
    this.canRestart = true;
    this.refresh();
  }

  refresh() {
    const addr = this.broker.listeners['amqp.listen'];
    if (!addr) {
      throw new Error(`ferry-broker printed 'ready' without 'listening amqp.listen <host:port>' (is the amqp plugin ` +
        `built and loaded?)\n${this.broker.output()}`);
    }
    const i = addr.lastIndexOf(':');
    this.host = addr.slice(0, i);
    this.port = Number(addr.slice(i + 1));
    this.url = buildUrl(this.host, this.port);
    this.namesrvAddr = this.broker.namesrvAddr;
    this.brokerAddr = this.broker.brokerAddr;
  }

  urlFor(creds) { return buildUrl(this.host, this.port, creds); }

  // broker.js rebinds every reported listener on restart only for rocket: false; with rocket listeners on it reuses
  // their ports itself, so pin amqp.listen to the bound address here.
  pinAmqpPort() {
    this.broker.options.set = { ...(this.broker.options.set || {}), 'amqp.listen': `${this.host}:${this.port}` };
  }

  async restart() {
    this.pinAmqpPort();
    await this.broker.restart();
    this.refresh();
  }

  async kill9AndStart() {
    await this.broker.kill9();
    this.pinAmqpPort();
    await this.broker.restart();
    this.refresh();
  }

  async stop() { return this.broker.stop(); }

  output() { return this.broker.output(); }
}

class RabbitTarget {
  constructor(url, dir) {
    this.mode = 'rabbitmq';
    const u = new URL(url);
    this.host = u.hostname;
    this.port = Number(u.port || 5672);
    this.url = buildUrl(this.host, this.port, {
      user: decodeURIComponent(u.username || 'guest'),
      pass: decodeURIComponent(u.password || 'guest'),
      vhost: '/',
    });
    this.dir = dir || null;
    this.canRestart = !!this.dir;
  }

  urlFor(creds) { return buildUrl(this.host, this.port, creds); }

  async ctl(...args) { return run(SCRIPT, ['ctl', this.dir, ...args], { timeoutMs: 60000 }); }

  async ensureAuth() {
    if (!this.dir) return false;
    const { stdout: vh } = await this.ctl('list_vhosts', '--quiet', '--no-table-headers');
    for (const v of AUTH.vhosts) if (!vh.split('\n').map(s => s.trim()).includes(v)) await this.ctl('add_vhost', v);
    const { stdout: us } = await this.ctl('list_users', '--quiet', '--no-table-headers');
    const have = us.split('\n').map(l => l.split(/\s+/)[0]);
    for (const [u, p] of AUTH.users) {
      if (!have.includes(u)) await this.ctl('add_user', u, p);
      else await this.ctl('change_password', u, p);
    }
    for (const [u, v, c, w, r] of AUTH.permissions) await this.ctl('set_permissions', '-p', v, u, c, w, r);
    // guest: full rights on '/' only (a fresh node's default), none on 'test'
    await this.ctl('clear_permissions', '-p', 'test', 'guest').catch(() => {});
    return true;
  }

  async restart() {
    if (!this.dir) throw new Error('restart needs FERRY_RABBITMQ_DIR');
    await run(SCRIPT, ['restart', this.dir]);
  }

  async kill9AndStart() {
    if (!this.dir) throw new Error('kill -9 needs FERRY_RABBITMQ_DIR');
    await run(SCRIPT, ['kill9', this.dir]);
    await run(SCRIPT, ['start', this.dir, String(this.port)]);
  }

  async stop() { return null; }

  output() { return `(RabbitMQ at ${this.host}:${this.port}${this.dir ? `, logs in ${this.dir}/log` : ''})`; }
}

async function startTarget(options = {}) {
  if (isRabbit) {
    if (options.rocket) throw new Error('the cross-protocol tests run against Ferry only');
    if (!process.env.AMQP_URL) throw new Error('FERRY_AMQP_TARGET=rabbitmq needs AMQP_URL (e.g. amqp://guest:guest@127.0.0.1:5698/)');
    const t = new RabbitTarget(process.env.AMQP_URL, process.env.FERRY_RABBITMQ_DIR);
    if (options.auth) t.authReady = await t.ensureAuth();
    return t;
  }
  const set = { 'amqp.listen': '127.0.0.1:0', ...(options.auth ? ferryAuthSettings() : {}), ...(options.set || {}) };
  let broker;
  if (options.rocket) {
    broker = await startBroker({ set });
  } else {
    // rocket: false keeps broker.js from adding rocket.* keys; turning its listeners off is then ours to do.
    broker = await startBroker({
      rocket: false,
      set: { 'rocket.namesrv_listen': '', 'rocket.broker_listen': '', ...set },
    });
  }
  try {
    const t = new FerryTarget(broker, options);
    t.authReady = !!options.auth;
    return t;
  } catch (err) {
    await broker.kill9().catch(() => {});
    throw err;
  }
}

// For tests that need the broker restarted or killed: returns a skip reason in rabbitmq mode without
// FERRY_RABBITMQ_DIR, else false. Never skips in Ferry mode.
function restartSkip() {
  if (!isRabbit) return false;
  return process.env.FERRY_RABBITMQ_DIR ? false : 'rabbitmq mode without FERRY_RABBITMQ_DIR: cannot restart the node';
}

module.exports = { startTarget, restartSkip, MODE, isRabbit, AUTH, buildUrl, SCRIPT };
