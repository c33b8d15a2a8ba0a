'use strict';
// Higher-level raw operations over lib/remoting.js, shaped like the Java client's requests (string extFields).

const assert = require('node:assert/strict');
const {
  RequestCode, ResponseCode, PullSysFlag, encodeProperties, decodeMessages, remoteError,
} = require('./remoting');

const s = v => (v === undefined || v === null ? undefined : String(v));

// SEND_MESSAGE_V2 310 header (a..n, §2.2).
function sendHeaderV2(f) {
  return {
    a: f.producerGroup || 'PG_RAW',
    b: f.topic,
    c: f.defaultTopic || 'TBW102',
    d: s(f.defaultTopicQueueNums ?? 4),
    e: s(f.queueId ?? -1),
    f: s(f.sysFlag ?? 0),
    g: s(f.bornTimestamp ?? Date.now()),
    h: s(f.flag ?? 0),
    i: typeof f.properties === 'string' ? f.properties : encodeProperties(f.properties || {}),
    j: s(f.reconsumeTimes ?? 0),
    k: s(f.unitMode ?? false),
    l: s(f.maxReconsumeTimes),
    m: s(f.batch ?? false),
  };
}

// SEND_MESSAGE 10 header (V1 field names).
function sendHeaderV1(f) {
  return {
    producerGroup: f.producerGroup || 'PG_RAW',
    topic: f.topic,
    defaultTopic: f.defaultTopic || 'TBW102',
    defaultTopicQueueNums: s(f.defaultTopicQueueNums ?? 4),
    queueId: s(f.queueId ?? -1),
    sysFlag: s(f.sysFlag ?? 0),
    bornTimestamp: s(f.bornTimestamp ?? Date.now()),
    flag: s(f.flag ?? 0),
    properties: typeof f.properties === 'string' ? f.properties : encodeProperties(f.properties || {}),
    reconsumeTimes: s(f.reconsumeTimes ?? 0),
    unitMode: s(f.unitMode ?? false),
    batch: s(f.batch ?? false),
    maxReconsumeTimes: s(f.maxReconsumeTimes),
  };
}

// Sends one message; resolves the response (asserting code 0 unless opts.allowError). f: {topic, queueId, body,
// properties, sysFlag, flag, bornTimestamp, producerGroup, batch}; opts: {code: 10|310|320, ...request opts}.
async function send(conn, f, opts = {}) {
  const code = opts.code || RequestCode.SEND_MESSAGE_V2;
  const header = code === RequestCode.SEND_MESSAGE ? sendHeaderV1(f) : sendHeaderV2(f);
  const resp = await conn.request(code, header, f.body ?? Buffer.alloc(0), opts);
  if (resp && !opts.allowError && resp.code !== ResponseCode.SUCCESS) {
    throw remoteError(`send to ${f.topic}`, resp);
  }
  return resp;
}

// PULL_MESSAGE 11. sysFlag defaults to SUBSCRIPTION (4) with subscription '*': Apache answers 24
// SUBSCRIPTION_NOT_EXIST to a pull without that bit from a group that sent no heartbeat for the topic. Resolves {code, remark, nextBeginOffset, minOffset, maxOffset, suggestWhichBrokerId, messages,
// response}; asserts the four required response header fields are present on every answer.
async function pull(conn, f, opts = {}) {
  const header = {
    consumerGroup: f.consumerGroup || 'CG_RAW',
    topic: f.topic,
    queueId: s(f.queueId ?? 0),
    queueOffset: s(f.queueOffset ?? 0),
    maxMsgNums: s(f.maxMsgNums ?? 32),
    sysFlag: s(f.sysFlag ?? PullSysFlag.SUBSCRIPTION),
    commitOffset: s(f.commitOffset ?? 0),
    suspendTimeoutMillis: s(f.suspendTimeoutMillis ?? 0),
    subscription: f.subscription === undefined ? '*' : f.subscription,
    subVersion: s(f.subVersion ?? 0),
    expressionType: f.expressionType === undefined ? 'TAG' : f.expressionType,
  };
  const resp = await conn.request(RequestCode.PULL_MESSAGE, header, null, opts);
  const e = resp.extFields;
  for (const k of ['suggestWhichBrokerId', 'nextBeginOffset', 'minOffset', 'maxOffset']) {
    assert.ok(e[k] !== undefined && e[k] !== null,
      `PULL_MESSAGE response (code ${resp.code}) lacks the required header field ${k}: ${JSON.stringify(e)}`);
  }
  return {
    code: resp.code,
    remark: resp.remark,
    nextBeginOffset: Number(e.nextBeginOffset),
    minOffset: Number(e.minOffset),
    maxOffset: Number(e.maxOffset),
    suggestWhichBrokerId: Number(e.suggestWhichBrokerId),
    messages: resp.code === ResponseCode.SUCCESS ? decodeMessages(resp.body) : [],
    response: resp,
  };
}

