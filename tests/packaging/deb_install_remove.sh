#!/usr/bin/env bash
# The DEBs on a real system (tests/packaging/package_tests.cmake, FERRY_PACKAGE_INSTALL_TESTS=ON): installs them
# with apt-get, runs the installed broker as the `ferry` user (setpriv: the broker itself gets the signals) the package made, with the packaged config (test ports
# on 127.0.0.1), publishes and consumes with a real client (pika), asks ferryctl, builds the example plugin from the
# installed SDK alone, keeps a modified conffile across a reinstall, then removes (data and config stay) and purges
# (they go). Needs root; changes this machine (the packages end purged; the `ferry` user stays, as on Debian).
#   deb_install_remove.sh PACKAGES_DIR VERSION
set -euo pipefail
dir=$(cd "$1" && pwd) version=$2
arch=$(dpkg --print-architecture)
packages=(ferry-broker ferry-console ferry-plugin-sdk)
work=$(mktemp -d)
broker_pid=
fail() { echo "FAIL: $*" >&2; [ -f "$work/broker.out" ] && sed 's/^/  broker: /' "$work/broker.out" >&2; exit 1; }
step() { echo "== $*"; }
cleanup() {
  [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null || true
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "installed\|config-files" && \
      DEBIAN_FRONTEND=noninteractive apt-get purge -y -q "$p" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] || fail "needs root (it installs packages)"
for p in "${packages[@]}"; do
  [ -f "$dir/${p}_${version}_${arch}.deb" ] || fail "no ${p}_${version}_${arch}.deb in $dir"
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q installed; then fail "$p is installed already"; fi
done

step "apt-get install"
debs=()
for p in "${packages[@]}"; do debs+=("$dir/${p}_${version}_${arch}.deb"); done
DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${debs[@]}" >"$work/apt.log" 2>&1 || {
  cat "$work/apt.log" >&2; fail "apt-get install failed"; }
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}\n' "$p" | grep -qx "install ok installed" || fail "$p is not installed"
done

step "what the broker package set up"
getent passwd ferry >/dev/null || fail "no ferry user"
[ "$(getent passwd ferry | cut -d: -f6)" = /var/lib/ferry ] || fail "ferry's home is not /var/lib/ferry"
for d in /var/lib/ferry /var/log/ferry; do
  [ -d "$d" ] || fail "$d missing"
  [ "$(stat -c %U:%G "$d")" = ferry:ferry ] || fail "$d is not owned by ferry:ferry"
done
dpkg-query -W -f='${Conffiles}\n' ferry-broker | grep -q ' /etc/ferry/ferry.conf ' || fail "/etc/ferry/ferry.conf is no conffile"
unit=/lib/systemd/system/ferry-broker.service
[ -f "$unit" ] || fail "$unit missing"
grep -qx 'User=ferry' "$unit" || fail "the unit does not run as ferry"
if command -v systemd-analyze >/dev/null; then
  # Offline check of the unit's syntax and its ExecStart binary.
  systemd-analyze verify "$unit" >"$work/verify.log" 2>&1 || { cat "$work/verify.log" >&2; fail "systemd-analyze verify $unit"; }
fi
grep -qx 'data_dir = /var/lib/ferry' /etc/ferry/ferry.conf || fail "the config does not keep data in /var/lib/ferry"
for page in ferry-broker ferryctl; do
  gzip -t "/usr/share/man/man1/$page.1.gz" || fail "no man page $page(1)"
done
/usr/bin/ferry-broker --list-plugins >"$work/plugins.txt" 2>&1 || { cat "$work/plugins.txt" >&2; fail "--list-plugins"; }
for plugin in amqp rocket file sqlite; do
  grep -qE "^$plugin[[:space:]]" "$work/plugins.txt" || { cat "$work/plugins.txt" >&2; fail "installed plugin $plugin not listed"; }
done
grep -qi '^refused' "$work/plugins.txt" && { cat "$work/plugins.txt" >&2; fail "a plugin was refused"; }
/usr/bin/ferry-console --help >/dev/null || fail "ferry-console --help"

step "the installed broker as ferry, packaged config, test ports"
setpriv --reuid=ferry --regid=ferry --init-groups -- /usr/bin/ferry-broker --config /etc/ferry/ferry.conf \
  --set amqp.listen=127.0.0.1:0 --set rocket.namesrv_listen=127.0.0.1:0 --set rocket.broker_listen=127.0.0.1:0 \
  --set replication.listen=127.0.0.1:0 --set admin.listen=127.0.0.1:0 >"$work/broker.out" 2>&1 &
