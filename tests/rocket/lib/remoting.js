'use strict';
// A small RocketMQ remoting client of our own, written from ../../shared/protocols/rocketmq-remoting.md (§1 frames,
// §3 the stored message format). It speaks JSON (serializeType 0) and ROCKETMQ binary (type 1) headers, matches
// responses to requests by opaque, and collects the requests the server sends us (frames without the RESPONSE
// flag: NOTIFY_CONSUMER_IDS_CHANGED 40, CHECK_TRANSACTION_STATE 39, CONSUME_MESSAGE_DIRECTLY 309, ...).
//
//   const conn = await connect('127.0.0.1:10911');
//   const resp = await conn.request(RequestCode.GET_MAX_OFFSET, { topic: 'T', queueId: '0' });
//   resp.code, resp.remark, resp.extFields, resp.body (a Buffer, maybe empty), resp.opaque, resp.flag
//   conn.on('request', cmd => ...); await conn.waitForRequest(cmd => cmd.code === 40, 5000);
//   conn.rawWrite(buffer); await conn.close();

const net = require('node:net');
const EventEmitter = require('node:events');
const zlib = require('node:zlib');

const RequestCode = Object.freeze({
  SEND_MESSAGE: 10,
  PULL_MESSAGE: 11,
  QUERY_MESSAGE: 12,
  QUERY_CONSUMER_OFFSET: 14,
  UPDATE_CONSUMER_OFFSET: 15,
  UPDATE_AND_CREATE_TOPIC: 17,
  GET_ALL_TOPIC_CONFIG: 21,
  SEARCH_OFFSET_BY_TIMESTAMP: 29,
  GET_MAX_OFFSET: 30,
  GET_MIN_OFFSET: 31,
  GET_EARLIEST_MSG_STORETIME: 32,
  VIEW_MESSAGE_BY_ID: 33,
  HEART_BEAT: 34,
  UNREGISTER_CLIENT: 35,
  CONSUMER_SEND_MSG_BACK: 36,
  END_TRANSACTION: 37,
  GET_CONSUMER_LIST_BY_GROUP: 38,
  CHECK_TRANSACTION_STATE: 39,
  NOTIFY_CONSUMER_IDS_CHANGED: 40,
  LOCK_BATCH_MQ: 41,
  UNLOCK_BATCH_MQ: 42,
  REGISTER_BROKER: 103,
  UNREGISTER_BROKER: 104,
  GET_ROUTEINFO_BY_TOPIC: 105,
  GET_BROKER_CLUSTER_INFO: 106,
  GET_ALL_TOPIC_LIST_FROM_NAMESERVER: 206,
  DELETE_TOPIC_IN_BROKER: 215,
  DELETE_TOPIC_IN_NAMESRV: 216,
  CONSUME_MESSAGE_DIRECTLY: 309,
  SEND_MESSAGE_V2: 310,
  SEND_BATCH_MESSAGE: 320,
});

const ResponseCode = Object.freeze({
  SUCCESS: 0,
  SYSTEM_ERROR: 1,
  SYSTEM_BUSY: 2,
  REQUEST_CODE_NOT_SUPPORTED: 3,
  MESSAGE_ILLEGAL: 13,
  NO_PERMISSION: 16,
  TOPIC_NOT_EXIST: 17,
  PULL_NOT_FOUND: 19,
  PULL_RETRY_IMMEDIATELY: 20,
  PULL_OFFSET_MOVED: 21,
  QUERY_NOT_FOUND: 22,
});

// flag bits (§1)
const FLAG_RESPONSE = 1;
const FLAG_ONEWAY = 2;

// PULL_MESSAGE sysFlag bits (§2.3)
const PullSysFlag = Object.freeze({ COMMIT_OFFSET: 1, SUSPEND: 2, SUBSCRIPTION: 4, CLASS_FILTER: 8, LITE_PULL: 16 });

