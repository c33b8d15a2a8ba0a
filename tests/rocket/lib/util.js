'use strict';
// Small helpers shared by the test files.

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

let counter = 0;
// A topic/group name unique to this process and call: [A-Za-z0-9_] only (Java's topic/group charset), short.
function uniqueName(prefix) {
  counter += 1;
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${counter}`;
}

// Polls fn (sync or async) until it returns a truthy value, which it resolves with. On timeout rejects with
// `message` (a string or a function returning one, evaluated then) and the last error fn threw, if any.
async function waitFor(fn, { timeoutMs = 10000, intervalMs = 50, message = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastErr = null;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      lastErr = null;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() >= deadline) {
      const what = typeof message === 'function' ? message() : message;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}` +
        (lastErr ? `\n  last error: ${lastErr.stack || lastErr.message}` : ''));
    }
    await sleep(intervalMs);
  }
}

// Rejects if promise does not settle within ms.
async function withTimeout(promise, ms, what = 'operation') {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// Groups an array into a Map by key(item).
function groupBy(items, key) {
  const m = new Map();
  for (const it of items) {
    const k = key(it);
    if (!m.has(k)) m.set(k, []);
    m.get(k).push(it);
  }
  return m;
}

// Counts occurrences; returns the entries seen more than once.
function duplicates(values) {
  const seen = new Map();
  for (const v of values) seen.set(v, (seen.get(v) || 0) + 1);
  return [...seen.entries()].filter(([, n]) => n > 1).map(([v]) => v);
}

module.exports = { sleep, uniqueName, waitFor, withTimeout, groupBy, duplicates };
