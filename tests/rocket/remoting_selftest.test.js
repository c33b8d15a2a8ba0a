'use strict';
// Checks lib/remoting.js against itself and against a tiny in-process server: needs no broker.

const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const zlib = require('node:zlib');
const R = require('./lib/remoting');
const { AliOns, humanTimestamp } = require('./lib/alions');

function frameCmd(over = {}) {
  return {
    code: 310, opaque: 7, flag: 0, remark: 'hé', extFields: { a: 'PG', b: 'T', e: 3, k: false }, body: Buffer.from('body'),
    ...over,
  };
}

test('JSON frame round trip', () => {
  const f = R.encodeFrame(frameCmd());
  assert.equal(f.readInt32BE(0), f.length - 4);
  assert.equal(f.readUInt32BE(4) >>> 24, 0, 'serializeType 0');
  const d = R.decodeFrame(f);
  assert.equal(d.code, 310);
  assert.equal(d.opaque, 7);
  assert.equal(d.remark, 'hé');
  assert.equal(d.language, 'JAVA');
  assert.deepEqual(d.extFields, { a: 'PG', b: 'T', e: 3, k: false });
  assert.equal(d.body.toString(), 'body');
  assert.equal(d.serializeType, 0);
  const header = JSON.parse(f.subarray(8, 8 + d.headerLength).toString());
  assert.equal(typeof header.extFields, 'object');
});

test('binary (ROCKETMQ) frame round trip', () => {
  const f = R.encodeFrame(frameCmd({ language: 'CPP', version: 333, flag: 2 }), { binaryHeader: true });
  assert.equal(f.readUInt32BE(4) >>> 24, 1, 'serializeType 1');
  const hdrLen = f.readUInt32BE(4) & 0xffffff;
  // fixed part: code, language byte, version, opaque, flag
  assert.equal(f.readInt16BE(8), 310);
  assert.equal(f.readInt8(10), 1);
  assert.equal(f.readInt16BE(11), 333);
  assert.equal(f.readInt32BE(13), 7);
  assert.equal(f.readInt32BE(17), 2);
  const d = R.decodeFrame(f);
  assert.equal(d.serializeType, 1);
  assert.equal(d.headerLength, hdrLen);
  assert.equal(d.code, 310);
  assert.equal(d.language, 'CPP');
  assert.equal(d.version, 333);
  assert.equal(d.flag, 2);
  assert.equal(d.remark, 'hé');
  assert.deepEqual(d.extFields, { a: 'PG', b: 'T', e: '3', k: 'false' }, 'binary values are strings');
  assert.equal(d.body.toString(), 'body');
  // no remark and no ext fields
  const e = R.decodeFrame(R.encodeFrame({ code: 105, opaque: 1, extFields: {} }, { binaryHeader: true }));
  assert.equal(e.remark, null);
  assert.deepEqual(e.extFields, {});
  assert.equal(e.body.length, 0);
});

test('decoder: several frames in one chunk, frames split anywhere', () => {
  const frames = [];
  for (let i = 0; i < 5; i++) {
    frames.push(R.encodeFrame(frameCmd({ opaque: i, body: Buffer.alloc(i * 1000, i) }), { binaryHeader: i % 2 === 1 }));
  }
  const all = Buffer.concat(frames);
  // one chunk
  let dec = new R.FrameDecoder();
  let out = dec.push(all).map(R.decodeFrame);
  assert.deepEqual(out.map(c => c.opaque), [0, 1, 2, 3, 4]);
  // byte by byte and in odd slices
  for (const step of [1, 3, 7, 4096]) {
    dec = new R.FrameDecoder();
    out = [];
    for (let i = 0; i < all.length; i += step) out.push(...dec.push(all.subarray(i, i + step)).map(R.decodeFrame));
    assert.deepEqual(out.map(c => c.opaque), [0, 1, 2, 3, 4], `step ${step}`);
    assert.deepEqual(out.map(c => c.body.length), [0, 1000, 2000, 3000, 4000]);
    assert.ok(out[3].body.every(b => b === 3));
  }
  assert.throws(() => new R.FrameDecoder().push(Buffer.from([0, 0, 0, 2, 0, 0])), /bad frame length/);
});