// Stored message SYSFLAG bits (§3)
const MessageSysFlag = Object.freeze({
  COMPRESSED: 0x1,
  MULTI_TAGS: 0x2,
  TRANSACTION_PREPARED: 0x4,
  TRANSACTION_COMMIT: 0x8,
  TRANSACTION_ROLLBACK: 0xc,
  BORNHOST_V6: 0x10,
  STOREHOST_V6: 0x20,
});

const LANGUAGES = ['JAVA', 'CPP', 'DOTNET', 'PYTHON', 'DELPHI', 'ERLANG', 'RUBY', 'OTHER', 'HTTP', 'GO', 'PHP', 'OMS',
  'RUST', 'NODE_JS'];

const MAGIC_V1 = 0xdaa320a7 | 0; // -626843481
const MAGIC_V2 = 0xdaa320ab | 0; // -626843477
const BLANK_MAGIC = 0xcbd43194 | 0;

const DEFAULT_VERSION = 401; // V4_9_4: standard JSON routes, header maxReconsumeTimes honoured
const DEFAULT_TIMEOUT_MS = 10000;
const MAX_INCOMING_FRAME = 64 * 1024 * 1024; // what we accept from a server (a sanity bound, not the protocol's)

let nextOpaque = 1;
function allocateOpaque() {
  const o = nextOpaque;
  nextOpaque = nextOpaque >= 0x7ffffff0 ? 1 : nextOpaque + 1;
  return o;
}

// ------------------------------------------------------------------------------------------------------------------
// Header codecs

function cleanExtFields(extFields) {
  const out = {};
  if (!extFields) return out;
  for (const [k, v] of Object.entries(extFields)) {
    if (v === undefined || v === null) continue;
    out[k] = v;
  }
  return out;
}

// JSON header as Java's fastjson writes it. extField values go out as given: strings (Java style) or JS numbers and
// booleans (ali-ons / cpp style); tests pick.
function encodeJsonHeader(cmd) {
  const header = {
    code: cmd.code,
    extFields: cleanExtFields(cmd.extFields),
    flag: cmd.flag || 0,
    language: cmd.language || 'JAVA',
    opaque: cmd.opaque,
    serializeTypeCurrentRPC: 'JSON',
    version: cmd.version === undefined ? DEFAULT_VERSION : cmd.version,
  };
  if (cmd.remark !== undefined && cmd.remark !== null) header.remark = cmd.remark;
  return Buffer.from(JSON.stringify(header), 'utf8');
}

function languageCode(language) {
  if (typeof language === 'number') return language;
  const i = LANGUAGES.indexOf(language || 'JAVA');
  return i < 0 ? 0 : i;
}

// ROCKETMQ binary header (§1): int16 code | int8 language | int16 version | int32 opaque | int32 flag |
// int32 remarkLen + remark | int32 extLen + (int16 keyLen, key, int32 valLen, val)*
function encodeBinaryHeader(cmd) {
  const remark = cmd.remark === undefined || cmd.remark === null ? Buffer.alloc(0) : Buffer.from(String(cmd.remark));
  const entries = [];
  for (const [k, v] of Object.entries(cleanExtFields(cmd.extFields))) {
    const kb = Buffer.from(k, 'utf8');
    const vb = Buffer.from(String(v), 'utf8');
    const e = Buffer.alloc(2 + kb.length + 4 + vb.length);
    e.writeInt16BE(kb.length, 0);
    kb.copy(e, 2);
    e.writeInt32BE(vb.length, 2 + kb.length);
    vb.copy(e, 6 + kb.length);
    entries.push(e);
  }
  const ext = Buffer.concat(entries);
  const fixed = Buffer.alloc(13);
  fixed.writeInt16BE(cmd.code, 0);
  fixed.writeInt8(languageCode(cmd.language), 2);
  fixed.writeInt16BE(cmd.version === undefined ? DEFAULT_VERSION : cmd.version, 3);
  fixed.writeInt32BE(cmd.opaque | 0, 5);
  fixed.writeInt32BE(cmd.flag | 0, 9);
  const rl = Buffer.alloc(4);
  rl.writeInt32BE(remark.length, 0);
  const el = Buffer.alloc(4);
  el.writeInt32BE(ext.length, 0);
  return Buffer.concat([fixed, rl, remark, el, ext]);
}