// Pulls from `from` until nextBeginOffset reaches the queue's max offset (or `until`); returns every message.
async function pullAll(conn, f, { from = 0, until = null, maxRounds = 200 } = {}) {
  const out = [];
  let offset = from;
  for (let i = 0; i < maxRounds; i++) {
    const r = await pull(conn, { ...f, queueOffset: offset });
    if (r.code === ResponseCode.SUCCESS) {
      out.push(...r.messages);
      offset = r.nextBeginOffset;
    } else if (r.code === ResponseCode.PULL_RETRY_IMMEDIATELY) {
      offset = r.nextBeginOffset;
    } else if (r.code === ResponseCode.PULL_NOT_FOUND || r.code === ResponseCode.PULL_OFFSET_MOVED) {
      break;
    } else {
      throw remoteError(`pull ${f.topic}:${f.queueId}`, r.response);
    }
    const stop = until === null ? r.maxOffset : until;
    if (offset >= stop) break;
  }
  return out;
}

async function offsetRequest(conn, code, topic, queueId, extra = {}) {
  const resp = await conn.request(code, { topic, queueId: String(queueId), ...extra });
  if (resp.code !== ResponseCode.SUCCESS) throw remoteError(`request ${code} on ${topic}:${queueId}`, resp);
  return resp;
}

async function maxOffset(conn, topic, queueId) {
  return Number((await offsetRequest(conn, RequestCode.GET_MAX_OFFSET, topic, queueId)).extFields.offset);
}

async function minOffset(conn, topic, queueId) {
  return Number((await offsetRequest(conn, RequestCode.GET_MIN_OFFSET, topic, queueId)).extFields.offset);
}

async function queryConsumerOffset(conn, group, topic, queueId, extra = {}) {
  return conn.request(RequestCode.QUERY_CONSUMER_OFFSET, {
    consumerGroup: group, topic, queueId: String(queueId), ...extra,
  });
}

async function updateConsumerOffset(conn, group, topic, queueId, offset, opts = {}) {
  return conn.request(RequestCode.UPDATE_CONSUMER_OFFSET, {
    consumerGroup: group, topic, queueId: String(queueId), commitOffset: String(offset),
  }, null, opts);
}

// HeartbeatData for one consumer group (Java/ali-ons shape with enum names, or cpp shape with ordinals).
function consumerHeartbeat({ clientID, group, topics = [], style = 'java', producerGroups = [],
  messageModel = 'CLUSTERING', consumeFromWhere = 'CONSUME_FROM_LAST_OFFSET' }) {
  const subVersion = Date.now();
  const ordinal = {
    consumeType: { CONSUME_ACTIVELY: 0, CONSUME_PASSIVELY: 1, CONSUME_POP: 2 },
    messageModel: { BROADCASTING: 0, CLUSTERING: 1 },
    consumeFromWhere: {
      CONSUME_FROM_LAST_OFFSET: 0, CONSUME_FROM_LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST: 1,
      CONSUME_FROM_MIN_OFFSET: 2, CONSUME_FROM_MAX_OFFSET: 3, CONSUME_FROM_FIRST_OFFSET: 4, CONSUME_FROM_TIMESTAMP: 5,
    },
  };
  const cpp = style === 'cpp';
  const data = {
    clientID,
    producerDataSet: producerGroups.map(groupName => ({ groupName })),
    consumerDataSet: group ? [{
      groupName: group,
      consumeType: cpp ? ordinal.consumeType.CONSUME_PASSIVELY : 'CONSUME_PASSIVELY',
      messageModel: cpp ? ordinal.messageModel[messageModel] : messageModel,
      consumeFromWhere: cpp ? ordinal.consumeFromWhere[consumeFromWhere] : consumeFromWhere,
      unitMode: false,
      subscriptionDataSet: topics.map(topic => ({
        topic,
        subString: '*',
        tagsSet: [],
        codeSet: [],
        subVersion: cpp ? String(subVersion) : subVersion,
        expressionType: 'TAG',
        classFilterMode: false,
      })),
    }] : [],
  };
  return Buffer.from(JSON.stringify(data) + (cpp ? '\n' : ''), 'utf8');
}

async function heartbeat(conn, args) {
  const resp = await conn.request(RequestCode.HEART_BEAT, {}, consumerHeartbeat(args));
  if (resp.code !== ResponseCode.SUCCESS) throw remoteError('HEART_BEAT', resp);
  return resp;
}

async function consumerList(conn, group) {
  const resp = await conn.request(RequestCode.GET_CONSUMER_LIST_BY_GROUP, { consumerGroup: group });
  return {
    code: resp.code,
    remark: resp.remark,
    ids: resp.code === ResponseCode.SUCCESS ? JSON.parse(resp.body.toString('utf8')).consumerIdList : null,
  };
}

async function clusterInfo(conn) {
  const resp = await conn.request(RequestCode.GET_BROKER_CLUSTER_INFO, {});
  if (resp.code !== ResponseCode.SUCCESS) throw remoteError('GET_BROKER_CLUSTER_INFO', resp);
  return JSON.parse(resp.body.toString('utf8'));
}

module.exports = {
  sendHeaderV1, sendHeaderV2, send, pull, pullAll, maxOffset, minOffset, queryConsumerOffset, updateConsumerOffset,
  consumerHeartbeat, heartbeat, consumerList, clusterInfo, PullSysFlag,
};
