'use strict';
// Runs lib/target.js for a test in another language (tests/amqp/pika): starts the target, prints one JSON line
// {"url", "host", "port", "mode", "canRestart"} on stdout, then obeys commands on stdin, one a line, answering
// "ok <command>" or "error <message>" on one line each:
//   restart   graceful restart, same data and port        kill9   SIGKILL and start again
//   output    the broker's output, JSON-encoded on one line
// End of stdin (or "stop") stops the broker and exits 0. Every broker it started is SIGKILLed if it dies.
//
//   node lib/serve.js '{"auth": true}'

const readline = require('node:readline');
const { startTarget } = require('./target');

async function main() {
  const options = JSON.parse(process.argv[2] || '{}');
  let t;
  try {
    t = await startTarget(options);
  } catch (err) {
    process.stdout.write(`${JSON.stringify({ error: err.message })}\n`);
    process.exit(1);
  }
  process.stdout.write(`${JSON.stringify({ url: t.url, host: t.host, port: t.port, mode: t.mode, canRestart: t.canRestart })}\n`);
  const rl = readline.createInterface({ input: process.stdin });
  let queue = Promise.resolve();
  const finish = async () => {
    try { await t.stop(); } catch { /* exiting anyway */ }
    process.exit(0);
  };
  rl.on('line', line => {
    const cmd = line.trim();
    queue = queue.then(async () => {
      try {
        if (cmd === 'restart') await t.restart();
        else if (cmd === 'kill9') await t.kill9AndStart();
        else if (cmd === 'output') { process.stdout.write(`${JSON.stringify(t.output())}\n`); return; }
        else if (cmd === 'stop') return finish();
        else if (cmd === '') return;
        else throw new Error(`unknown command ${cmd}`);
        process.stdout.write(`ok ${cmd}\n`);
      } catch (err) {
        process.stdout.write(`error ${String(err.message).replace(/\n/g, ' | ')}\n`);
      }
    });
  });
  rl.on('close', () => { queue.then(finish); });
}

main();
