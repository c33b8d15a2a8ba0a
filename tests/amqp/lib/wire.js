'use strict';
// A raw AMQP 0-9-1 client for what no client library sends: hand-built frames over a plain TCP socket, so tests can
// write a bad frame end, an unknown field type, a frame on an unopened channel, an oversized frame, or simply stop
// answering heartbeats, and read exactly what the server answers. Field tables use RabbitMQ's types (see
// ../../../../shared/protocols/amqp-0-9-1.md, "Field tables").
//
//   const W = require('./lib/wire');
//   const c = await W.RawConnection.open(t.host, t.port, { heartbeat: 0, frameMax: 131072 });  // through open-ok
//   c.start                                           // decoded connection.start (serverProperties, mechanisms, ...)
//   c.tune                                            // decoded connection.tune
//   await c.openChannel(1);
//   c.method(1, 'queue.declare', { queue: 'q', durable: true });  // writes one method frame
//   const f = await c.expectMethod(1, 'queue.declare-ok');       // next method frame on channel 1 (else it throws)
//   c.write(W.frame(W.FRAME_METHOD, 1, payload, 0x00));            // anything, byte for byte
//   const close = await c.expectConnectionClose();                 // {replyCode, replyText, classId, methodId}
//   await c.closed;                                                // socket closed by the server

const net = require('node:net');
const assert = require('node:assert/strict');

const FRAME_METHOD = 1;
const FRAME_HEADER = 2;
const FRAME_BODY = 3;
const FRAME_HEARTBEAT = 8;
const FRAME_END = 0xce;
const PROTOCOL_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]);

