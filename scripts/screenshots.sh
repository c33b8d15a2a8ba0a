#!/usr/bin/env bash
# Renders every ferry-console screen into docs/screenshots/ (the README shows them), offscreen: starts a broker of
# this build on loopback ephemeral ports with some traffic (queues, topics, a dead letter from a real amqplib client,
# a consumer group), then runs `ferry-console --screenshots`. Needs a debug build (scripts/dev.sh test builds it) and
# node with tests/admin's npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=build/bin
OUT=${1:-docs/screenshots}
mkdir -p "$OUT"
data=$(mktemp -d)
log=$(mktemp)
client=
trap 'kill "$broker" 2>/dev/null && wait "$broker" 2>/dev/null || true; [ -n "$client" ] && kill -- "-$client" 2>/dev/null || true; rm -rf "$data" "$log"' EXIT
"$BIN/ferry-broker" --data-dir "$data" --set log.console=false --set amqp.listen=127.0.0.1:0 \
  --set rocket.namesrv_listen=127.0.0.1:0 --set rocket.broker_listen=127.0.0.1:0 \
  --set replication.listen=127.0.0.1:0 --set admin.listen=127.0.0.1:0 >"$log" &
broker=$!
for _ in $(seq 100); do grep -q '^ready$' "$log" && break; sleep 0.1; done
admin=$(sed -n 's/^listening admin.listen //p' "$log")
amqp=$(sed -n 's/^listening amqp.listen //p' "$log")
ctl() { "$BIN/ferryctl" --url "http://$admin" "$@" >/dev/null; }
ctl create-topic TOrders --read-queues 4 --write-queues 4
ctl create-topic TPayments --read-queues 2 --write-queues 2
ctl declare-queue invoices
ctl declare-exchange billing topic
ctl bind billing invoices 'invoice.#'
for i in $(seq 12); do ctl publish billing invoice.created "{\"invoice\":$i,\"amount\":$((i * 10))}"; done
for i in $(seq 5); do ctl publish-topic TOrders "order $i" --tags created --keys "order-$i"; done
ctl reset-offset CG_BILLING TOrders --to-offset 0
# A dead letter from a real client (it stays connected, so the connections screen shows it too).
setsid bash -c "sleep 100000 | node tests/gui/dlq_client.js amqp://guest:guest@$amqp orders" >/dev/null 2>&1 &
client=$!
sleep 1.5
# Settings of its own (no saved profile or layout of the machine's user), with two saved profiles for the profiles
# dialog to list (no passwords: those live in the secret store).
mkdir -p "$data/config/Ferry"
printf '%s\n' '[profiles]' '1\name=production' '1\url=https://ferry-prod.example:15680' '1\user=ops' \
  '2\name=staging' '2\url=http://ferry-staging.example:15680' '2\user=ops' 'size=2' \
  >"$data/config/Ferry/ferry-console.conf"
XDG_CONFIG_HOME="$data/config" QT_QPA_PLATFORM=offscreen "$BIN/ferry-console" --url "http://$admin" --screenshots "$OUT"
ls "$OUT"
