'use strict';
// Replication helpers for the tests (docs/replication.md): the replication listener's admin requests, a TCP proxy
// that cuts or holds a slave's connection, and ferry-broker's one-shot replication commands.
//
//   await status(broker)                 // "status" on broker.listeners['replication.listen']: parsed JSON
//   await digest(broker)                 // "digest": per queue bounds, records and hashes; metadata/offsets hashes
//   const p = await replicationProxy(master); p.address; p.cut(); p.hold(); p.close();
//   await brokerCommand(['--promote', ...])   // {code, stdout, stderr}

const assert = require('node:assert/strict');
const net = require('node:net');
const path = require('node:path');
const { execFile } = require('node:child_process');

// ---- the replication admin protocol: u32 length | u8 type | payload (docs/replication.md) ----------------------
function adminRequest(address, command) {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const cmd = Buffer.from(command);
    const frame = Buffer.alloc(4 + 1 + 4 + cmd.length);
    frame.writeUInt32BE(1 + 4 + cmd.length, 0);
    frame.writeUInt8(2, 4);
    frame.writeUInt32BE(cmd.length, 5);
    cmd.copy(frame, 9);
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no answer to '${command}' from ${address}`)); }, 10000);
    socket.on('error', err => { clearTimeout(timer); reject(err); });
    socket.on('data', chunk => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < 4 || buf.length < 4 + buf.readUInt32BE(0)) return;
      clearTimeout(timer);
      socket.destroy();
      assert.equal(buf.readUInt8(4), 3, 'an AdminReply frame');
      const status = buf.readInt32BE(5);
      const text = buf.subarray(13, 13 + buf.readUInt32BE(9)).toString();
      if (status !== 0) reject(new Error(`'${command}' failed (${status}): ${text}`));
      else resolve(JSON.parse(text));
    });
    socket.write(frame);
  });
}

const status = b => adminRequest(b.listeners['replication.listen'], 'status');
const digest = b => adminRequest(b.listeners['replication.listen'], 'digest');

// A TCP proxy in front of a master's replication listener. cut() ends every connection through it (the slave
// reconnects); hold() drops from then on what the master sends, so the slave gets nothing more on that connection.
async function replicationProxy(master) {
  const sockets = new Set();
  let held = false;
  const server = net.createServer(client => {
    const [host, port] = master.listeners['replication.listen'].split(':');
    const upstream = net.connect({ host, port: Number(port) });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => { sockets.delete(s); (s === client ? upstream : client).destroy(); });
    }
    client.pipe(upstream);
    upstream.on('data', d => { if (!held) client.write(d); });
  });
  await new Promise(r => server.listen(0, '127.0.0.1', r));
  return {
    address: `127.0.0.1:${server.address().port}`,
    cut() { for (const s of sockets) s.destroy(); },
    hold() { held = true; },
    close() { server.close(); for (const s of sockets) s.destroy(); },
  };
}

// ferry-broker's one-shot replication commands (--promote, --follow, ...): resolves {code, stdout, stderr}.
function brokerCommand(args) {
  const binary = process.env.FERRY_BROKER || path.resolve(__dirname, '..', '..', '..', 'build', 'bin', 'ferry-broker');
  return new Promise(resolve => {
    execFile(binary, args, { timeout: 90000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }));
  });
}

module.exports = { adminRequest, status, digest, replicationProxy, brokerCommand };