// class.method -> [classId, methodId, [[type, field], ...]]; both directions. Types: octet short long longlong
// shortstr longstr table bit.
const SPEC = {
  'connection.start': [10, 10, [['octet', 'versionMajor'], ['octet', 'versionMinor'], ['table', 'serverProperties'],
    ['longstr', 'mechanisms'], ['longstr', 'locales']]],
  'connection.start-ok': [10, 11, [['table', 'clientProperties'], ['shortstr', 'mechanism'], ['longstr', 'response'],
    ['shortstr', 'locale']]],
  'connection.secure': [10, 20, [['longstr', 'challenge']]],
  'connection.tune': [10, 30, [['short', 'channelMax'], ['long', 'frameMax'], ['short', 'heartbeat']]],
  'connection.tune-ok': [10, 31, [['short', 'channelMax'], ['long', 'frameMax'], ['short', 'heartbeat']]],
  'connection.open': [10, 40, [['shortstr', 'virtualHost'], ['shortstr', 'capabilities'], ['bit', 'insist']]],
  'connection.open-ok': [10, 41, [['shortstr', 'knownHosts']]],
  'connection.close': [10, 50, [['short', 'replyCode'], ['shortstr', 'replyText'], ['short', 'classId'],
    ['short', 'methodId']]],
  'connection.close-ok': [10, 51, []],
  'connection.blocked': [10, 60, [['shortstr', 'reason']]],
  'connection.unblocked': [10, 61, []],
  'channel.open': [20, 10, [['shortstr', 'outOfBand']]],
  'channel.open-ok': [20, 11, [['longstr', 'channelId']]],
  'channel.flow': [20, 20, [['bit', 'active']]],
  'channel.flow-ok': [20, 21, [['bit', 'active']]],
  'channel.close': [20, 40, [['short', 'replyCode'], ['shortstr', 'replyText'], ['short', 'classId'],
    ['short', 'methodId']]],
  'channel.close-ok': [20, 41, []],
  'exchange.declare': [40, 10, [['short', 'ticket'], ['shortstr', 'exchange'], ['shortstr', 'type'], ['bit', 'passive'],
    ['bit', 'durable'], ['bit', 'autoDelete'], ['bit', 'internal'], ['bit', 'nowait'], ['table', 'arguments']]],
  'exchange.declare-ok': [40, 11, []],
  'queue.declare': [50, 10, [['short', 'ticket'], ['shortstr', 'queue'], ['bit', 'passive'], ['bit', 'durable'],
    ['bit', 'exclusive'], ['bit', 'autoDelete'], ['bit', 'nowait'], ['table', 'arguments']]],
  'queue.declare-ok': [50, 11, [['shortstr', 'queue'], ['long', 'messageCount'], ['long', 'consumerCount']]],
  'queue.bind': [50, 20, [['short', 'ticket'], ['shortstr', 'queue'], ['shortstr', 'exchange'],
    ['shortstr', 'routingKey'], ['bit', 'nowait'], ['table', 'arguments']]],
  'queue.bind-ok': [50, 21, []],
  'queue.purge': [50, 30, [['short', 'ticket'], ['shortstr', 'queue'], ['bit', 'nowait']]],
  'queue.purge-ok': [50, 31, [['long', 'messageCount']]],
  'queue.delete': [50, 40, [['short', 'ticket'], ['shortstr', 'queue'], ['bit', 'ifUnused'], ['bit', 'ifEmpty'],
    ['bit', 'nowait']]],
  'queue.delete-ok': [50, 41, [['long', 'messageCount']]],
  'basic.qos': [60, 10, [['long', 'prefetchSize'], ['short', 'prefetchCount'], ['bit', 'global']]],
  'basic.qos-ok': [60, 11, []],
  'basic.consume': [60, 20, [['short', 'ticket'], ['shortstr', 'queue'], ['shortstr', 'consumerTag'], ['bit', 'noLocal'],
    ['bit', 'noAck'], ['bit', 'exclusive'], ['bit', 'nowait'], ['table', 'arguments']]],
  'basic.consume-ok': [60, 21, [['shortstr', 'consumerTag']]],
  'basic.cancel': [60, 30, [['shortstr', 'consumerTag'], ['bit', 'nowait']]],
  'basic.cancel-ok': [60, 31, [['shortstr', 'consumerTag']]],
  'basic.publish': [60, 40, [['short', 'ticket'], ['shortstr', 'exchange'], ['shortstr', 'routingKey'],
    ['bit', 'mandatory'], ['bit', 'immediate']]],
  'basic.return': [60, 50, [['short', 'replyCode'], ['shortstr', 'replyText'], ['shortstr', 'exchange'],
    ['shortstr', 'routingKey']]],
  'basic.deliver': [60, 60, [['shortstr', 'consumerTag'], ['longlong', 'deliveryTag'], ['bit', 'redelivered'],
    ['shortstr', 'exchange'], ['shortstr', 'routingKey']]],
  'basic.get': [60, 70, [['short', 'ticket'], ['shortstr', 'queue'], ['bit', 'noAck']]],
  'basic.get-ok': [60, 71, [['longlong', 'deliveryTag'], ['bit', 'redelivered'], ['shortstr', 'exchange'],
    ['shortstr', 'routingKey'], ['long', 'messageCount']]],
  'basic.get-empty': [60, 72, [['shortstr', 'clusterId']]],
  'basic.ack': [60, 80, [['longlong', 'deliveryTag'], ['bit', 'multiple']]],
  'basic.reject': [60, 90, [['longlong', 'deliveryTag'], ['bit', 'requeue']]],
  'basic.recover': [60, 110, [['bit', 'requeue']]],
  'basic.recover-ok': [60, 111, []],
  'basic.nack': [60, 120, [['longlong', 'deliveryTag'], ['bit', 'multiple'], ['bit', 'requeue']]],
  'confirm.select': [85, 10, [['bit', 'nowait']]],
  'confirm.select-ok': [85, 11, []],
  'tx.select': [90, 10, []],
  'tx.select-ok': [90, 11, []],
  'tx.commit': [90, 20, []],
  'tx.commit-ok': [90, 21, []],
  'tx.rollback': [90, 30, []],
  'tx.rollback-ok': [90, 31, []],
};
const BY_ID = new Map(Object.entries(SPEC).map(([n, [c, m, args]]) => [c * 65536 + m, { name: n, args }]));

