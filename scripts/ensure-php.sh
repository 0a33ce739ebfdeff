#!/usr/bin/env bash
# Makes PHP ready for the PHP SDK's tests (sdk/php): Debian's php-cli, php-curl, php-mbstring,
# phpunit and composer. Installs them when missing and running as root (non-interactive apt);
# otherwise prints the one command to run and exits 2, so the PHP tier is skipped with that reason
# (never silently). Exit 0: ready; 2: not available (skipped); anything else: a real failure.
set -euo pipefail
ready() {
  command -v php >/dev/null && command -v phpunit >/dev/null && command -v composer >/dev/null \
    && php -r 'exit(extension_loaded("curl") && extension_loaded("json") && extension_loaded("mbstring") && PHP_VERSION_ID >= 80100 ? 0 : 1);'
}
if ready; then
  exit 0
fi
packages="php-cli php-curl php-mbstring phpunit composer"
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null; then
  echo "PHP SDK tier SKIPPED: PHP 8.1+ with curl/mbstring, phpunit and composer are not installed; run 'sudo apt-get update && sudo apt-get install -y $packages' to enable it" >&2
  exit 2
fi
echo "==> installing $packages (Debian) for the PHP SDK tier"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $packages >/dev/null
ready