function decodeBinaryHeader(buf) {
  if (buf.length < 21) throw new Error(`binary header too short (${buf.length} bytes)`);
  let p = 0;
  const code = buf.readInt16BE(p); p += 2;
  const language = buf.readInt8(p); p += 1;
  const version = buf.readInt16BE(p); p += 2;
  const opaque = buf.readInt32BE(p); p += 4;
  const flag = buf.readInt32BE(p); p += 4;
  const remarkLen = buf.readInt32BE(p); p += 4;
  let remark = null;
  if (remarkLen > 0) {
    remark = buf.toString('utf8', p, p + remarkLen);
    p += remarkLen;
  }
  const extLen = buf.readInt32BE(p); p += 4;
  const extFields = {};
  const end = p + extLen;
  if (end > buf.length) throw new Error('binary header extFields run past the header');
  while (p < end) {
    const kl = buf.readInt16BE(p); p += 2;
    const k = buf.toString('utf8', p, p + kl); p += kl;
    const vl = buf.readInt32BE(p); p += 4;
    const v = buf.toString('utf8', p, p + vl); p += vl;
    extFields[k] = v;
  }
  return { code, language: LANGUAGES[language] || language, version, opaque, flag, remark, extFields };
}

// Encodes one frame. cmd: {code, opaque, flag, remark, extFields, body, language, version}; opts.binaryHeader.
function encodeFrame(cmd, opts = {}) {
  const serializeType = opts.binaryHeader ? 1 : 0;
  const header = serializeType === 1 ? encodeBinaryHeader(cmd) : encodeJsonHeader(cmd);
  const body = cmd.body === undefined || cmd.body === null ? Buffer.alloc(0)
    : Buffer.isBuffer(cmd.body) ? cmd.body : Buffer.from(cmd.body);
  const prefix = Buffer.alloc(8);
  prefix.writeInt32BE(4 + header.length + body.length, 0);
  prefix.writeUInt32BE(((serializeType << 24) | (header.length & 0xffffff)) >>> 0, 4);
  return Buffer.concat([prefix, header, body]);
}

// Decodes one whole frame (starting with its int32 length). Returns
// {code, language, version, opaque, flag, remark, extFields, body, serializeType, headerLength}.
function decodeFrame(frame) {
  if (frame.length < 8) throw new Error(`frame too short (${frame.length} bytes)`);
  const length = frame.readInt32BE(0);
  if (length + 4 !== frame.length) throw new Error(`frame length ${length} does not match ${frame.length - 4} bytes`);
  const typeAndLen = frame.readUInt32BE(4);
  const serializeType = (typeAndLen >>> 24) & 0xff;
  const headerLength = typeAndLen & 0xffffff;
  if (8 + headerLength > frame.length) throw new Error(`header length ${headerLength} exceeds the frame`);
  const headerBuf = frame.subarray(8, 8 + headerLength);
  let header;
  if (serializeType === 0) {
    header = JSON.parse(headerBuf.toString('utf8'));
    if (header === null || typeof header !== 'object' || Array.isArray(header)) {
      throw new Error('JSON header is not an object');
    }
  } else if (serializeType === 1) {
    header = decodeBinaryHeader(headerBuf);
  } else {
    throw new Error(`unknown serializeType ${serializeType}`);
  }
  return {
    code: header.code,
    language: header.language,
    version: header.version,
    opaque: header.opaque,
    flag: header.flag || 0,
    remark: header.remark === undefined ? null : header.remark,
    extFields: header.extFields || {},
    body: Buffer.from(frame.subarray(8 + headerLength)),
    serializeType,
    headerLength,
  };
}

