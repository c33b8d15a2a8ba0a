#!/usr/bin/env bash
# Ferry's developer entry point, behind the README's quick start. On Debian 12:
#   scripts/dev.sh run    install what is missing, build, start ferry-broker with the default plugins (data in ./data)
#   scripts/dev.sh test   install what is missing, build, run the whole test suite through CTest, then the fuzzers
#                         (a Clang build of the libFuzzer targets, each run for a bounded time), then the packages
#                         (a Release build with prefix /usr: cpack, lintian, their contents; with CI=true they are
#                         also installed into this machine, run, removed and purged)
#   scripts/dev.sh package  install what is missing, build the packages into build/package/packages/
#   scripts/dev.sh deps   only install the Debian packages
# Extra arguments after `run` go to ferry-broker (e.g. --set storage.plugin=sqlite).
set -euo pipefail
cd "$(dirname "$0")/.."

# Build and test dependencies, all from Debian 12's archive.
PACKAGES=(
  build-essential cmake ninja-build pkg-config clang
  qt6-base-dev qt6-charts-dev libqt6opengl6-dev qtkeychain-qt6-dev libboost-dev libboost-filesystem-dev libspdlog-dev libfmt-dev libsqlite3-dev
)
# What the AMQP end-to-end tests (tests/amqp) and benchmarks drive the broker with: pika for Debian's /usr/bin/python3,
# the amqp-tools command line (amqp-publish, amqp-consume, ...), and librabbitmq's headers for the C load generator.
# The console test of saved passwords (tests/gui) runs a real Secret Service: gnome-keyring on a private D-Bus session.
# groff renders the generated man pages for tests/packaging.
TEST_PACKAGES=(python3-pika amqp-tools librabbitmq-dev gnome-keyring dbus-daemon groff-base)

# What the package checks need (tests/packaging/package_tests.cmake): dpkg-shlibdeps (dpkg-dev) and file for the
# DEBs' dependencies, rpmbuild (rpm) for the RPMs, lintian.
PACKAGE_PACKAGES=(dpkg-dev file rpm lintian)

install_deps() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "dev.sh: installing ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# The end-to-end tests drive the broker with the clients users run: Node.js (Debian's nodejs + npm when no node is
# installed), the npm packages pinned in tests/rocket/package-lock.json (ali-ons), tests/amqp/package-lock.json
# (amqplib) and tests/admin/package-lock.json (amqplib, a Prometheus text parser), and TEST_PACKAGES (pika, amqp-tools, librabbitmq-dev, ...) from Debian.
install_test_deps() {
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  local missing=()
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    missing+=(nodejs npm)
  fi
  for p in "${TEST_PACKAGES[@]}" "${PACKAGE_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "dev.sh: installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
  if [ ! -f tests/rocket/node_modules/ali-ons/package.json ]; then
    echo "dev.sh: npm ci in tests/rocket"
    (cd tests/rocket && npm ci --no-audit --no-fund --loglevel=error)
  fi
  if [ ! -f tests/amqp/node_modules/amqplib/package.json ]; then
    echo "dev.sh: npm ci in tests/amqp"
    (cd tests/amqp && npm ci --no-audit --no-fund --loglevel=error)
  fi
  if [ ! -f tests/admin/node_modules/parse-prometheus-text-format/package.json ]; then
    echo "dev.sh: npm ci in tests/admin"
    (cd tests/admin && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

build() {
  cmake --preset debug >/dev/null
  cmake --build --preset debug
}

cmd="${1:-}"
shift || true
case "$cmd" in
  deps) install_deps; install_test_deps ;;
  run)
    install_deps
    build
    exec build/bin/ferry-broker --config packaging/ferry.conf --data-dir data "$@"
    ;;
  test)
    install_deps
    install_test_deps
    build
    ctest --preset debug "$@"
    # The protocol codecs' libFuzzer targets need Clang: a small second build, then each runs for a bounded time.
    cmake --preset fuzz >/dev/null
    cmake --build --preset fuzz
    ctest --preset fuzz
    # The packages last: their checks install into the machine only on CI (CI=true), a machine thrown away after.
    install_tests=OFF
    [ "${CI:-}" = true ] && install_tests=ON
    cmake --preset package -DFERRY_PACKAGE_INSTALL_TESTS=$install_tests >/dev/null
    cmake --build --preset package
    ctest --preset package
    ;;
  package)
    install_deps
    install_test_deps
    cmake --preset package >/dev/null
    cmake --build --preset package
    cpack --preset package
    ls -l build/package/packages/*.deb build/package/packages/*.rpm build/package/packages/*.tar.gz
    ;;
  *)
    echo "usage: scripts/dev.sh run|test|package|deps [args...]" >&2
    exit 2
    ;;
esac
