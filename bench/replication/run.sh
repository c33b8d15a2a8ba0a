#!/usr/bin/env bash
# bench/replication/run.sh: publish throughput and latency of one Ferry master with no slave, with an ASYNC_MASTER
# slave and with a SYNC_MASTER slave, on 127.0.0.1, through bench_amqp (the same load for the three). A benchmark:
# it prints figures and asserts nothing about speed. See README.md.
#
#   bench/replication/run.sh [--seconds N] [--ferry PATH] [--bench PATH] [--out DIR] [-- bench_amqp options...]
#
# Defaults: the release build (build/release/bin), 5 s per scenario, the persistent publish scenarios (with and
# without confirms) and the end-to-end latency at 2000 msg/s, 1 KiB bodies; master on storage-file (flush sync), the
# slave too. Each mode gets fresh data directories.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
seconds=5
ferry="$root/build/release/bin/ferry-broker"
bench="$root/build/release/bin/bench_amqp"
out=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --ferry) ferry=$2; shift 2 ;;
    --bench) bench=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "run.sh: unknown option $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
extra=("$@")
[[ -x "$ferry" ]] || ferry="$root/build/bin/ferry-broker"
[[ -x "$bench" ]] || bench="$root/build/bin/bench_amqp"
work=$(mktemp -d /tmp/ferry-bench-repl.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

# start NAME ARGS...: starts ferry-broker, waits for `ready`, sets $port (amqp) and $repl (replication listener).
start() {
  local name=$1; shift
  "$ferry" --data-dir "$work/$name" --set log.console=false --set rocket.namesrv_listen= --set rocket.broker_listen= \
    --set amqp.listen=127.0.0.1:0 --set replication.listen=127.0.0.1:0 --set admin.listen=127.0.0.1:0 "$@" > "$work/$name.out" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 200); do grep -q '^ready$' "$work/$name.out" && break; sleep 0.05; done
  grep -q '^ready$' "$work/$name.out" || { echo "run.sh: $name did not start:" >&2; cat "$work/$name.out" >&2; exit 1; }
  port=$(sed -n 's/^listening amqp\.listen .*:\([0-9]*\)$/\1/p' "$work/$name.out")
  repl=$(sed -n 's/^listening replication\.listen \(.*\)$/\1/p' "$work/$name.out")
}

stop_all() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; pids=(); }

for mode in none ASYNC_MASTER SYNC_MASTER; do
  role=ASYNC_MASTER; [[ $mode == SYNC_MASTER ]] && role=SYNC_MASTER
  start "master-$mode" --set replication.role=$role
  mport=$port; mrepl=$repl
  if [[ $mode != none ]]; then
    start "slave-$mode" --set replication.role=SLAVE --set broker.id=1 --set replication.master="$mrepl"
    for _ in $(seq 1 100); do
      "$ferry" --replication-status --replication-address "$mrepl" 2>/dev/null | grep -q '"inSyncSlaves":1' && break
      sleep 0.1
    done
  fi
  "$bench" --url "amqp://guest:guest@127.0.0.1:$mport/" --label "ferry-$mode" --seconds "$seconds" --sizes 1024 \
    --only publish-persistent,latency-persistent --no-reference --json "$work/$mode.json" "${extra[@]}" \
    > "$work/$mode.txt"
  echo "== $mode"; cat "$work/$mode.txt"
  [[ $mode != none ]] && "$ferry" --replication-status --replication-address "$mrepl"
  stop_all
done
echo "== ASYNC_MASTER / no slave"; "$bench" --compare "$work/none.json" "$work/ASYNC_MASTER.json"
echo "== SYNC_MASTER / no slave"; "$bench" --compare "$work/none.json" "$work/SYNC_MASTER.json"
if [[ -n "$out" ]]; then mkdir -p "$out"; cp "$work"/*.json "$work"/*.txt "$out"/; fi
