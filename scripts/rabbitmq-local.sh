#!/usr/bin/env bash
# Runs Debian's rabbitmq-server by hand, as a private test peer bound to 127.0.0.1 only, for the AMQP end-to-end
# tests (tests/amqp, FERRY_AMQP_TARGET=rabbitmq) and the AMQP benchmarks (RabbitMQ side of the ratios).
#
#   scripts/rabbitmq-local.sh start <dir> <amqp_port>   start a node whose state lives in <dir>; returns once it
#                                                       accepts AMQP (connection.start seen), or fails (exit 1) with
#                                                       the log tail after RABBITMQ_LOCAL_START_TIMEOUT s (60)
#   scripts/rabbitmq-local.sh stop <dir>                SIGTERM the node (SIGKILL after 30 s), then its epmd, by PID
#   scripts/rabbitmq-local.sh kill9 <dir>               SIGKILL the node only (epmd stays; `start` again reuses it)
#   scripts/rabbitmq-local.sh restart <dir>             stop (node only, epmd kept) and start again: same port, data
#   scripts/rabbitmq-local.sh status <dir>              exit 0 and print the PIDs if the node runs, else exit 1
#   scripts/rabbitmq-local.sh ctl <dir> <args...>       rabbitmqctl against this node (e.g. `ctl <dir> add_user a b`)
#   scripts/rabbitmq-local.sh env <dir>                 print the environment (source-able) the node runs with
#
# Nothing here uses the Debian service scripts (/usr/sbin/rabbitmq-server switches to the rabbitmq user, and the
# service binds every interface and the well-known ports): the node runs as the caller from
# /usr/lib/rabbitmq/bin/rabbitmq-server with its own
#   - node name     ferry-rmq-<amqp_port>@localhost (short names)
#   - epmd          its own epmd process on 127.0.0.1:<epmd_port>, started here (ERL_EPMD_PORT/ERL_EPMD_ADDRESS)
#   - dist port     127.0.0.1:<dist_port> (inet_dist_use_interface); rabbitmqctl's own node uses dist_port+10000..+10
#   - AMQP          127.0.0.1:<amqp_port> only; no management/prometheus listener (those plugins are not enabled)
#   - directories   <dir>/mnesia (data: durable queues and messages survive stop/start and kill9), <dir>/log,
#                   <dir>/home (HOME, holding the Erlang cookie .erlang.cookie, mode 0400), <dir>/rabbitmq.conf,
#                   <dir>/enabled_plugins, an empty <dir>/rabbitmq-env.conf (so /etc/rabbitmq/rabbitmq-env.conf is
#                   never read)
# Ports: <epmd_port> defaults to amqp_port-1300 and <dist_port> to amqp_port+20000 (5698 -> epmd 4398, dist 25698);
# override with RABBITMQ_LOCAL_EPMD_PORT / RABBITMQ_LOCAL_DIST_PORT. 5672, 15672, 4369 and 25672 are refused, so a
# system RabbitMQ and this one never collide. Two nodes may run side by side with different <dir> and ports.
#
# Plugins: rabbitmq_delayed_message_exchange is enabled when Debian's package ships it (Debian 12's
# rabbitmq-server 3.10.8 does not; `start` then prints a note and the delayed-delivery tests validate only against
# Ferry). RABBITMQ_LOCAL_PLUGINS="a,b" adds plugins from the package (e.g. rabbitmq_management for a look around,
# which then listens on 127.0.0.1:<amqp_port+10000>).
#
# PIDs: <dir>/pids holds "node <beam pid>", "wrapper <pid>" (the rabbitmq-server shell that traps signals) and
# "epmd <pid>"; <dir>/rabbitmq.pid is RabbitMQ's own pid file (the beam). `stop` kills exactly those, never by name.
# The default user guest/guest (full rights on /, loopback only) exists on a fresh <dir>; the tests add theirs with
# `ctl`. Remove <dir> yourself after `stop` for a fresh node next time.
set -euo pipefail

RMQ_LIB=/usr/lib/rabbitmq
RMQ_BIN=$RMQ_LIB/bin

die() { echo "rabbitmq-local: $*" >&2; exit 1; }

