#!/usr/bin/env bash
# bench/amqp/compare.sh: the same bench_amqp scenarios against RabbitMQ and against Ferry, one after the other, on
# 127.0.0.1, then one table with both figures and the ratio Ferry / RabbitMQ per scenario.
#
#   bench/amqp/compare.sh [options] [-- bench_amqp options...]
#     --bench PATH          bench_amqp (default: build/release/bin/bench_amqp, else build/bin/bench_amqp)
#     --ferry PATH          ferry-broker (default: build/release/bin/ferry-broker)
#     --rabbitmq-port N     AMQP port of the private RabbitMQ node (default 5697; scripts/rabbitmq-local.sh derives
#                           its epmd and dist ports from it: 5697 -> epmd 4397, dist 25697)
#     --seconds N           per publish and latency scenario (default 5)
#     --flush MODE          Ferry's storage.flush (default sync, the one that matches RabbitMQ: see README.md)
#     --side both|rabbitmq|ferry   which brokers to run (default both)
#     --out DIR             also copy the JSON files and text tables there
#     --keep                keep the work directory (broker data and logs) instead of removing it
# Options after `--` go to bench_amqp unchanged, for both brokers (same settings on both sides).
#
# RabbitMQ: `scripts/rabbitmq-local.sh start <work>/rabbitmq <port>` (a fresh node of Debian's rabbitmq-server
# bound to 127.0.0.1), bench_amqp, `scripts/rabbitmq-local.sh stop`. Ferry: ferry-broker --data-dir <work>/ferry
# --set log.console=false --set amqp.listen=127.0.0.1:0 --set rocket.namesrv_listen= --set rocket.broker_listen=
# --set storage.flush=<flush>; the port comes from its `listening amqp.listen 127.0.0.1:<port>` stdout line, and it is
# stopped with SIGTERM (SIGKILL after 15 s). Both are stopped on every exit path, by PID. Exit status 0 only if both
# sides ran and every check passed.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bench="" ferry="$root/build/release/bin/ferry-broker" rmq_port=5697 secs=5 flush=sync side=both out="" keep=0
extra=()
die() { echo "compare: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --bench) bench=${2:?}; shift 2 ;;
    --ferry) ferry=${2:?}; shift 2 ;;
    --rabbitmq-port) rmq_port=${2:?}; shift 2 ;;
    --seconds) secs=${2:?}; shift 2 ;;
    --flush) flush=${2:?}; shift 2 ;;
    --side) side=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    --keep) keep=1; shift ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (--help lists them)" ;;
  esac
done
case "$side" in both|rabbitmq|ferry) ;; *) die "--side wants both, rabbitmq or ferry" ;; esac
case "$flush" in sync|async) ;; *) die "--flush wants sync or async" ;; esac
if [ -z "$bench" ]; then
  for b in "$root/build/release/bin/bench_amqp" "$root/build/bin/bench_amqp"; do
    [ -x "$b" ] && { bench=$b; break; }
  done
fi
[ -n "$bench" ] && [ -x "$bench" ] ||
  die "no bench_amqp (build it: cmake --build --preset release --target bench_amqp; or pass --bench PATH)"
rmq_script="$root/scripts/rabbitmq-local.sh"
if [ "$side" != ferry ]; then
  [ -x "$rmq_script" ] || die "$rmq_script not found: it starts the RabbitMQ side"
fi
# Every scenario has its own watchdog in bench_amqp; this bounds a whole run on top of it.
run_limit=${COMPARE_RUN_LIMIT:-3600}