// Splits a byte stream into frames: any number of frames per chunk, frames split across chunks.
class FrameDecoder {
  constructor({ maxFrameLength = MAX_INCOMING_FRAME } = {}) {
    this.maxFrameLength = maxFrameLength;
    this.chunks = [];
    this.buffered = 0;
  }

  // Returns the complete frames (raw Buffers, length prefix included) found so far. Throws on a bad length.
  push(chunk) {
    if (chunk && chunk.length) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const frames = [];
    for (;;) {
      if (this.buffered < 4) break;
      const head = this.peek(4);
      const length = head.readInt32BE(0);
      if (length < 4 || length > this.maxFrameLength) throw new Error(`bad frame length ${length}`);
      if (this.buffered < 4 + length) break;
      frames.push(this.take(4 + length));
    }
    return frames;
  }

  peek(n) {
    if (this.chunks[0].length >= n) return this.chunks[0].subarray(0, n);
    const all = Buffer.concat(this.chunks);
    this.chunks = [all];
    return all.subarray(0, n);
  }

  take(n) {
    let out;
    if (this.chunks[0].length >= n) {
      out = this.chunks[0].subarray(0, n);
      const rest = this.chunks[0].subarray(n);
      if (rest.length) this.chunks[0] = rest; else this.chunks.shift();
    } else {
      const all = Buffer.concat(this.chunks);
      out = all.subarray(0, n);
      const rest = all.subarray(n);
      this.chunks = rest.length ? [rest] : [];
    }
    this.buffered -= n;
    return out;
  }
}

// ------------------------------------------------------------------------------------------------------------------
// The client

function parseAddr(addr) {
  const i = String(addr).lastIndexOf(':');
  if (i <= 0) throw new Error(`bad address "${addr}" (want host:port)`);
  return { host: addr.slice(0, i), port: Number(addr.slice(i + 1)) };
}

class RemotingConnection extends EventEmitter {
  constructor(socket, addr) {
    super();
    this.addr = addr;
    this.socket = socket;
    this.decoder = new FrameDecoder();
    this.pending = new Map(); // opaque -> {resolve, reject, timer, code}
    this.serverRequests = []; // every request the server sent us
    this.strayResponses = []; // responses whose opaque we were not waiting for (e.g. replies to oneway requests)
    this.isClosed = false;
    this.closeError = null;
    this.closed = new Promise(resolve => { this._resolveClosed = resolve; });
    socket.setNoDelay(true);
    socket.on('data', chunk => this._onData(chunk));
    socket.on('error', err => { this.closeError = err; });
    socket.on('close', () => this._onClose());
  }

  _onData(chunk) {
    let frames;
    try {
      frames = this.decoder.push(chunk);
    } catch (err) {
      this.closeError = err;
      this.socket.destroy();
      return;
    }
    for (const raw of frames) {
      let cmd;
      try {
        cmd = decodeFrame(raw);
      } catch (err) {
        this.closeError = err;
        this.socket.destroy();
        return;
      }
      cmd.receivedAt = Date.now();
      if (cmd.flag & FLAG_RESPONSE) {
        const p = this.pending.get(cmd.opaque);
        if (p) {
          this.pending.delete(cmd.opaque);
          clearTimeout(p.timer);
          p.resolve(cmd);
        } else {
          this.strayResponses.push(cmd);
          this.emit('strayResponse', cmd);
        }
      } else {
        this.serverRequests.push(cmd);
        this.emit('request', cmd);
      }
    }
  }

  _onClose() {
    if (this.isClosed) return;
    this.isClosed = true;
    const err = new Error(`connection to ${this.addr} closed` + (this.closeError ? `: ${this.closeError.message}` : ''));
    err.code = 'ECONNCLOSED';
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
    this.emit('close');
    this._resolveClosed();
  }

