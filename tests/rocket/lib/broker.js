'use strict';
// Starts the real ferry-broker binary for the end-to-end tests.
//
//   const b = await startBroker();                       // name server + broker on 127.0.0.1, ephemeral ports
//   b.namesrvAddr, b.brokerAddr, b.dataDir, b.listeners  // "127.0.0.1:<port>"; listeners: config key -> address
//   await b.stop();      // SIGTERM, resolves {code, signal} once it exited
//   await b.kill9();     // SIGKILL
//   await b.restart();   // same data dir, same ports (so clients reconnect to the same addresses)
//
// Options (all optional):
//   namesrv: true|false        listen a name server (rocket.namesrv_listen=127.0.0.1:0); false sets it empty (off)
//   broker: true|false         listen a broker (rocket.broker_listen=127.0.0.1:0); false sets it empty (off)
//   namesrvAddr: 'h:p;h:p'     register with another process's name server (rocket.namesrv_addr)
//   brokerName, clusterName    broker.name (the kernel's: replication and the name server) / rocket.cluster_name
//   set: {key: value}          extra --set key=value (values passed as one argv item: no shell quoting needed)
//   args: [...]                extra raw arguments
//   dataDir                    else fs.mkdtemp under os.tmpdir() (removed at exit unless FERRY_KEEP_TEST_DATA=1)
//   rocket: false              do not add any rocket.* key (only for harness checks against other plugins)
//   readyTimeoutMs: 20000
//   waitForRegistration: true  after 'ready', wait until the name server lists the broker (registrationTimeoutMs 10000)
//   binary                     else $FERRY_BROKER, else <repo>/build/bin/ferry-broker
// Environment: FERRY_BROKER (CTest sets it), FERRY_STORAGE_PLUGIN (adds --set storage.plugin=...),
// FERRY_STORAGE_FLUSH (storage.flush), FERRY_KEEP_TEST_DATA=1 (keep data dirs), FERRY_BROKER_ECHO=1 (echo output),
// FERRY_ROCKET_SPLIT=1 (name server and broker in two processes, see SplitBroker).
//
// Every process started here is SIGKILLed when the test process exits (or gets SIGINT/SIGTERM/SIGHUP).

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');

const live = new Set(); // ChildProcess
const createdDirs = new Set();
const MAX_CAPTURE = 256 * 1024;

function killAllSync() {
  for (const child of live) {
    try { child.kill('SIGKILL'); } catch { /* already gone */ }
  }
  live.clear();
}

process.on('exit', () => {
  killAllSync();
  if (process.env.FERRY_KEEP_TEST_DATA !== '1') {
    for (const dir of createdDirs) {
      try { fs.rmSync(dir, { recursive: true, force: true }); } catch { /* best effort */ }
    }
  }
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => {
    killAllSync();
    process.exit(128 + (os.constants.signals[sig] || 1));
  });
}

function resolveBinary(explicit) {
  if (explicit) return explicit;
  if (process.env.FERRY_BROKER) return process.env.FERRY_BROKER;
  const fallback = path.resolve(__dirname, '..', '..', '..', 'build', 'bin', 'ferry-broker');
  if (fs.existsSync(fallback)) return fallback;
  throw new Error('FERRY_BROKER is not set (CTest sets it); export FERRY_BROKER=/path/to/ferry-broker');
}

function tail(text, max = 8000) {
  return text.length > max ? '...' + text.slice(text.length - max) : text;
}

function readLogTail(dataDir) {
  try {
    const file = path.join(dataDir, 'logs', 'ferry.log');
    return tail(fs.readFileSync(file, 'utf8'), 6000);
  } catch {
    return '(no log file)';
  }
}

class FerryBroker {
  constructor(options) {
    this.options = { ...options };
    this.binary = resolveBinary(options.binary);
    this.readyTimeoutMs = options.readyTimeoutMs || 20000;
    if (options.dataDir) {
      this.dataDir = options.dataDir;
      fs.mkdirSync(this.dataDir, { recursive: true });
    } else {
      this.dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-rocket-'));
      createdDirs.add(this.dataDir);
    }
    this.child = null;
    this.listeners = {};
    this.namesrvAddr = null;
    this.brokerAddr = null;
    this.stdout = '';
    this.stderr = '';
    this.exitInfo = null;
    this.starts = 0;
  }