// Basic properties in flag order (bit 15 first).
const BASIC_PROPS = [['shortstr', 'contentType'], ['shortstr', 'contentEncoding'], ['table', 'headers'],
  ['octet', 'deliveryMode'], ['octet', 'priority'], ['shortstr', 'correlationId'], ['shortstr', 'replyTo'],
  ['shortstr', 'expiration'], ['shortstr', 'messageId'], ['longlong', 'timestamp'], ['shortstr', 'type'],
  ['shortstr', 'userId'], ['shortstr', 'appId'], ['shortstr', 'clusterId']];

// ---- encoding -------------------------------------------------------------------------------------------------

// A typed table value: W.typed('l', 5n), W.typed('x', buf); plain JS values map as: string 'S', boolean 't',
// integer 'I' (or 'l' beyond int32), other number 'd', bigint 'l', Buffer 'x', Array 'A', null 'V', object 'F'.
const typed = (type, value) => ({ __typed: true, type, value });

class Writer {
  constructor() { this.parts = []; }
  raw(buf) { this.parts.push(Buffer.from(buf)); return this; }
  octet(v) { const b = Buffer.alloc(1); b.writeUInt8(v & 0xff); return this.raw(b); }
  short(v) { const b = Buffer.alloc(2); b.writeUInt16BE(v & 0xffff); return this.raw(b); }
  long(v) { const b = Buffer.alloc(4); b.writeUInt32BE(v >>> 0); return this.raw(b); }
  longlong(v) { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(v)); return this.raw(b); }
  shortstr(s) {
    const b = Buffer.from(s || '', 'utf8');
    if (b.length > 255) throw new Error('shortstr longer than 255 bytes');
    return this.octet(b.length).raw(b);
  }
  longstr(s) { const b = Buffer.isBuffer(s) ? s : Buffer.from(s || '', 'utf8'); return this.long(b.length).raw(b); }
  table(obj) { const t = encodeTable(obj || {}); return this.long(t.length).raw(t); }
  value(v) {
    if (v && v.__typed) return this.typedValue(v.type, v.value);
    if (v === null || v === undefined) return this.raw('V');
    if (typeof v === 'string') return this.typedValue('S', v);
    if (typeof v === 'boolean') return this.typedValue('t', v);
    if (typeof v === 'bigint') return this.typedValue('l', v);
    if (typeof v === 'number') {
      if (Number.isInteger(v)) return this.typedValue(v >= -2147483648 && v <= 2147483647 ? 'I' : 'l', v);
      return this.typedValue('d', v);
    }
    if (Buffer.isBuffer(v)) return this.typedValue('x', v);
    if (Array.isArray(v)) return this.typedValue('A', v);
    return this.typedValue('F', v);
  }
  typedValue(type, v) {
    this.raw(type);
    const b = Buffer.alloc(8);
    switch (type) {
      case 't': return this.octet(v ? 1 : 0);
      case 'b': b.writeInt8(v); return this.raw(b.subarray(0, 1));
      case 'B': return this.octet(v);
      case 's': b.writeInt16BE(v); return this.raw(b.subarray(0, 2));
      case 'u': return this.short(v);
      case 'I': b.writeInt32BE(v); return this.raw(b.subarray(0, 4));
      case 'i': return this.long(v);
      case 'l': b.writeBigInt64BE(BigInt(v)); return this.raw(b);
      case 'f': b.writeFloatBE(v); return this.raw(b.subarray(0, 4));
      case 'd': b.writeDoubleBE(v); return this.raw(b);
      case 'T': return this.longlong(v);
      case 'S': case 'x': return this.longstr(v);
      case 'F': return this.table(v);
      case 'A': {
        const w = new Writer();
        for (const item of v) w.value(item);
        const body = w.toBuffer();
        return this.long(body.length).raw(body);
      }
      case 'V': return this;
      default: throw new Error(`cannot encode field type ${type}`);
    }
  }
  toBuffer() { return Buffer.concat(this.parts); }
}