  // Sends a request. opts: {oneway, binaryHeader, flag, timeoutMs, opaque, language, version, remark}.
  // Resolves with the response, or with null for a oneway request once it is written.
  request(code, extFields = {}, body = null, opts = {}) {
    if (this.isClosed) return Promise.reject(new Error(`connection to ${this.addr} is closed`));
    const opaque = opts.opaque === undefined ? allocateOpaque() : opts.opaque;
    let flag = opts.flag === undefined ? 0 : opts.flag;
    if (opts.oneway) flag |= FLAG_ONEWAY;
    const frame = encodeFrame({
      code, opaque, flag, extFields, body, remark: opts.remark, language: opts.language, version: opts.version,
    }, { binaryHeader: !!opts.binaryHeader });
    if (opts.oneway) {
      return new Promise((resolve, reject) => {
        this.socket.write(frame, err => (err ? reject(err) : resolve(null)));
      });
    }
    const timeoutMs = opts.timeoutMs || DEFAULT_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const sentAt = Date.now();
      const timer = setTimeout(() => {
        this.pending.delete(opaque);
        const err = new Error(`no response to request code ${code} (opaque ${opaque}) from ${this.addr} ` +
          `within ${timeoutMs} ms`);
        err.code = 'ETIMEOUT';
        reject(err);
      }, timeoutMs);
      this.pending.set(opaque, {
        code,
        timer,
        resolve: cmd => { cmd.elapsedMs = cmd.receivedAt - sentAt; resolve(cmd); },
        reject,
      });
      this.socket.write(frame);
    });
  }

  // Answers a request the server sent us (e.g. CONSUME_MESSAGE_DIRECTLY 309), echoing its opaque.
  respond(req, code, extFields = {}, body = null, remark = undefined) {
    const frame = encodeFrame({ code, opaque: req.opaque, flag: FLAG_RESPONSE, extFields, body, remark });
    return new Promise((resolve, reject) => this.socket.write(frame, err => (err ? reject(err) : resolve())));
  }

  // Writes bytes as they are (malformed-frame tests).
  rawWrite(buffer) {
    return new Promise((resolve, reject) => {
      if (this.isClosed) { reject(new Error('connection is closed')); return; }
      this.socket.write(buffer, err => (err ? reject(err) : resolve()));
    });
  }

  // Resolves with the first server request (already received or future) matching predicate (a code or a function).
  waitForRequest(predicate, timeoutMs = 5000) {
    const match = typeof predicate === 'function' ? predicate : cmd => cmd.code === predicate;
    const found = this.serverRequests.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const onRequest = cmd => {
        if (!match(cmd)) return;
        cleanup();
        resolve(cmd);
      };
      const onClose = () => { cleanup(); reject(new Error(`connection to ${this.addr} closed while waiting for a request`)); };
      const timer = setTimeout(() => {
        cleanup();
        const seen = this.serverRequests.map(r => r.code).join(',') || 'none';
        reject(new Error(`no matching server request within ${timeoutMs} ms (codes seen: ${seen})`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.off('request', onRequest);
        this.off('close', onClose);
      };
      this.on('request', onRequest);
      this.on('close', onClose);
    });
  }

  // Resolves true if the server closes the connection within timeoutMs, false otherwise.
  async waitForClose(timeoutMs) {
    let timer;
    const timeout = new Promise(resolve => { timer = setTimeout(() => resolve(false), timeoutMs); });
    const result = await Promise.race([this.closed.then(() => true), timeout]);
    clearTimeout(timer);
    return result;
  }

  async close() {
    if (this.isClosed) return;
    this.socket.end();
    const closedInTime = await this.waitForClose(2000);
    if (!closedInTime) this.socket.destroy();
    await this.closed;
  }
}

