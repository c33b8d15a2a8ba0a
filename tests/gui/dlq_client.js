'use strict';
// The real AMQP client of tst_console_window's dead-letter case: node dlq_client.js AMQP_URL NAME
// Declares NAME (dead-lettering to NAME.dlx, a fanout bound to NAME.dlq), publishes one JSON message to it, rejects
// (nack without requeue) the first delivery and acknowledges every later one. Prints one line per event:
//   ready | dead-lettered | received <body> x-death=<queue>
// and exits when its stdin closes.
const amqp = require('../admin/node_modules/amqplib');

(async () => {
  const [url, name] = process.argv.slice(2);
  const conn = await amqp.connect(url);
  const ch = await conn.createConfirmChannel();
  await ch.assertExchange(`${name}.dlx`, 'fanout', { durable: true });
  await ch.assertQueue(`${name}.dlq`, { durable: true });
  await ch.bindQueue(`${name}.dlq`, `${name}.dlx`, '');
  await ch.assertQueue(name, { durable: true, deadLetterExchange: `${name}.dlx` });
  let first = true;
  await ch.consume(name, msg => {
    if (first) {
      first = false;
      ch.nack(msg, false, false);
      setTimeout(() => console.log('dead-lettered'), 200);
      return;
    }
    const death = (msg.properties.headers['x-death'] || [])[0];
    console.log(`received ${msg.content.toString()} x-death=${death ? death.queue : ''}`);
    ch.ack(msg);
  });
  console.log('ready');
  ch.sendToQueue(name, Buffer.from('{"order":7,"items":["a","b"]}'), { persistent: true, contentType: 'application/json' });
  await ch.waitForConfirms();
  process.stdin.resume();
  process.stdin.on('end', async () => {
    await conn.close().catch(() => {});
    process.exit(0);
  });
})().catch(e => {
  console.log(`error ${e.message}`);
  process.exit(1);
});