function encodeTable(obj) {
  const w = new Writer();
  for (const [k, v] of Object.entries(obj)) w.shortstr(k).value(v);
  return w.toBuffer();
}

function encodeArgs(w, args, fields) {
  let bits = [];
  const flush = () => {
    if (!bits.length) return;
    let octet = 0;
    bits.forEach((on, i) => { if (on) octet |= 1 << i; });
    w.octet(octet);
    bits = [];
  };
  for (const [type, field] of args) {
    const v = fields[field];
    if (type === 'bit') { bits.push(!!v); if (bits.length === 8) flush(); continue; }
    flush();
    switch (type) {
      case 'octet': w.octet(v || 0); break;
      case 'short': w.short(v || 0); break;
      case 'long': w.long(v || 0); break;
      case 'longlong': w.longlong(v || 0); break;
      case 'shortstr': w.shortstr(v || ''); break;
      case 'longstr': w.longstr(v || ''); break;
      case 'table': if (Buffer.isBuffer(v)) w.long(v.length).raw(v); else w.table(v); break; // a Buffer: raw table
      default: throw new Error(`unknown argument type ${type}`);
    }
  }
  flush();
}

// The payload of a method frame.
function methodPayload(name, fields = {}) {
  const spec = SPEC[name];
  if (!spec) throw new Error(`unknown method ${name}`);
  const w = new Writer().short(spec[0]).short(spec[1]);
  encodeArgs(w, spec[2], fields);
  return w.toBuffer();
}

function frame(type, channel, payload, end = FRAME_END) {
  const head = Buffer.alloc(7);
  head.writeUInt8(type, 0);
  head.writeUInt16BE(channel, 1);
  head.writeUInt32BE(payload.length, 3);
  return Buffer.concat([head, payload, Buffer.from([end])]);
}

const methodFrame = (channel, name, fields) => frame(FRAME_METHOD, channel, methodPayload(name, fields));
const heartbeatFrame = () => frame(FRAME_HEARTBEAT, 0, Buffer.alloc(0));

function headerPayload(classId, bodySize, props = {}) {
  const w = new Writer().short(classId).short(0).longlong(bodySize);
  let flags = 0;
  const present = [];
  BASIC_PROPS.forEach(([type, field], i) => {
    if (props[field] !== undefined) { flags |= 1 << (15 - i); present.push([type, field]); }
  });
  w.short(flags);
  for (const [type, field] of present) encodeArgs(w, [[type, field]], props);
  return w.toBuffer();
}

// basic.publish + content header + body frames (split at frameMax - 8 bytes of payload).
function publishFrames(channel, { exchange = '', routingKey = '', mandatory = false, immediate = false } = {},
  body = Buffer.alloc(0), props = {}, frameMax = 131072) {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const out = [methodFrame(channel, 'basic.publish', { exchange, routingKey, mandatory, immediate }),
    frame(FRAME_HEADER, channel, headerPayload(60, b.length, props))];
  const max = frameMax - 8;
  for (let off = 0; off < b.length; off += max) out.push(frame(FRAME_BODY, channel, b.subarray(off, off + max)));
  return Buffer.concat(out);
}

// ---- decoding -------------------------------------------------------------------------------------------------

