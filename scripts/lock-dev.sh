#!/usr/bin/env bash
# requirements-dev.txt: every package `.[dev]` installs, pinned (`make lock`; bootstrap installs
# with `-c requirements-dev.txt`). The project itself stays out (--unsafe-package: it is installed
# editable), and llama-cpp-python resolves from the portable wheel the bootstrap built, so locking
# never compiles llama.cpp. Existing pins are kept unless an input changed (pip-compile's default);
# `make lock ARGS=--upgrade` moves them.
set -euo pipefail
cd "$(dirname "$0")/.."
llama_version=$(sed -n 's/^LLAMA_VERSION=//p' scripts/bootstrap.sh)
CUSTOM_COMPILE_COMMAND="make lock" .venv/bin/pip-compile -q --extra dev \
  --no-emit-index-url --no-emit-find-links --strip-extras --unsafe-package sparkai-stream \
  --find-links "$(scripts/llama-flags.sh --cache-dir "$llama_version")" \
  -o requirements-dev.txt "$@" pyproject.toml
