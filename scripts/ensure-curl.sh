#!/usr/bin/env bash
# Makes curl ready for tests/local's run of the README's curl example (Debian's curl). Installs it
# when missing and running as root (non-interactive apt); otherwise prints the one command to run
# and exits 2, and that test then fails saying the same (it is never skipped).
# Exit 0: ready; 2: not available; anything else: a real failure.
set -euo pipefail
if command -v curl >/dev/null; then
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null; then
  echo "curl is not installed: run 'sudo apt-get update && sudo apt-get install -y curl' (tests/local runs the README's curl example)" >&2
  exit 2
fi
echo "==> installing curl (Debian) for tests/local's curl example"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends curl >/dev/null
command -v curl >/dev/null