class Reader {
  constructor(buf) { this.buf = buf; this.pos = 0; }
  need(n) { if (this.pos + n > this.buf.length) throw new Error(`truncated: need ${n} at ${this.pos} of ${this.buf.length}`); }
  octet() { this.need(1); return this.buf.readUInt8(this.pos++); }
  short() { this.need(2); const v = this.buf.readUInt16BE(this.pos); this.pos += 2; return v; }
  long() { this.need(4); const v = this.buf.readUInt32BE(this.pos); this.pos += 4; return v; }
  longlong() { this.need(8); const v = this.buf.readBigUInt64BE(this.pos); this.pos += 8; return Number(v); }
  bytes(n) { this.need(n); const v = this.buf.subarray(this.pos, this.pos + n); this.pos += n; return v; }
  shortstr() { return this.bytes(this.octet()).toString('utf8'); }
  longstr() { return this.bytes(this.long()); }
  table() { return decodeTable(this.bytes(this.long())); }
  value() {
    const t = String.fromCharCode(this.octet());
    const b = () => this.buf;
    let v;
    switch (t) {
      case 't': return this.octet() !== 0;
      case 'b': this.need(1); v = b().readInt8(this.pos); this.pos += 1; return v;
      case 'B': return this.octet();
      case 's': this.need(2); v = b().readInt16BE(this.pos); this.pos += 2; return v;
      case 'u': return this.short();
      case 'I': this.need(4); v = b().readInt32BE(this.pos); this.pos += 4; return v;
      case 'i': return this.long();
      case 'l': this.need(8); v = b().readBigInt64BE(this.pos); this.pos += 8; return Number(v);
      case 'f': this.need(4); v = b().readFloatBE(this.pos); this.pos += 4; return v;
      case 'd': this.need(8); v = b().readDoubleBE(this.pos); this.pos += 8; return v;
      case 'D': { const scale = this.octet(); this.need(4); v = b().readInt32BE(this.pos); this.pos += 4; return { scale, value: v }; }
      case 'S': return this.longstr().toString('utf8');
      case 'x': return this.longstr();
      case 'T': return this.longlong();
      case 'F': return this.table();
      case 'A': {
        const r = new Reader(this.bytes(this.long()));
        const arr = [];
        while (r.pos < r.buf.length) arr.push(r.value());
        return arr;
      }
      case 'V': return null;
      default: throw new Error(`unknown field type '${t}'`);
    }
  }
}

function decodeTable(buf) {
  const r = new Reader(buf);
  const out = {};
  while (r.pos < buf.length) {
    const k = r.shortstr();
    out[k] = r.value();
  }
  return out;
}

function decodeArgs(r, args) {
  const out = {};
  let bitOctet = 0;
  let bitIndex = 8;
  for (const [type, field] of args) {
    if (type === 'bit') {
      if (bitIndex === 8) { bitOctet = r.octet(); bitIndex = 0; }
      out[field] = (bitOctet & (1 << bitIndex)) !== 0;
      bitIndex += 1;
      continue;
    }
    bitIndex = 8;
    out[field] = r[type]();
  }
  return out;
}

function decodeMethod(payload) {
  const r = new Reader(payload);
  const classId = r.short();
  const methodId = r.short();
  const spec = BY_ID.get(classId * 65536 + methodId);
  if (!spec) return { name: `${classId}.${methodId}`, classId, methodId, fields: {}, raw: payload };
  return { name: spec.name, classId, methodId, fields: decodeArgs(r, spec.args) };
}

function decodeHeader(payload) {
  const r = new Reader(payload);
  const classId = r.short();
  r.short(); // weight
  const bodySize = r.longlong();
  const flags = r.short();
  const props = {};
  BASIC_PROPS.forEach(([type, field], i) => {
    if (flags & (1 << (15 - i))) props[field] = r[type]();
  });
  return { classId, bodySize, properties: props };
}

// Splits a byte stream into frames. Yields {type, channel, size, payload, end, method?, header?} or
// {type: 'protocol-header', bytes} when the server answers with its own protocol header.
class FrameParser {
  constructor() { this.buf = Buffer.alloc(0); }
  push(chunk) {
    this.buf = Buffer.concat([this.buf, chunk]);
    const out = [];
    for (;;) {
      if (this.buf.length >= 8 && this.buf.subarray(0, 4).toString('latin1') === 'AMQP') {
        out.push({ type: 'protocol-header', bytes: Buffer.from(this.buf.subarray(0, 8)) });
        this.buf = this.buf.subarray(8);
        continue;
      }
      if (this.buf.length < 7) break;
      const size = this.buf.readUInt32BE(3);
      if (this.buf.length < 7 + size + 1) break;
      const f = {
        type: this.buf.readUInt8(0),
        channel: this.buf.readUInt16BE(1),
        size,
        payload: Buffer.from(this.buf.subarray(7, 7 + size)),
        end: this.buf.readUInt8(7 + size),
      };
      this.buf = this.buf.subarray(8 + size);
      if (f.type === FRAME_METHOD) f.method = decodeMethod(f.payload);
      else if (f.type === FRAME_HEADER) f.header = decodeHeader(f.payload);
      out.push(f);
    }
    return out;
  }
}