work=$(mktemp -d "${TMPDIR:-/tmp}/ferry-bench-amqp-XXXXXX")
rmq_started=0 ferry_pid=""
stop_ferry() {
  [ -n "$ferry_pid" ] || return 0
  if kill -0 "$ferry_pid" 2>/dev/null; then
    kill -TERM "$ferry_pid" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$ferry_pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$ferry_pid" 2>/dev/null; then
      echo "compare: ferry-broker (pid $ferry_pid) still running 15 s after SIGTERM: SIGKILL" >&2
      kill -KILL "$ferry_pid" 2>/dev/null || true
    fi
  fi
  wait "$ferry_pid" 2>/dev/null || true
  ferry_pid=""
}
stop_rabbitmq() {
  [ "$rmq_started" = 1 ] || return 0
  "$rmq_script" stop "$work/rabbitmq" >/dev/null || echo "compare: stopping RabbitMQ failed (see $work/rabbitmq)" >&2
  rmq_started=0
}
cleanup() {
  stop_ferry
  stop_rabbitmq
  if [ "$keep" = 1 ]; then echo "compare: work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# run_bench <label> <port> <name>: bench_amqp against 127.0.0.1:<port>, table to the terminal and <work>/<name>.txt.
run_bench() {
  local status=0
  timeout -k 10 "$run_limit" "$bench" --url "amqp://guest:guest@127.0.0.1:$2/" --label "$1" --seconds "$secs" \
    --dir "$work" --json "$work/$3.json" "${extra[@]}" | tee "$work/$3.txt" || status=$?
  [ "$status" = 0 ] || echo "compare: bench_amqp against $1 ended with status $status" >&2
  return "$status"
}

failed=0
if [ "$side" != ferry ]; then
  echo "== RabbitMQ (scripts/rabbitmq-local.sh, 127.0.0.1:$rmq_port)"
  rmq_started=1 # from here on, stop it on exit even if start fails half-way
  if "$rmq_script" start "$work/rabbitmq" "$rmq_port" 2>"$work/rabbitmq-start.err"; then
    run_bench RabbitMQ "$rmq_port" rabbitmq || failed=1
  else
    cat "$work/rabbitmq-start.err" >&2
    echo "compare: RabbitMQ did not start" >&2
    failed=1
  fi
  stop_rabbitmq
  echo
fi

if [ "$side" != rabbitmq ]; then
  echo "== Ferry ($ferry, storage.flush=$flush)"
  ferry_port=""
  if [ ! -x "$ferry" ]; then
    echo "compare: no ferry-broker at $ferry (cmake --build --preset release; or pass --ferry PATH)" >&2
    failed=1
  else
    mkdir -p "$work/ferry"
    : >"$work/ferry.out"
    "$ferry" --data-dir "$work/ferry" --set log.console=false --set amqp.listen=127.0.0.1:0 \
      --set rocket.namesrv_listen= --set rocket.broker_listen= --set replication.listen=127.0.0.1:0 --set admin.listen=127.0.0.1:0 --set "storage.flush=$flush" \
      >"$work/ferry.out" 2>"$work/ferry.err" </dev/null &
    ferry_pid=$!
    # It prints `listening <key> <host:port>` per listener, then `ready`; or exits with the reason on stderr.
    deadline=$((SECONDS + 30)) why=""
    while :; do
      if grep -qx 'ready' "$work/ferry.out"; then
        ferry_port=$(sed -n 's/^listening amqp\.listen .*:\([0-9][0-9]*\)$/\1/p' "$work/ferry.out" | head -n 1)
        [ -n "$ferry_port" ] ||
          why="it printed 'ready' but no 'listening amqp.listen' line (is the amqp-protocol plugin built? see $ferry --list-plugins)"
        break
      fi
      if ! kill -0 "$ferry_pid" 2>/dev/null; then
        status=0; wait "$ferry_pid" || status=$?; ferry_pid=""
        why="it exited at start-up with status $status: $(tail -n 3 "$work/ferry.err" | tr '\n' ' ')"
        break
      fi
      if [ $SECONDS -ge $deadline ]; then
        why="it printed no 'ready' within 30 s"
        break
      fi
      sleep 0.1
    done
    if [ -n "$why" ]; then
      echo "compare: ferry-broker has no amqp.listen listener: $why" >&2
      failed=1
    else
      run_bench Ferry "$ferry_port" ferry || failed=1
    fi
    stop_ferry
  fi
  echo
fi

files=()
for f in rabbitmq ferry; do [ -s "$work/$f.json" ] && files+=("$work/$f.json"); done
if [ "$side" = both ] && [ ${#files[@]} -gt 0 ]; then
  echo "== Ferry / RabbitMQ"
  [ -s "$work/rabbitmq.json" ] || echo "(no RabbitMQ figures)"
  cmp=("$work/rabbitmq.json" "$work/ferry.json")
  [ -s "$work/rabbitmq.json" ] || cmp=("$work/ferry.json")
  "$bench" --compare "${cmp[@]}" | tee "$work/compare.txt" || failed=1
fi
if [ -n "$out" ]; then
  mkdir -p "$out"
  for f in rabbitmq.json rabbitmq.txt ferry.json ferry.txt compare.txt; do
    [ -f "$work/$f" ] && cp "$work/$f" "$out/"
  done
  echo "compare: results copied to $out"
fi
exit "$failed"
