#!/usr/bin/env bash
# Installs Debian's Chromium for the inspector's browser test (test/integration/observe-browser.test.ts)
# unless it is already there. Idempotent; needs root (CI runs as root).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
/usr/bin/chromium --version