function describeFrame(f) {
  if (!f) return '(none)';
  if (f.type === 'protocol-header') return `protocol header ${f.bytes.toString('hex')}`;
  if (f.type === FRAME_METHOD) return `method ${f.method.name} on ${f.channel} ${JSON.stringify(f.method.fields, (k, v) => (Buffer.isBuffer(v) || (v && v.type === 'Buffer') ? '<bytes>' : v))}`;
  if (f.type === FRAME_HEADER) return `content header on ${f.channel} size ${f.header.bodySize}`;
  if (f.type === FRAME_BODY) return `body on ${f.channel} (${f.size} bytes)`;
  if (f.type === FRAME_HEARTBEAT) return 'heartbeat';
  return `frame type ${f.type} on ${f.channel}`;
}

// ---- the connection -------------------------------------------------------------------------------------------

class RawConnection {
  // A TCP connection, nothing sent yet.
  static connect(host, port, { timeoutMs = 5000 } = {}) {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ host, port });
      const timer = setTimeout(() => { sock.destroy(); reject(new Error(`connect ${host}:${port} timed out`)); }, timeoutMs);
      sock.once('connect', () => { clearTimeout(timer); resolve(new RawConnection(sock)); });
      sock.once('error', err => { clearTimeout(timer); reject(err); });
    });
  }

  // Connect and run the whole handshake through connection.open-ok (throws with what the server sent otherwise).
  static async open(host, port, opts = {}) {
    const c = await RawConnection.connect(host, port);
    try {
      await c.handshake(opts);
    } catch (err) {
      c.destroy();
      throw err;
    }
    return c;
  }

  constructor(sock) {
    this.sock = sock;
    this.parser = new FrameParser();
    this.frames = []; // unread
    this.log = []; // every frame received, for messages
    this.waiters = [];
    this.autoHeartbeat = true; // answer server heartbeats (set false to play dead)
    this.heartbeatsReceived = 0;
    this.frameMax = 131072;
    this.socketClosed = false;
    this.closed = new Promise(resolve => {
      sock.once('close', () => {
        this.socketClosed = true;
        this.closedAt = Date.now();
        this.wake();
        resolve();
      });
    });
    sock.on('error', err => { this.socketError = err; });
    sock.on('data', chunk => {
      let frames;
      try {
        frames = this.parser.push(chunk);
      } catch (err) {
        this.parseError = err;
        sock.destroy();
        return;
      }
      for (const f of frames) {
        this.log.push(f);
        if (f.type === FRAME_HEARTBEAT) {
          this.heartbeatsReceived += 1;
          if (this.autoHeartbeat && !this.sock.destroyed) this.write(heartbeatFrame());
          continue;
        }
        this.frames.push(f);
      }
      this.wake();
    });
  }

  wake() {
    const w = this.waiters.splice(0);
    for (const fn of w) fn();
  }

  write(buf) {
    if (!this.sock.destroyed) this.sock.write(buf);
  }

  method(channel, name, fields) { this.write(methodFrame(channel, name, fields)); }

  publish(channel, fields, body, props) { this.write(publishFrames(channel, fields, body, props, this.frameMax)); }

  destroy() { this.sock.destroy(); }

  recent(n = 8) { return this.log.slice(-n).map(describeFrame).join('\n    '); }

  // Next unread frame matching pred (frames before it stay unread unless `consume` is true). Rejects on timeout or
  // when the socket closes first.
  next(pred = () => true, { timeoutMs = 5000, what = 'a frame' } = {}) {
    return new Promise((resolve, reject) => {
      const deadline = Date.now() + timeoutMs;
      let timer = null;
      const check = () => {
        const i = this.frames.findIndex(pred);
        if (i >= 0) {
          clearTimeout(timer);
          resolve(this.frames.splice(i, 1)[0]);
          return;
        }
        if (this.socketClosed) {
          clearTimeout(timer);
          reject(new Error(`socket closed while waiting for ${what}; last frames:\n    ${this.recent()}`));
          return;
        }
        if (Date.now() >= deadline) {
          reject(new Error(`no ${what} within ${timeoutMs} ms; last frames:\n    ${this.recent()}`));
          return;
        }
        this.waiters.push(check);
      };
      timer = setTimeout(() => { this.waiters = this.waiters.filter(w => w !== check); check(); }, timeoutMs + 5);
      check();
    });
  }

  // The next method frame on `channel` (any frame before it on that channel is an error, except content frames
  // when `skipContent`). Throws unless it is `name`.
  async expectMethod(channel, name, { timeoutMs = 5000 } = {}) {
    const f = await this.next(x => x.type !== 'protocol-header' && x.channel === channel && x.type === FRAME_METHOD,
      { timeoutMs, what: `${name} on channel ${channel}` });
    if (f.method.name !== name) {
      throw new Error(`expected ${name} on channel ${channel}, got ${describeFrame(f)}`);
    }
    return f.method.fields;
  }

  // Waits for connection.close from the server, answers close-ok, and resolves its fields; then the socket should
  // close. Throws if the socket closes without connection.close.
  async expectConnectionClose({ timeoutMs = 5000 } = {}) {
    const f = await this.next(x => x.type === FRAME_METHOD && x.channel === 0 && x.method.name === 'connection.close',
      { timeoutMs, what: 'connection.close' });
    this.method(0, 'connection.close-ok', {});
    return f.method.fields;
  }

  async expectChannelClose(channel, { timeoutMs = 5000 } = {}) {
    const f = await this.next(x => x.type === FRAME_METHOD && x.channel === channel && x.method.name === 'channel.close',
      { timeoutMs, what: `channel.close on ${channel}` });
    this.method(channel, 'channel.close-ok', {});
    return f.method.fields;
  }

  // Resolves once the server closed the socket (rejects after timeoutMs).
  async expectSocketClosed({ timeoutMs = 5000 } = {}) {
    let timer;
    const t = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`the server kept the socket open for ${timeoutMs} ms; last frames:\n    ${this.recent()}`)), timeoutMs); });
    try { await Promise.race([this.closed, t]); } finally { clearTimeout(timer); }
  }

  // The handshake. Options: user, pass, vhost, mechanism ('PLAIN'|'AMQPLAIN'), response (raw), heartbeat, frameMax,
  // channelMax (what tune-ok sends; `null` = echo the server's), clientProperties, stopAfter ('start'|'tune'|'open').
  async handshake({ user = 'guest', pass = 'guest', vhost = '/', mechanism = 'PLAIN', response, heartbeat = 0,
    frameMax = null, channelMax = null, clientProperties, stopAfter = 'open', header = PROTOCOL_HEADER } = {}) {
    this.write(header);
    const s = await this.next(f => f.type === FRAME_METHOD || f.type === 'protocol-header', { what: 'connection.start' });
    if (s.type === 'protocol-header') throw new Error(`server answered with protocol header ${s.bytes.toString('hex')}`);
    assert.equal(s.method.name, 'connection.start', `first frame: ${describeFrame(s)}`);
    this.start = s.method.fields;
    if (stopAfter === 'start') return this;
    let resp = response;
    if (resp === undefined) {
      resp = mechanism === 'AMQPLAIN'
        ? (() => { const t = encodeTable({ LOGIN: user, PASSWORD: pass }); return t; })()
        : Buffer.concat([Buffer.from([0]), Buffer.from(user), Buffer.from([0]), Buffer.from(pass)]);
    }
    this.method(0, 'connection.start-ok', {
      clientProperties: clientProperties || {
        product: 'ferry-raw-test', platform: 'node', version: '0',
        capabilities: { authentication_failure_close: true, 'basic.nack': true, consumer_cancel_notify: true,
          publisher_confirms: true },
      },
      mechanism, response: resp, locale: 'en_US',
    });
    const tuneFrame = await this.next(f => f.channel === 0 && f.type === FRAME_METHOD, { what: 'connection.tune' });
    if (tuneFrame.method.name !== 'connection.tune') {
      const err = new Error(`expected connection.tune, got ${describeFrame(tuneFrame)}`);
      err.frame = tuneFrame;
      this.frames.unshift(tuneFrame);
      throw err;
    }
    this.tune = tuneFrame.method.fields;
    const fm = frameMax === null ? this.tune.frameMax : frameMax;
    const cm = channelMax === null ? this.tune.channelMax : channelMax;
    this.frameMax = fm || 131072;
    this.method(0, 'connection.tune-ok', { channelMax: cm, frameMax: fm, heartbeat });
    if (stopAfter === 'tune') return this;
    this.method(0, 'connection.open', { virtualHost: vhost, capabilities: '', insist: false });
    const ok = await this.next(f => f.channel === 0 && f.type === FRAME_METHOD, { what: 'connection.open-ok' });
    if (ok.method.name !== 'connection.open-ok') {
      const err = new Error(`expected connection.open-ok, got ${describeFrame(ok)}`);
      err.frame = ok;
      this.frames.unshift(ok);
      throw err;
    }
    return this;
  }

  async openChannel(ch) {
    this.method(ch, 'channel.open', {});
    await this.expectMethod(ch, 'channel.open-ok');
  }

  // Reads one delivered message (deliver/get-ok/return method, header, bodies) on channel; resolves
  // {method, fields, properties, body, bodyFrameSizes}.
  async readMessage(channel, { timeoutMs = 5000 } = {}) {
    const m = await this.next(f => f.channel === channel && f.type === FRAME_METHOD, { timeoutMs, what: `a delivery on ${channel}` });
    if (!['basic.deliver', 'basic.get-ok', 'basic.return'].includes(m.method.name)) {
      throw new Error(`expected a delivery on ${channel}, got ${describeFrame(m)}`);
    }
    const h = await this.next(f => f.channel === channel, { timeoutMs, what: 'content header' });
    assert.equal(h.type, FRAME_HEADER, `after ${m.method.name}: ${describeFrame(h)}`);
    const parts = [];
    const sizes = [];
    let got = 0;
    while (got < h.header.bodySize) {
      const b = await this.next(f => f.channel === channel, { timeoutMs, what: 'content body' });
      assert.equal(b.type, FRAME_BODY, `content body expected: ${describeFrame(b)}`);
      parts.push(b.payload);
      sizes.push(b.size + 8);
      got += b.size;
    }
    return { method: m.method.name, fields: m.method.fields, properties: h.header.properties, body: Buffer.concat(parts), frameSizes: sizes };
  }

  async close() {
    if (this.socketClosed) return;
    this.method(0, 'connection.close', { replyCode: 200, replyText: 'bye', classId: 0, methodId: 0 });
    await this.next(f => f.channel === 0 && f.type === FRAME_METHOD && f.method.name === 'connection.close-ok',
      { timeoutMs: 3000, what: 'close-ok' }).catch(() => {});
    this.destroy();
  }
}

module.exports = {
  RawConnection, FrameParser, Writer, SPEC, typed, encodeTable, decodeTable, methodPayload, methodFrame, frame,
  headerPayload, publishFrames, heartbeatFrame, describeFrame,
  FRAME_METHOD, FRAME_HEADER, FRAME_BODY, FRAME_HEARTBEAT, FRAME_END, PROTOCOL_HEADER,
};