test('decodeFrame rejects bad headers', () => {
  const bad = (hdr, type = 0) => {
    const h = Buffer.from(hdr);
    const b = Buffer.alloc(8 + h.length);
    b.writeInt32BE(4 + h.length, 0);
    b.writeUInt32BE(((type << 24) | h.length) >>> 0, 4);
    h.copy(b, 8);
    return b;
  };
  assert.throws(() => R.decodeFrame(bad('not json')));
  assert.throws(() => R.decodeFrame(bad('[1,2]')), /not an object/);
  assert.throws(() => R.decodeFrame(bad('{}', 5)), /serializeType/);
  const over = bad('{}');
  over.writeUInt32BE(100, 4);
  assert.throws(() => R.decodeFrame(over), /exceeds/);
});

function storedRecord({ topic, queueId, queueOffset, commitLogOffset, body, props, sysFlag = 0, reconsumeTimes = 0,
  storePort = 10911, bornTs = 1700000000000, storeTs = 1700000000123 }) {
  const t = Buffer.from(topic);
  const p = Buffer.from(R.encodeProperties(props));
  const total = 4 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8 + 8 + 8 + 8 + 4 + 8 + 4 + body.length + 1 + t.length + 2 + p.length;
  const b = Buffer.alloc(total);
  let o = 0;
  b.writeInt32BE(total, o); o += 4;
  b.writeInt32BE(R.MAGIC_V1, o); o += 4;
  b.writeInt32BE(R.bodyCrc(body), o); o += 4;
  b.writeInt32BE(queueId, o); o += 4;
  b.writeInt32BE(0, o); o += 4;
  b.writeBigInt64BE(BigInt(queueOffset), o); o += 8;
  b.writeBigInt64BE(BigInt(commitLogOffset), o); o += 8;
  b.writeInt32BE(sysFlag, o); o += 4;
  b.writeBigInt64BE(BigInt(bornTs), o); o += 8;
  Buffer.from([10, 0, 0, 1]).copy(b, o); o += 4;
  b.writeInt32BE(5555, o); o += 4;
  b.writeBigInt64BE(BigInt(storeTs), o); o += 8;
  Buffer.from([127, 0, 0, 1]).copy(b, o); o += 4;
  b.writeInt32BE(storePort, o); o += 4;
  b.writeInt32BE(reconsumeTimes, o); o += 4;
  b.writeBigInt64BE(0n, o); o += 8;
  b.writeInt32BE(body.length, o); o += 4;
  body.copy(b, o); o += body.length;
  b.writeUInt8(t.length, o); o += 1;
  t.copy(b, o); o += t.length;
  b.writeInt16BE(p.length, o); o += 2;
  p.copy(b, o); o += p.length;
  assert.equal(o, total);
  return b;
}

test('decodeMessages: stored format back to back, msgId, compressed bodies, properties', () => {
  const plain = Buffer.from('hello');
  const big = Buffer.alloc(10000, 'x');
  const recs = Buffer.concat([
    storedRecord({ topic: 'T1', queueId: 2, queueOffset: 5, commitLogOffset: 0, body: plain, props: { TAGS: 'A', KEYS: 'k1 k2' } }),
    storedRecord({ topic: 'T1', queueId: 2, queueOffset: 6, commitLogOffset: 300, body: zlib.deflateSync(big), props: {}, sysFlag: 1, reconsumeTimes: 3 }),
  ]);
  const msgs = R.decodeMessages(recs);
  assert.equal(msgs.length, 2);
  assert.equal(msgs[0].topic, 'T1');
  assert.equal(msgs[0].queueId, 2);
  assert.equal(msgs[0].queueOffset, 5);
  assert.equal(msgs[0].body.toString(), 'hello');
  assert.equal(msgs[0].tags, 'A');
  assert.equal(msgs[0].keys, 'k1 k2');
  assert.equal(msgs[0].bornHost, '10.0.0.1:5555');
  assert.equal(msgs[0].storeHost, '127.0.0.1:10911');
  assert.equal(msgs[0].storeTimestamp, 1700000000123);
  assert.equal(msgs[0].bodyCRC, R.bodyCrc(plain));
  assert.equal(msgs[0].msgId, '7F00000100002A9F0000000000000000', 'the fact sheet example');
  assert.deepEqual(R.decodeMsgId(msgs[0].msgId), { host: '127.0.0.1', port: 10911, address: '127.0.0.1:10911', offset: 0 });
  assert.equal(msgs[1].commitLogOffset, 300);
  assert.equal(R.decodeMsgId(msgs[1].msgId).offset, 300);
  assert.ok(msgs[1].body.equals(big), 'inflated');
  assert.equal(msgs[1].reconsumeTimes, 3);
  // ali-ons' bogus empty pair and junk segments are skipped
  assert.deepEqual(R.decodeProperties('\u0001\u0002TAGS\u0001x\u0002MIN_OFFSET\u00010\u0002'), { TAGS: 'x', MIN_OFFSET: '0' });
});

