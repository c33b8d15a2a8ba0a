#!/bin/sh
# Runs a command with a real Secret Service: a private D-Bus session bus and gnome-keyring's secrets component,
# its login keyring created and unlocked in a throw-away HOME. For the console's saved-password test
# (tst_console_profiles), which QtKeychain (libsecret) talks to as it would on a desktop.
#   with_secret_service.sh COMMAND [ARGS...]
set -eu
command -v dbus-run-session >/dev/null || { echo "with_secret_service.sh: dbus-run-session missing (dbus-daemon)" >&2; exit 1; }
command -v gnome-keyring-daemon >/dev/null || { echo "with_secret_service.sh: gnome-keyring-daemon missing (gnome-keyring)" >&2; exit 1; }
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
HOME=$home XDG_DATA_HOME=$home/.local/share XDG_CONFIG_HOME=$home/.config XDG_RUNTIME_DIR=$home/run
export HOME XDG_DATA_HOME XDG_CONFIG_HOME XDG_RUNTIME_DIR
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
exec dbus-run-session -- sh -c 'printf %s ferry-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec "$@"' sh "$@"
