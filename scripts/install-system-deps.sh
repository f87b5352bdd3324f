#!/usr/bin/env bash
# Installs the Debian packages the test suite and the demo use, when missing.
# Idempotent; needs root (CI and the demo run as root).  No service is started
# here: the tests start and stop their own daemons by PID.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" != 0 ]; then
    echo "install-system-deps: not root; skipping Debian packages (daemon tests will skip)" >&2
    exit 0
fi
# debconf-utils: the head formula preseeds Grid Engine with debconf.set (tests/integration/test_head_formula.py).
want=(slurm-wlm munge gridengine-master gridengine-exec gridengine-client graphite-carbon graphite-web iproute2 util-linux chromium
      debconf-utils)
missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "install-system-deps: installing ${missing[*]}"
    debconf-set-selections "$here/gridengine-preseed.txt"
    # The preseed names this machine as the qmaster host.
    for p in gridengine-common gridengine-master gridengine-client gridengine-exec; do
        echo "$p shared/gridenginemaster string $(hostname)" | debconf-set-selections
    done
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
