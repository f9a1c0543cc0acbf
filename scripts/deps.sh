#!/bin/sh
# deps.sh - make sure this Debian machine has what oneoff needs to build,
# test and demo. Missing packages are installed with apt-get when run as
# root; otherwise the exact apt-get line is printed and the script fails.
set -eu

PACKAGES="gcc libc6-dev make pkg-config coreutils libssh-dev libyaml-dev libcmocka-dev
libjansson-dev libssl-dev openssh-server openssh-client procps iproute2
util-linux sqlite3 time sudo shellcheck busybox-static strace man-db groff-base
libxml2-utils podman runc conmon"

missing=""
for p in $PACKAGES; do
    st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$st" = installed ] || missing="$missing $p"
done
[ -n "$missing" ] || exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    echo "deps: missing packages:$missing (and no apt-get here)" >&2
    exit 1
fi
if [ "$(id -u)" != 0 ]; then
    echo "deps: missing packages:$missing" >&2
    echo "deps: run as root: apt-get update && apt-get install -y$missing" >&2
    exit 1
fi

echo "deps: installing$missing"
had=""
[ -s /run/sshd.pid ] && had=$(cat /run/sshd.pid 2>/dev/null || true)
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -qq
# shellcheck disable=SC2086
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
    $missing >/dev/null
# Installing openssh-server may start the system's sshd on port 22; the
# tests never need it, so stop it again, but only if this install started it.
if [ -s /run/sshd.pid ]; then
    p=$(cat /run/sshd.pid 2>/dev/null || true)
    if [ -n "$p" ] && [ "$p" != "$had" ] &&
        [ "$(readlink "/proc/$p/exe" 2>/dev/null)" = /usr/sbin/sshd ]; then
        kill "$p" 2>/dev/null || true
    fi
fi
echo "deps: done"