function connect(addr, { timeoutMs = 5000 } = {}) {
  const { host, port } = parseAddr(addr);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`cannot connect to ${addr} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(new RemotingConnection(socket, addr));
    });
    socket.once('error', err => {
      clearTimeout(timer);
      reject(new Error(`cannot connect to ${addr}: ${err.message}`));
    });
  });
}

async function withConnection(addr, fn) {
  const conn = await connect(addr);
  try {
    return await fn(conn);
  } finally {
    await conn.close();
  }
}

// ------------------------------------------------------------------------------------------------------------------
// Message format helpers (§3)

const NAME_VALUE_SEPARATOR = '\u0001';
const PROPERTY_SEPARATOR = '\u0002';

function encodeProperties(obj) {
  if (!obj) return '';
  let s = '';
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined || v === null) continue;
    s += k + NAME_VALUE_SEPARATOR + String(v) + PROPERTY_SEPARATOR;
  }
  return s;
}

// Tolerant like Java's parser: skips segments without a key (ali-ons' bogus "\1\2" pair included).
function decodeProperties(str) {
  const out = {};
  if (!str) return out;
  for (const item of str.split(PROPERTY_SEPARATOR)) {
    const i = item.indexOf(NAME_VALUE_SEPARATOR);
    if (i <= 0) continue;
    out[item.slice(0, i)] = item.slice(i + 1);
  }
  return out;
}

let crcTable = null;
function crc32(buf) {
  if (!crcTable) {
    crcTable = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c;
    }
  }
  let crc = -1;
  for (let i = 0; i < buf.length; i++) crc = crcTable[(crc ^ buf[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

// The broker's BODYCRC field: CRC32(body) & 0x7FFFFFFF.
function bodyCrc(buf) {
  return crc32(buf) & 0x7fffffff;
}

// Java String.hashCode (the ConsumeQueue tagsCode of a tag).
function javaHashCode(str) {
  let h = 0;
  for (let i = 0; i < str.length; i++) h = (Math.imul(31, h) + str.charCodeAt(i)) | 0;
  return h;
}

function readInt64(buf, pos) {
  const v = buf.readBigInt64BE(pos);
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : v;
}

function formatHost(buf, pos, v6) {
  if (v6) {
    const parts = [];
    for (let i = 0; i < 16; i += 2) parts.push(buf.readUInt16BE(pos + i).toString(16));
    return { host: parts.join(':'), port: buf.readInt32BE(pos + 16), size: 20, bytes: buf.subarray(pos, pos + 16) };
  }
  return {
    host: `${buf[pos]}.${buf[pos + 1]}.${buf[pos + 2]}.${buf[pos + 3]}`,
    port: buf.readInt32BE(pos + 4),
    size: 8,
    bytes: buf.subarray(pos, pos + 4),
  };
}

// Offset msgId (§3): uppercase hex of storeHost IP + int32 port + int64 commitLogOffset.
function encodeMsgId(hostBytes, port, offset) {
  const b = Buffer.alloc(hostBytes.length + 12);
  Buffer.from(hostBytes).copy(b, 0);
  b.writeInt32BE(port, hostBytes.length);
  b.writeBigInt64BE(BigInt(offset), hostBytes.length + 4);
  return b.toString('hex').toUpperCase();
}

function decodeMsgId(msgId) {
  const b = Buffer.from(msgId, 'hex');
  if (b.length !== 16 && b.length !== 28) throw new Error(`not an offset msgId: ${msgId}`);
  const v6 = b.length === 28;
  const h = formatHost(b, 0, v6);
  const offset = readInt64(b, v6 ? 20 : 8);
  return { host: h.host, port: h.port, address: `${h.host}:${h.port}`, offset };
}

// Decodes stored messages back to back (PULL / VIEW / QUERY bodies, CHECK_TRANSACTION_STATE bodies).
// Stops at a BLANK_MAGIC record. Throws on a malformed record.
function decodeMessages(body) {
  const out = [];
  if (!body) return out;
  let pos = 0;
  while (pos + 8 <= body.length) {
    const totalSize = body.readInt32BE(pos);
    const magic = body.readInt32BE(pos + 4);
    if (magic === BLANK_MAGIC) break;
    if (magic !== MAGIC_V1 && magic !== MAGIC_V2) {
      throw new Error(`bad magic 0x${(magic >>> 0).toString(16)} at byte ${pos}`);
    }
    if (totalSize < 92 || pos + totalSize > body.length) {
      throw new Error(`bad record size ${totalSize} at byte ${pos} (body ${body.length} bytes)`);
    }
    const rec = body.subarray(pos, pos + totalSize);
    let p = 8;
    const m = { totalSize, magic, raw: Buffer.from(rec) };
    m.bodyCRC = rec.readInt32BE(p); p += 4;
    m.queueId = rec.readInt32BE(p); p += 4;
    m.flag = rec.readInt32BE(p); p += 4;
    m.queueOffset = readInt64(rec, p); p += 8;
    m.commitLogOffset = readInt64(rec, p); p += 8;
    m.sysFlag = rec.readInt32BE(p); p += 4;
    m.bornTimestamp = readInt64(rec, p); p += 8;
    const born = formatHost(rec, p, (m.sysFlag & MessageSysFlag.BORNHOST_V6) !== 0);
    m.bornHost = `${born.host}:${born.port}`; p += born.size;
    m.storeTimestamp = readInt64(rec, p); p += 8;
    const store = formatHost(rec, p, (m.sysFlag & MessageSysFlag.STOREHOST_V6) !== 0);
    m.storeHost = `${store.host}:${store.port}`; p += store.size;
    m.reconsumeTimes = rec.readInt32BE(p); p += 4;
    m.preparedTransactionOffset = readInt64(rec, p); p += 8;
    const bodyLen = rec.readInt32BE(p); p += 4;
    if (bodyLen < 0 || p + bodyLen > totalSize) throw new Error(`bad body length ${bodyLen} at byte ${pos}`);
    m.storedBody = Buffer.from(rec.subarray(p, p + bodyLen)); p += bodyLen;
    m.body = m.storedBody;
    if (m.sysFlag & MessageSysFlag.COMPRESSED) {
      try { m.body = zlib.inflateSync(m.storedBody); } catch (err) { m.inflateError = err; }
    }
    let topicLen;
    if (magic === MAGIC_V2) { topicLen = rec.readInt16BE(p); p += 2; } else { topicLen = rec.readUInt8(p); p += 1; }
    m.topic = rec.toString('utf8', p, p + topicLen); p += topicLen;
    const propLen = rec.readInt16BE(p); p += 2;
    if (propLen < 0 || p + propLen > totalSize) throw new Error(`bad properties length ${propLen} at byte ${pos}`);
    m.propertiesString = rec.toString('utf8', p, p + propLen); p += propLen;
    m.properties = decodeProperties(m.propertiesString);
    m.tags = m.properties.TAGS;
    m.keys = m.properties.KEYS;
    m.msgId = encodeMsgId(store.bytes, store.port, m.commitLogOffset);
    out.push(m);
    pos += totalSize;
  }
  return out;
}

// Batch body (§3): per message int32 totalSize | int32 magic(0) | int32 bodyCRC(0) | int32 flag | int32 bodyLen |
// body | int16 propLen | props. items: [{body, flag, properties}]
function encodeBatch(items) {
  const parts = [];
  for (const item of items) {
    const body = Buffer.isBuffer(item.body) ? item.body : Buffer.from(String(item.body ?? ''));
    const props = Buffer.from(typeof item.properties === 'string' ? item.properties
      : encodeProperties(item.properties), 'utf8');
    const total = 4 + 4 + 4 + 4 + 4 + body.length + 2 + props.length;
    const b = Buffer.alloc(total);
    let p = 0;
    b.writeInt32BE(total, p); p += 4;
    b.writeInt32BE(0, p); p += 4;
    b.writeInt32BE(0, p); p += 4;
    b.writeInt32BE(item.flag | 0, p); p += 4;
    b.writeInt32BE(body.length, p); p += 4;
    body.copy(b, p); p += body.length;
    b.writeInt16BE(props.length, p); p += 2;
    props.copy(b, p);
    parts.push(b);
  }
  return Buffer.concat(parts);
}

// ------------------------------------------------------------------------------------------------------------------
// Admin helpers

function remoteError(what, resp) {
  const err = new Error(`${what}: code ${resp.code}${resp.remark ? ` (${resp.remark})` : ''}`);
  err.response = resp;
  return err;
}

// UPDATE_AND_CREATE_TOPIC 17 on the broker. queues: number, or {read, write}. opts: {perm, order, timeoutMs}.
async function createTopic(brokerAddr, topic, queues = 4, opts = {}) {
  const read = typeof queues === 'object' ? queues.read : queues;
  const write = typeof queues === 'object' ? queues.write : queues;
  return withConnection(brokerAddr, async conn => {
    const resp = await conn.request(RequestCode.UPDATE_AND_CREATE_TOPIC, {
      topic,
      defaultTopic: 'TBW102',
      readQueueNums: String(read),
      writeQueueNums: String(write),
      perm: String(opts.perm === undefined ? 6 : opts.perm),
      topicFilterType: 'SINGLE_TAG',
      topicSysFlag: '0',
      order: String(!!opts.order),
    }, null, { timeoutMs: opts.timeoutMs || 10000 });
    if (resp.code !== ResponseCode.SUCCESS) throw remoteError(`UPDATE_AND_CREATE_TOPIC ${topic}`, resp);
    return resp;
  });
}

// GET_ROUTEINFO_BY_TOPIC 105 once. Resolves {code, remark, route} (route parsed with JSON.parse when code 0).
async function getRoute(namesrvAddr, topic, conn = null) {
  const run = async c => {
    const resp = await c.request(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic });
    return {
      code: resp.code,
      remark: resp.remark,
      route: resp.code === ResponseCode.SUCCESS ? JSON.parse(resp.body.toString('utf8')) : null,
      response: resp,
    };
  };
  return conn ? run(conn) : withConnection(namesrvAddr, run);
}

// Polls GET_ROUTEINFO_BY_TOPIC until it answers 0 (and predicate(route), when given). Resolves the route.
async function waitForRoute(namesrvAddr, topic, { timeoutMs = 10000, intervalMs = 100, predicate = null } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  let conn = null;
  try {
    for (;;) {
      try {
        if (!conn || conn.isClosed) conn = await connect(namesrvAddr);
        const r = await getRoute(namesrvAddr, topic, conn);
        if (r.code === ResponseCode.SUCCESS) {
          if (!predicate || predicate(r.route)) return r.route;
          last = `route did not match yet: ${JSON.stringify(r.route)}`;
        } else {
          last = `code ${r.code} ${r.remark || ''}`;
        }
      } catch (err) {
        last = err.message;
      }
      if (Date.now() >= deadline) {
        throw new Error(`no route for topic ${topic} from ${namesrvAddr} within ${timeoutMs} ms (last: ${last})`);
      }
      await new Promise(r => setTimeout(r, intervalMs));
    }
  } finally {
    if (conn) await conn.close();
  }
}

module.exports = {
  RequestCode,
  ResponseCode,
  PullSysFlag,
  MessageSysFlag,
  LANGUAGES,
  FLAG_RESPONSE,
  FLAG_ONEWAY,
  MAGIC_V1,
  MAGIC_V2,
  encodeFrame,
  decodeFrame,
  encodeJsonHeader,
  encodeBinaryHeader,
  decodeBinaryHeader,
  FrameDecoder,
  RemotingConnection,
  connect,
  withConnection,
  encodeProperties,
  decodeProperties,
  decodeMessages,
  encodeBatch,
  encodeMsgId,
  decodeMsgId,
  crc32,
  bodyCrc,
  javaHashCode,
  createTopic,
  getRoute,
  waitForRoute,
  remoteError,
};
