#!/usr/bin/env bash
# install-deps.sh: install every build, test and tool dependency of socp from
# Debian 12 packages. Idempotent; prints nothing when everything is present.
set -euo pipefail

PACKAGES=(
    make gcc clang pkg-config
    libzmq3-dev libsodium-dev liblmdb-dev libmsgpack-dev
    libssl-dev openssl libjansson-dev libwslay-dev
    libclang-rt-14-dev clang-format
    python3 python3-cryptography
    python3-zmq python3-msgpack python3-matplotlib
    tmux linux-perf
)

missing=()
for p in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done" >&2