usage() {
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

# pid_of <dir> <role>
pid_of() {
  [ -f "$1/pids" ] || return 0
  awk -v r="$2" '$1 == r { print $2 }' "$1/pids" | tail -n 1
}

set_pid() { # <dir> <role> <pid>
  local f="$1/pids"
  touch "$f"
  { grep -v "^$2 " "$f" || true; echo "$2 $3"; } >"$f.tmp"
  mv "$f.tmp" "$f"
}

check_port() { # <name> <port>
  if ! [[ "$2" =~ ^[0-9]+$ ]] || [ "$2" -lt 1024 ] || [ "$2" -gt 65535 ]; then
    die "$1 port '$2' is not a number in 1024..65535"
  fi
  case "$2" in 5672|15672|4369|25672|35672) die "$1 port $2 is a well-known RabbitMQ port: pick another" ;; esac
}

# Writes <dir>/env.sh on the first start (ports and node name are then fixed for that dir).
write_env() { # <dir> <amqp_port>
  local dir=$1 port=$2
  local epmd=${RABBITMQ_LOCAL_EPMD_PORT:-$((port - 1300))}
  local dist=${RABBITMQ_LOCAL_DIST_PORT:-$((port + 20000))}
  check_port amqp "$port"; check_port epmd "$epmd"; check_port dist "$dist"
  cat >"$dir/env.sh" <<EOF
# written by scripts/rabbitmq-local.sh; sourced by its subcommands
export RABBITMQ_LOCAL_AMQP_PORT=$port
export RABBITMQ_LOCAL_EPMD_PORT=$epmd
export RABBITMQ_LOCAL_DIST_PORT=$dist
export HOME='$dir/home'
export RABBITMQ_NODENAME='ferry-rmq-$port@localhost'
export RABBITMQ_USE_LONGNAME=false
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
export RABBITMQ_NODE_PORT=$port
export RABBITMQ_DIST_PORT=$dist
export RABBITMQ_CTL_DIST_PORT_MIN=$((dist + 10000))
export RABBITMQ_CTL_DIST_PORT_MAX=$((dist + 10010))
export ERL_EPMD_PORT=$epmd
export ERL_EPMD_ADDRESS=127.0.0.1
export RABBITMQ_CONF_ENV_FILE='$dir/rabbitmq-env.conf'
export RABBITMQ_CONFIG_FILE='$dir/rabbitmq.conf'
export RABBITMQ_ADVANCED_CONFIG_FILE='$dir/advanced.config'
export RABBITMQ_ENABLED_PLUGINS_FILE='$dir/enabled_plugins'
export RABBITMQ_MNESIA_BASE='$dir/mnesia'
export RABBITMQ_LOG_BASE='$dir/log'
export RABBITMQ_LOGS='$dir/log/rabbit.log'
export RABBITMQ_PID_FILE='$dir/rabbitmq.pid'
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS='-kernel inet_dist_use_interface {127,0,0,1}'
export RABBITMQ_CTL_ERL_ARGS='-kernel inet_dist_use_interface {127,0,0,1}'
EOF
}

load_env() { # <dir>
  [ -f "$1/env.sh" ] || die "$1 has no env.sh: not a directory made by '$0 start'"
  # shellcheck disable=SC1091
  . "$1/env.sh"
}

prepare_dir() { # <dir>
  local dir=$1
  mkdir -p "$dir/home" "$dir/mnesia" "$dir/log"
  if [ ! -f "$dir/home/.erlang.cookie" ]; then
    (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr 'a-f' 'A-F' >"$dir/home/.erlang.cookie")
    chmod 400 "$dir/home/.erlang.cookie"
  fi
  : >"$dir/rabbitmq-env.conf"
  [ -f "$dir/advanced.config" ] || echo '[].' >"$dir/advanced.config"
  cat >"$dir/rabbitmq.conf" <<EOF
# written by scripts/rabbitmq-local.sh
listeners.tcp.1 = 127.0.0.1:$RABBITMQ_NODE_PORT
listeners.ssl = none
loopback_users.guest = true
log.file = rabbit.log
log.file.level = info
log.console = false
management.tcp.ip = 127.0.0.1
management.tcp.port = $((RABBITMQ_NODE_PORT + 10000))
prometheus.tcp.ip = 127.0.0.1
prometheus.tcp.port = $((RABBITMQ_NODE_PORT + 10001))
EOF
  local plugins=() p
  if ls -d "$RMQ_LIB"/lib/rabbitmq_server-*/plugins/rabbitmq_delayed_message_exchange* >/dev/null 2>&1; then
    plugins+=(rabbitmq_delayed_message_exchange)
  else
    echo "rabbitmq-local: note: this rabbitmq-server package ships no rabbitmq_delayed_message_exchange plugin" \
         "(x-delayed-message exchanges are unavailable on this node)" >&2
  fi
  IFS=',' read -r -a extra <<<"${RABBITMQ_LOCAL_PLUGINS:-}"
  for p in "${extra[@]}"; do [ -n "$p" ] && plugins+=("$p"); done
  local list=""
  for p in "${plugins[@]}"; do list+="${list:+,}$p"; done
  echo "[$list]." >"$dir/enabled_plugins"
}

