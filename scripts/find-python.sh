#!/usr/bin/env bash
# Prints the path of a Python $1 (default 3.12, the Lambda runtime's version): python3.12 on PATH,
# else a pyenv installation. Fails with a hint if there is none.
set -euo pipefail
want="${1:-3.12}"
if command -v "python${want}" >/dev/null 2>&1 && "python${want}" -c 'import sys' >/dev/null 2>&1; then
  command -v "python${want}"; exit 0
fi
for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"${want}".*/bin/python"${want}"; do
  if [ -x "$candidate" ]; then echo "$candidate"; exit 0; fi
done
echo "Python ${want} not found: install it (pyenv install ${want}) or put python${want} on PATH." >&2
exit 1
