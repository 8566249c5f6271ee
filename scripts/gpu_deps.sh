#!/usr/bin/env bash
# gpu_deps.sh - prepares .deps/ for scripts/gpu_run.sh: the lent GPU machine has no apt and no cmocka, so
# the Debian packages are downloaded here and unpacked into .deps/root, which the device tool carries
# (run it with carry: [".deps"]). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .deps/root
cd .deps
for p in libcmocka0 libcmocka-dev; do
  ls ${p}_*.deb >/dev/null 2>&1 || apt-get download "$p"
done
for f in *.deb; do dpkg -x "$f" root; done
echo "gpu_deps: .deps/root ready ($(ls root/usr/lib/x86_64-linux-gnu | grep -c cmocka) cmocka files)"
