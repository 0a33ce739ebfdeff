#!/usr/bin/env bash
# Makes the JavaScript SDK (sdk/js) ready for its tests: Node.js 18+ with npm (Debian's nodejs and
# npm when missing and running as root; otherwise prints the one command and exits 2, so the JS
# tier is skipped with that reason, never silently), its dev dependencies through `npm ci` from the
# committed lockfile when node_modules is missing or older than the lockfile, and a fresh build
# (dist/esm and dist/cjs). Exit 0: ready; 2: Node.js not available (skipped); else: a failure.
set -euo pipefail
cd "$(dirname "$0")/../sdk/js"
ready() {
  command -v node >/dev/null && command -v npm >/dev/null \
    && node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)'
}
if ! ready; then
  if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null; then
    echo "JS SDK tier SKIPPED: Node.js 18+ and npm are not installed; run 'sudo apt-get update && sudo apt-get install -y nodejs npm' to enable it" >&2
    exit 2
  fi
  echo "==> installing nodejs npm (Debian) for the JS SDK tier"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  ready
fi
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "==> npm ci (sdk/js)"
  npm ci --no-audit --no-fund --loglevel=error
fi
node scripts/build.mjs