  // Builds the argument list; `bound` holds the addresses of the previous run (restart reuses the ports).
  buildArgs(bound = null) {
    const o = this.options;
    const args = ['--data-dir', this.dataDir, '--set', 'log.console=false'];
    const set = (k, v) => args.push('--set', `${k}=${v}`);
    if (o.rocket !== false) {
      const wantNamesrv = o.namesrv !== false;
      const wantBroker = o.broker !== false;
      set('rocket.namesrv_listen', wantNamesrv ? (bound?.namesrv || '127.0.0.1:0') : '');
      set('rocket.broker_listen', wantBroker ? (bound?.broker || '127.0.0.1:0') : '');
      if (o.namesrvAddr) set('rocket.namesrv_addr', o.namesrvAddr);
      if (o.brokerName) set('broker.name', o.brokerName);
      if (o.clusterName) set('rocket.cluster_name', o.clusterName);
    }
    if (process.env.FERRY_STORAGE_PLUGIN && !(o.set && 'storage.plugin' in o.set)) {
      set('storage.plugin', process.env.FERRY_STORAGE_PLUGIN);
    }
    if (process.env.FERRY_STORAGE_FLUSH && !(o.set && 'storage.flush' in o.set)) {
      set('storage.flush', process.env.FERRY_STORAGE_FLUSH);
    }
    // Other protocols' default listeners (amqp 0.0.0.0:5672) stay off unless asked for, so brokers run in parallel.
    if (!(o.set && 'amqp.listen' in o.set) && !(bound && o.rocket === false)) set('amqp.listen', '');
    // The replication listener (default 0.0.0.0:10912) on an ephemeral loopback port, kept across restarts.
    if (!(o.set && 'replication.listen' in o.set)) set('replication.listen', bound?.replication || '127.0.0.1:0');
    // The admin API (default 127.0.0.1:15680) likewise.
    if (!(o.set && 'admin.listen' in o.set)) set('admin.listen', bound?.admin || '127.0.0.1:0');
    for (const [k, v] of Object.entries(o.set || {})) set(k, v);
    if (bound && o.rocket === false) {
      // Harness checks with other plugins: rebind every listen key that was reported.
      for (const [k, v] of Object.entries(bound.all || {})) set(k, v);
    }
    args.push(...(o.args || []));
    return args;
  }

  get running() {
    return this.child !== null && this.exitInfo === null;
  }

  get pid() {
    return this.child ? this.child.pid : null;
  }

