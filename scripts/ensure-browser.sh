#!/usr/bin/env bash
# Installs Debian's headless-capable Chromium and its matching chromedriver for the browser tier
# (tests/browser). Browser downloads (playwright install, selenium-manager) are not possible here,
# so the tier drives the system browser. Idempotent; needs root (apt-get) and otherwise only says
# what to run: the browser tier then skips with that reason.
set -euo pipefail
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "browser tier: run 'sudo apt-get update && sudo apt-get install -y chromium chromium-driver' to enable it" >&2
  exit 0
fi
echo "==> installing chromium and chromium-driver (Debian) for the browser tier"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core >/dev/null
