#!/usr/bin/env bash
# Checks the packages cpack made (tests/packaging/package_tests.cmake):
#   check_packages.sh lintian|rpm_contents|tgz_contents PACKAGES_DIR VERSION
# Exits non-zero, naming what is wrong, when a check fails.
set -euo pipefail
check=$1 dir=$2 version=$3
arch=$(dpkg --print-architecture)
fail() { echo "FAIL: $*" >&2; exit 1; }

# Every package name and one file each must hold.
declare -A must_hold=(
  [ferry-broker]="/usr/bin/ferry-broker /usr/bin/ferryctl /etc/ferry/ferry.conf /lib/systemd/system/ferry-broker.service /usr/share/man/man1/ferry-broker.1.gz /usr/share/man/man1/ferryctl.1.gz"
  [ferry-console]="/usr/bin/ferry-console /usr/share/man/man1/ferry-console.1.gz /usr/share/applications/ferry-console.desktop /usr/share/icons/hicolor/scalable/apps/ferry-console.svg"
  [ferry-plugin-sdk]="/usr/include/ferry/ferry_plugin.h /usr/include/ferry/sdk.hpp /usr/share/ferry/sdk/plugin-author-guide.md"
)
plugins="amqp-protocol rocket-protocol storage-file storage-sqlite"

contains() { # contains LISTING PATH: the listing (one path a line) has PATH
  grep -qxF -- "$2" <<<"$1"
}

case "$check" in
  lintian)
    status=0
    for deb in "$dir"/*_"$version"_"$arch".deb; do
      [ -f "$deb" ] || fail "no DEB in $dir"
      out=$(lintian --tag-display-limit 0 "$deb" 2>&1 || true)
      echo "== lintian $(basename "$deb") ($(du -h "$deb" | cut -f1)): $(grep -c '^E:' <<<"$out" || true) errors, $(grep -c '^W:' <<<"$out" || true) warnings"
      [ -z "$out" ] || echo "$out"
      if grep -q '^E:' <<<"$out"; then status=1; fi
    done
    exit $status
    ;;
  rpm_contents)
    for name in "${!must_hold[@]}"; do
      rpmfile=$(ls "$dir"/"$name"-"$version"-*.rpm 2>/dev/null | head -1)
      [ -n "$rpmfile" ] || fail "no RPM for $name in $dir"
      listing=$(rpm -qlp "$rpmfile" 2>/dev/null)
      echo "== $(basename "$rpmfile"): $(wc -l <<<"$listing") files, $(du -h "$rpmfile" | cut -f1)"
      echo "$listing"
      for path in ${must_hold[$name]}; do
        contains "$listing" "$path" || fail "$name's RPM lacks $path"
      done
    done
    broker_rpm=$(ls "$dir"/ferry-broker-"$version"-*.rpm | head -1)
    for plugin in $plugins; do
      grep -qE "/ferry/plugins/v1/$plugin\.so$" <<<"$(rpm -qlp "$broker_rpm")" || fail "ferry-broker's RPM lacks $plugin.so"
    done
    rpm -qcp "$broker_rpm" | grep -qxF /etc/ferry/ferry.conf || fail "/etc/ferry/ferry.conf is not a %config file"
    rpm -qp --scripts "$broker_rpm" | grep -q useradd || fail "ferry-broker's RPM does not create the ferry user"
    rpm -qp --requires "$broker_rpm" | grep -q 'libQt6Core' || fail "ferry-broker's RPM does not require Qt 6 Core"
    echo "rpm_contents: ok"
    ;;
  tgz_contents)
    tgz=$(ls "$dir"/ferry-"$version"-Linux.tar.gz 2>/dev/null | head -1)
    [ -n "$tgz" ] || fail "no TGZ in $dir"
    listing=$(tar tzf "$tgz" | sed -E 's|^[^/]+/|/|')
    echo "== $(basename "$tgz"): $(wc -l <<<"$listing") entries, $(du -h "$tgz" | cut -f1)"
    for name in "${!must_hold[@]}"; do
      for path in ${must_hold[$name]}; do
        contains "$listing" "$path" || fail "the TGZ lacks $path"
      done
    done
    for plugin in $plugins; do
      grep -qE "/ferry/plugins/v1/$plugin\.so$" <<<"$listing" || fail "the TGZ lacks $plugin.so"
    done
    echo "tgz_contents: ok"
    ;;
  *) fail "unknown check $check" ;;
esac