test('crc32, Java hashCode, batch encoding', () => {
  assert.equal(R.crc32(Buffer.from('123456789')), 0xcbf43926);
  assert.equal(R.javaHashCode('TagA'), 2598919);
  assert.equal(R.javaHashCode('hello world, a longer string'), (() => {
    let h = 0; for (const c of 'hello world, a longer string') h = (h * 31 + c.charCodeAt(0)) | 0; return h;
  })());
  const b = R.encodeBatch([{ body: 'ab', properties: { TAGS: 'x' } }, { body: Buffer.from('cde'), flag: 9 }]);
  let o = 0;
  const seen = [];
  while (o < b.length) {
    const total = b.readInt32BE(o);
    const bodyLen = b.readInt32BE(o + 16);
    seen.push({ total, flag: b.readInt32BE(o + 12), body: b.toString('utf8', o + 20, o + 20 + bodyLen) });
    o += total;
  }
  assert.equal(o, b.length);
  assert.deepEqual(seen.map(x => x.body), ['ab', 'cde']);
  assert.deepEqual(seen.map(x => x.flag), [0, 9]);
});

// A tiny server: answers each request with code 0 echoing extFields (split into odd chunks, two responses glued
// together), and sends its own request (code 40) first.
function startEchoServer() {
  return new Promise(resolve => {
    const server = net.createServer(sock => {
      const dec = new R.FrameDecoder();
      sock.write(R.encodeFrame({ code: 40, opaque: 99, flag: 2, extFields: { consumerGroup: 'G' } }));
      let held = null;
      sock.on('data', chunk => {
        for (const raw of dec.push(chunk)) {
          const req = R.decodeFrame(raw);
          if (req.code === 999) { sock.destroy(); return; }
          if (req.flag & R.FLAG_RESPONSE) continue;
          if (req.flag & R.FLAG_ONEWAY) continue;
          const resp = R.encodeFrame({ code: 0, opaque: req.opaque, flag: 1, extFields: { ...req.extFields, st: String(req.serializeType) }, body: req.body });
          if (req.code === 2) { held = resp; continue; } // answered together with the next one
          const out = held ? Buffer.concat([held, resp]) : resp;
          held = null;
          for (let i = 0; i < out.length; i += 5) sock.write(out.subarray(i, i + 5));
        }
      });
    });
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

test('client against a tiny server: matching, split/glued frames, server requests, oneway, close', async () => {
  const server = await startEchoServer();
  const addr = `127.0.0.1:${server.address().port}`;
  const conn = await R.connect(addr);
  try {
    const notify = await conn.waitForRequest(40, 2000);
    assert.equal(notify.extFields.consumerGroup, 'G');
    const a = conn.request(2, { x: '1' }, Buffer.from('first'));
    const b = conn.request(3, { y: 2 }, Buffer.alloc(70000, 1), { binaryHeader: true });
    const [ra, rb] = await Promise.all([a, b]);
    assert.equal(ra.extFields.x, '1');
    assert.equal(ra.body.toString(), 'first');
    assert.equal(rb.extFields.y, '2');
    assert.equal(rb.extFields.st, '1');
    assert.equal(rb.body.length, 70000);
    assert.equal(await conn.request(4, {}, null, { oneway: true }), null);
    await assert.rejects(conn.request(5, {}, null, { timeoutMs: 0 + 1, opaque: 123456, flag: R.FLAG_ONEWAY }), /no response/);
    const dead = conn.request(2, {}, null, { timeoutMs: 5000 }); // held by the server, never answered
    await conn.rawWrite(R.encodeFrame({ code: 999, opaque: 1 }));
    await assert.rejects(dead, /closed/);
    assert.equal(await conn.waitForClose(2000), true);
  } finally {
    await conn.close();
    server.close();
  }
});

test('ali-ons helpers need no broker to be constructed and closed', async () => {
  assert.match(humanTimestamp(Date.UTC(2024, 0, 2, 3, 4, 5)), /^\d{14}$/);
  const ons = new AliOns('127.0.0.1:1');
  await ons.closeAll();
});