# True once the port answers an AMQP 0-9-1 header with a method frame (connection.start), within 2 s.
amqp_ready() { # <port>
  local port=$1 byte
  (
    exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
    printf 'AMQP\x00\x00\x09\x01' >&3
    byte=$(timeout 2 head -c 1 <&3 | od -An -tu1 | tr -d ' ')
    exec 3>&-
    [ "$byte" = "1" ]
  ) 2>/dev/null
}

start_epmd() { # <dir>
  local dir=$1 pid
  pid=$(pid_of "$dir" epmd)
  if pid_alive "$pid"; then return 0; fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$ERL_EPMD_PORT") 2>/dev/null; then
    die "port $ERL_EPMD_PORT (epmd) is taken by a process this script did not start for $dir"
  fi
  nohup epmd -address 127.0.0.1 -port "$ERL_EPMD_PORT" </dev/null >>"$dir/log/epmd.log" 2>&1 &
  pid=$!
  set_pid "$dir" epmd "$pid"
  for _ in $(seq 1 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$ERL_EPMD_PORT") 2>/dev/null && return 0
    pid_alive "$pid" || die "epmd exited at once (see $dir/log/epmd.log)"
    sleep 0.1
  done
  die "epmd did not listen on 127.0.0.1:$ERL_EPMD_PORT within 5 s"
}

cmd_start() { # <dir> <amqp_port>
  [ $# -eq 2 ] || usage
  local dir port
  mkdir -p "$1"
  dir=$(cd "$1" && pwd)
  port=$2
  [ -x "$RMQ_BIN/rabbitmq-server" ] || die "$RMQ_BIN/rabbitmq-server not found (apt-get install rabbitmq-server)"
  command -v epmd >/dev/null || die "epmd not found (erlang-base)"
  if [ -f "$dir/env.sh" ]; then
    load_env "$dir"
    [ "$RABBITMQ_LOCAL_AMQP_PORT" = "$port" ] ||
      die "$dir was made for AMQP port $RABBITMQ_LOCAL_AMQP_PORT, not $port (use another dir)"
  else
    write_env "$dir" "$port"
    load_env "$dir"
  fi
  local node
  node=$(pid_of "$dir" node)
  if pid_alive "$node"; then
    amqp_ready "$port" && { echo "rabbitmq-local: already running (node pid $node)"; return 0; }
    die "a node (pid $node) runs for $dir but does not answer AMQP on $port"
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "port $port is already taken by another process"
  fi
  prepare_dir "$dir"
  start_epmd "$dir"
  rm -f "$RABBITMQ_PID_FILE"
  nohup "$RMQ_BIN/rabbitmq-server" </dev/null >>"$dir/log/stdout.log" 2>&1 &
  local wrapper=$!
  set_pid "$dir" wrapper "$wrapper"
  local timeout=${RABBITMQ_LOCAL_START_TIMEOUT:-60} deadline beam=""
  deadline=$((SECONDS + timeout))
  while [ $SECONDS -lt $deadline ]; do
    if [ -z "$beam" ] && [ -s "$RABBITMQ_PID_FILE" ]; then
      beam=$(tr -d ' \n' <"$RABBITMQ_PID_FILE")
      set_pid "$dir" node "$beam"
    fi
    if [ -n "$beam" ] && amqp_ready "$port"; then
      echo "rabbitmq-local: $RABBITMQ_NODENAME accepts AMQP on 127.0.0.1:$port (node pid $beam, epmd pid" \
           "$(pid_of "$dir" epmd) on $ERL_EPMD_PORT, dist $RABBITMQ_DIST_PORT, dir $dir)"
      return 0
    fi
    if ! pid_alive "$wrapper" && ! pid_alive "$beam"; then
      echo "rabbitmq-local: rabbitmq-server exited during start-up" >&2
      tail -n 40 "$dir/log/stdout.log" "$RABBITMQ_LOGS" >&2 2>/dev/null || true
      exit 1
    fi
    sleep 0.3
  done
  echo "rabbitmq-local: no AMQP on 127.0.0.1:$port within $timeout s; stopping it" >&2
  tail -n 40 "$dir/log/stdout.log" "$RABBITMQ_LOGS" >&2 2>/dev/null || true
  stop_node "$dir" 5
  exit 1
}

# Stops the beam (SIGTERM: RabbitMQ's graceful shutdown; SIGKILL after <grace> s) and its wrapper shell.
stop_node() { # <dir> <grace seconds>
  local dir=$1 grace=$2 node wrapper
  node=$(pid_of "$dir" node)
  wrapper=$(pid_of "$dir" wrapper)
  [ -z "$node" ] && [ -s "$dir/rabbitmq.pid" ] && node=$(tr -d ' \n' <"$dir/rabbitmq.pid")
  if pid_alive "$node"; then
    kill -TERM "$node" 2>/dev/null || true
    for _ in $(seq 1 $((grace * 10))); do pid_alive "$node" || break; sleep 0.1; done
    if pid_alive "$node"; then
      echo "rabbitmq-local: node pid $node still alive after $grace s: SIGKILL" >&2
      kill -KILL "$node" 2>/dev/null || true
    fi
  fi
  for _ in $(seq 1 50); do pid_alive "$wrapper" || pid_alive "$node" || break; sleep 0.1; done
  if pid_alive "$wrapper"; then kill -KILL "$wrapper" 2>/dev/null || true; fi
  rm -f "$dir/rabbitmq.pid"
}

cmd_stop() { # <dir>
  [ $# -eq 1 ] || usage
  local dir=$1 epmd
  [ -d "$dir" ] || die "no such directory $dir"
  stop_node "$dir" 30
  epmd=$(pid_of "$dir" epmd)
  if pid_alive "$epmd"; then
    kill -TERM "$epmd" 2>/dev/null || true
    for _ in $(seq 1 30); do pid_alive "$epmd" || break; sleep 0.1; done
    if pid_alive "$epmd"; then kill -KILL "$epmd" 2>/dev/null || true; fi
  fi
  rm -f "$dir/pids"
  echo "rabbitmq-local: stopped ($dir)"
}

cmd_kill9() { # <dir>
  [ $# -eq 1 ] || usage
  local dir=$1 node wrapper
  node=$(pid_of "$dir" node)
  wrapper=$(pid_of "$dir" wrapper)
  pid_alive "$node" || die "no running node for $dir"
  kill -KILL "$node"
  for _ in $(seq 1 100); do pid_alive "$node" || break; sleep 0.05; done
  for _ in $(seq 1 50); do pid_alive "$wrapper" || break; sleep 0.1; done
  if pid_alive "$wrapper"; then kill -KILL "$wrapper" 2>/dev/null || true; fi
  rm -f "$dir/rabbitmq.pid"
  echo "rabbitmq-local: node pid $node killed with SIGKILL"
}

cmd_restart() { # <dir>
  [ $# -eq 1 ] || usage
  local dir=$1
  load_env "$dir"
  stop_node "$dir" 30
  cmd_start "$dir" "$RABBITMQ_LOCAL_AMQP_PORT"
}

cmd_status() { # <dir>
  [ $# -eq 1 ] || usage
  local node
  node=$(pid_of "$1" node)
  if pid_alive "$node"; then cat "$1/pids"; return 0; fi
  echo "rabbitmq-local: not running ($1)" >&2
  return 1
}

cmd_ctl() { # <dir> <args...>
  [ $# -ge 2 ] || usage
  local dir=$1
  shift
  load_env "$dir"
  exec "$RMQ_BIN/rabbitmqctl" -n "$RABBITMQ_NODENAME" "$@"
}

cmd_env() {
  [ $# -eq 1 ] || usage
  cat "$1/env.sh"
}

sub=${1:-}
shift || true
case "$sub" in
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  kill9) cmd_kill9 "$@" ;;
  restart) cmd_restart "$@" ;;
  status) cmd_status "$@" ;;
  ctl) cmd_ctl "$@" ;;
  env) cmd_env "$@" ;;
  *) usage ;;
esac