  // Spawns and waits for `ready`. Rejects (with stdout, stderr and the log tail) on exit or timeout.
  spawnAndWait(bound) {
    const args = this.buildArgs(bound);
    this.args = args;
    this.stdout = '';
    this.stderr = '';
    this.exitInfo = null;
    this.listeners = {};
    this.starts += 1;
    const echo = process.env.FERRY_BROKER_ECHO === '1';
    const child = spawn(this.binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    live.add(child);
    this.exited = new Promise(resolve => {
      child.once('exit', (code, signal) => {
        live.delete(child);
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
    });

    return new Promise((resolve, reject) => {
      let pending = '';
      let ready = false;
      let settled = false;
      const fail = why => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const err = new Error(`${why}\n  command: ${this.binary} ${args.map(a => JSON.stringify(a)).join(' ')}\n` +
          `  stdout:\n${tail(this.stdout)}\n  stderr:\n${tail(this.stderr)}\n  log:\n${readLogTail(this.dataDir)}`);
        err.stderr = this.stderr;
        err.stdout = this.stdout;
        err.exitInfo = this.exitInfo;
        reject(err);
      };
      const timer = setTimeout(() => {
        fail(`ferry-broker did not print 'ready' within ${this.readyTimeoutMs} ms`);
        try { child.kill('SIGKILL'); } catch { /* gone */ }
      }, this.readyTimeoutMs);

      child.stdout.setEncoding('utf8');
      child.stderr.setEncoding('utf8');
      child.stdout.on('data', chunk => {
        if (echo) process.stderr.write(`[ferry ${child.pid} out] ${chunk}`);
        if (this.stdout.length < MAX_CAPTURE) this.stdout += chunk;
        if (ready) return;
        pending += chunk;
        let nl;
        while ((nl = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, nl).trim();
          pending = pending.slice(nl + 1);
          const m = /^listening (\S+) (\S+)$/.exec(line);
          if (m) {
            this.listeners[m[1]] = m[2];
          } else if (line === 'ready') {
            ready = true;
            this.onReady();
            settled = true;
            clearTimeout(timer);
            resolve(this);
            return;
          }
        }
      });
      child.stderr.on('data', chunk => {
        if (echo) process.stderr.write(`[ferry ${child.pid} err] ${chunk}`);
        if (this.stderr.length < MAX_CAPTURE) this.stderr += chunk;
      });
      child.once('error', err => fail(`cannot run ${this.binary}: ${err.message}`));
      child.once('exit', (code, signal) => fail(`ferry-broker exited before 'ready' (code ${code}, signal ${signal})`));
    });
  }

  onReady() {
    this.namesrvAddr = this.listeners['rocket.namesrv_listen'] || null;
    this.brokerAddr = this.listeners['rocket.broker_listen'] || null;
    const o = this.options;
    if (o.rocket !== false) {
      const missing = [];
      if (o.namesrv !== false && !this.namesrvAddr) missing.push('rocket.namesrv_listen');
      if (o.broker !== false && !this.brokerAddr) missing.push('rocket.broker_listen');
      if (missing.length) {
        // Reported as a failure by the caller through the returned object; keep the process for its output.
        this.missingListeners = missing;
      }
    }
    // A broker left running must not keep the test process alive: the exit handler kills it.
    this.child.unref();
    this.child.stdout.unref?.();
    this.child.stderr.unref?.();
  }

  async start() {
    await this.spawnAndWait(null);
    this.checkListeners();
    await this.waitForRegistration();
    return this;
  }

  // A broker registers with its name server(s) asynchronously after 'ready' (as Apache's does): wait until the first
  // one lists this broker's address in GET_BROKER_CLUSTER_INFO, so tests start from a routable broker and a broker
  // that never registers fails here, clearly, instead of in every test. Off with waitForRegistration: false.
  async waitForRegistration() {
    const o = this.options;
    if (o.rocket === false || o.waitForRegistration === false || !this.brokerAddr) return;
    const ns = this.namesrvAddr || (o.namesrvAddr ? String(o.namesrvAddr).split(';')[0] : null);
    if (!ns) return;
    // required lazily: remoting.js does not need this module
    const R = require('./remoting');
    const timeoutMs = o.registrationTimeoutMs || 10000;
    const deadline = Date.now() + timeoutMs;
    let last = 'no answer';
    for (;;) {
      try {
        const info = await R.withConnection(ns, async c => {
          const resp = await c.request(R.RequestCode.GET_BROKER_CLUSTER_INFO, {}, null, { timeoutMs: 3000 });
          return resp.code === 0 ? JSON.parse(resp.body.toString('utf8')) : { error: `code ${resp.code} ${resp.remark || ''}` };
        });
        if (info.error) {
          last = info.error;
        } else {
          const addrs = Object.values(info.brokerAddrTable || {}).flatMap(bd => Object.values(bd.brokerAddrs || {}));
          if (addrs.includes(this.brokerAddr)) return;
          last = JSON.stringify(info);
        }
      } catch (err) {
        last = err.message;
      }
      if (!this.running) throw new Error(`ferry-broker exited while waiting for its registration\n${this.output()}`);
      if (Date.now() >= deadline) {
        throw new Error(`the broker ${this.brokerAddr} did not register with the name server ${ns} within ` +
          `${timeoutMs} ms (GET_BROKER_CLUSTER_INFO: ${last})\n${this.output()}`);
      }
      await new Promise(r => setTimeout(r, 100));
    }
  }

  checkListeners() {
    if (this.missingListeners) {
      const missing = this.missingListeners;
      this.missingListeners = null;
      throw new Error(`ferry-broker printed 'ready' without 'listening ${missing.join("', 'listening ")}'\n` +
        `  stdout:\n${tail(this.stdout)}`);
    }
  }

  // SIGTERM, then waits for the exit (SIGKILL after timeoutMs). Resolves {code, signal}.
  async stop({ timeoutMs = 15000 } = {}) {
    return this.signalAndWait('SIGTERM', timeoutMs);
  }

  async kill9() {
    return this.signalAndWait('SIGKILL', 10000);
  }

  async signalAndWait(sig, timeoutMs) {
    if (!this.child) return null;
    if (this.exitInfo) return this.exitInfo;
    // A ref'd timer keeps the event loop alive while we wait (the child itself is unref'd).
    let timer;
    const timeout = new Promise(resolve => { timer = setTimeout(() => resolve(null), timeoutMs); });
    try { this.child.kill(sig); } catch { /* gone */ }
    const info = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    if (info) return info;
    try { this.child.kill('SIGKILL'); } catch { /* gone */ }
    await this.exited;
    throw new Error(`ferry-broker (pid ${this.child.pid}) did not exit within ${timeoutMs} ms after ${sig}`);
  }

  // Stops it if running, then starts it again with the same data dir and the same ports. A few attempts, since a
  // port can take a moment to be free again.
  async restart({ attempts = 5 } = {}) {
    if (this.running) await this.stop();
    const bound = {
      namesrv: this.namesrvAddr,
      broker: this.brokerAddr,
      replication: this.listeners['replication.listen'],
      admin: this.listeners['admin.listen'],
      all: { ...this.listeners },
    };
    let lastErr = null;
    for (let i = 0; i < attempts; i++) {
      try {
        await this.spawnAndWait(bound);
        this.checkListeners();
        if ((bound.namesrv && this.namesrvAddr !== bound.namesrv) || (bound.broker && this.brokerAddr !== bound.broker)) {
          throw new Error(`restart bound other addresses: ${JSON.stringify(this.listeners)} (wanted ${JSON.stringify(bound)})`);
        }
        await this.waitForRegistration();
        return this;
      } catch (err) {
        lastErr = err;
        if (this.running) await this.kill9().catch(() => {});
        if (!err.exitInfo) break; // a timeout or a wrong address: retrying will not help
        await new Promise(r => setTimeout(r, 500));
      }
    }
    throw lastErr;
  }

  // What it printed so far, for assertion messages.
  output() {
    return `stdout:\n${tail(this.stdout)}\nstderr:\n${tail(this.stderr)}\nlog:\n${readLogTail(this.dataDir)}`;
  }
}

// FERRY_ROCKET_SPLIT=1: a default startBroker() (both roles, no namesrvAddr) runs the name server and the broker as
// two processes, the broker registering with the other's name server, behind the same interface. kill9() and
// restart() act on the broker process (restart() also restarts a stopped name server: stop() stops both).
class SplitBroker {
  constructor(ns, broker) {
    this.ns = ns;
    this.broker = broker;
    this.namesrvAddr = ns.namesrvAddr;
    this.brokerAddr = broker.brokerAddr;
    this.dataDir = broker.dataDir;
    this.listeners = { ...ns.listeners, ...broker.listeners };
  }

  get running() { return this.broker.running && this.ns.running; }

  get pid() { return this.broker.pid; }

  async stop(opts) {
    const r = await this.broker.stop(opts);
    const n = await this.ns.stop(opts);
    return r && r.code === 0 && n && n.code !== 0 ? n : r;
  }

  async kill9() { return this.broker.kill9(); }

  // Restarts the broker process; the name server only if it was stopped too (stop() stops both).
  async restart(opts) {
    if (!this.ns.running) await this.ns.restart(opts);
    await this.broker.restart(opts);
    return this;
  }

  output() {
    return `--- name server process ---\n${this.ns.output()}\n--- broker process ---\n${this.broker.output()}`;
  }
}

async function startBroker(options = {}) {
  if (process.env.FERRY_ROCKET_SPLIT === '1' && options.rocket !== false && options.namesrv !== false &&
      options.broker !== false && !options.namesrvAddr) {
    const ns = await startBroker({ ...options, broker: false, dataDir: undefined });
    try {
      const b = await startBroker({ ...options, namesrv: false, namesrvAddr: ns.namesrvAddr });
      return new SplitBroker(ns, b);
    } catch (err) {
      await ns.kill9().catch(() => {});
      throw err;
    }
  }
  const b = new FerryBroker(options);
  try {
    return await b.start();
  } catch (err) {
    if (b.running) await b.kill9().catch(() => {});
    throw err;
  }
}

module.exports = { startBroker, FerryBroker, SplitBroker };