broker_pid=$!
for _ in $(seq 200); do grep -qx ready "$work/broker.out" && break; sleep 0.1; done
grep -qx ready "$work/broker.out" || fail "the installed broker did not start"
amqp=$(sed -n 's/^listening amqp.listen //p' "$work/broker.out")
admin=$(sed -n 's/^listening admin.listen //p' "$work/broker.out")
/usr/bin/python3 - "$amqp" <<'PY' || fail "publish and consume with pika"
import sys, pika
host, port = sys.argv[1].rsplit(":", 1)
conn = pika.BlockingConnection(pika.ConnectionParameters(host=host, port=int(port)))
ch = conn.channel()
ch.confirm_delivery()
ch.queue_declare("pkg-check", durable=True)
ch.basic_publish("", "pkg-check", b"from the installed broker", pika.BasicProperties(delivery_mode=2))
method, props, body = next(ch.consume("pkg-check", inactivity_timeout=10))
assert body == b"from the installed broker", body
ch.basic_ack(method.delivery_tag)
ch.cancel()
conn.close()
print("pika: published and consumed")
PY
/usr/bin/ferryctl --url "http://$admin" list-queues >"$work/queues.txt" || fail "ferryctl list-queues"
grep -q pkg-check "$work/queues.txt" || { cat "$work/queues.txt" >&2; fail "ferryctl does not list pkg-check"; }
/usr/bin/ferryctl --url "http://$admin" overview >/dev/null || fail "ferryctl overview"
kill -TERM "$broker_pid"
wait "$broker_pid" && rc=0 || rc=$?
broker_pid=
[ "$rc" = 0 ] || fail "the broker exited $rc on SIGTERM"
[ -s /var/log/ferry/ferry.log ] || fail "no log in /var/log/ferry/ferry.log"
[ "$(stat -c %U /var/log/ferry/ferry.log)" = ferry ] || fail "the log is not ferry's"
[ -n "$(find /var/lib/ferry -type f -user ferry | head -1)" ] || fail "no data of ferry's in /var/lib/ferry"

step "the example plugin from the installed SDK alone"
cmake -S /usr/share/ferry/sdk/examples/line-protocol -B "$work/example" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  >"$work/example.log" 2>&1 && cmake --build "$work/example" >>"$work/example.log" 2>&1 || {
  cat "$work/example.log" >&2; fail "the example did not build against /usr"; }
grep -q '/usr/lib/.*cmake/FerryPluginSDK' "$work/example/CMakeCache.txt" || fail "the example did not use the installed SDK"
module=$(find "$work/example" -name 'line-protocol*.so' -o -name 'line_protocol*.so' | head -1)
[ -n "$module" ] || fail "no plugin module built"
/usr/bin/ferry-broker --list-plugins --set "plugins.dirs=$(dirname "$module")" >"$work/example-plugins.txt" 2>&1 || true
grep -qE '^line[[:space:]]' "$work/example-plugins.txt" || { cat "$work/example-plugins.txt" >&2; fail "the broker did not load the example"; }

step "a modified conffile survives a reinstall"
echo "# changed by the admin" >>/etc/ferry/ferry.conf
DEBIAN_FRONTEND=noninteractive dpkg -i "$dir/ferry-broker_${version}_${arch}.deb" >"$work/dpkg.log" 2>&1 || {
  cat "$work/dpkg.log" >&2; fail "reinstall"; }
grep -qx "# changed by the admin" /etc/ferry/ferry.conf || fail "the reinstall replaced the admin's config"

step "remove: programs go, data, logs and config stay"
DEBIAN_FRONTEND=noninteractive apt-get remove -y -q "${packages[@]}" >"$work/apt.log" 2>&1 || {
  cat "$work/apt.log" >&2; fail "apt-get remove"; }
for f in /usr/bin/ferry-broker /usr/bin/ferryctl /usr/bin/ferry-console /usr/include/ferry/ferry_plugin.h "$unit"; do
  [ ! -e "$f" ] || fail "$f is still there after remove"
done
[ -z "$(find /usr/lib -path '*ferry/plugins/v1/*.so' 2>/dev/null | head -1)" ] || fail "plugins left after remove"
[ -f /etc/ferry/ferry.conf ] || fail "remove deleted the config"
[ -n "$(find /var/lib/ferry -type f | head -1)" ] || fail "remove deleted the data"
[ -s /var/log/ferry/ferry.log ] || fail "remove deleted the log"
echo "stays after remove: /etc/ferry/ferry.conf, $(find /var/lib/ferry -type f | wc -l) files in /var/lib/ferry, /var/log/ferry"

step "purge: data, logs and config go; the ferry user stays"
DEBIAN_FRONTEND=noninteractive apt-get purge -y -q ferry-broker >"$work/apt.log" 2>&1 || { cat "$work/apt.log" >&2; fail "apt-get purge"; }
for f in /etc/ferry/ferry.conf /var/lib/ferry /var/log/ferry; do
  [ ! -e "$f" ] || fail "$f is still there after purge"
done
getent passwd ferry >/dev/null || fail "purge deleted the ferry user"
echo "deb_install_remove: ok"
