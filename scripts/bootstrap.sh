#!/usr/bin/env bash
# Creates .venv (the project, its tests, the local stack and the SDK) and .venv-sam (the SAM CLI,
# kept apart because it pins its own pydantic). Idempotent; `make` calls it when inputs change.
set -euo pipefail
cd "$(dirname "$0")/.."
LLAMA_VERSION=0.3.36
SAM_CLI_VERSION=1.170.0


python=$(scripts/find-python.sh 3.12)
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv with $python"
  "$python" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
fi
scripts/llama-wheel.sh .venv/bin/python "$LLAMA_VERSION"
llama_cache=$(scripts/llama-flags.sh --cache-dir "$LLAMA_VERSION")
llama_wheel=$(ls "$llama_cache"/llama_cpp_python-"$LLAMA_VERSION"-*.whl | head -n 1)
# pip keeps an installed llama-cpp-python of the same version, whatever it was built with (a .venv
# made before the portable build holds a -march=native one): install this wheel whenever it is not
# the one installed. Its deps come with the project below.
llama_digest=$(sha256sum "$llama_wheel" | cut -c1-64)
if [ "$(cat .venv/llama-cpp-python.sha256 2>/dev/null)" != "$llama_digest" ]; then
  echo "==> installing the portable llama-cpp-python wheel"
  .venv/bin/python -m pip install --quiet --progress-bar off --no-deps --force-reinstall "$llama_wheel"
  echo "$llama_digest" >.venv/llama-cpp-python.sha256
fi
cp "$llama_cache/CMAKE_ARGS" .venv/llama-cpp-python.CMAKE_ARGS  # shown by `make run ARGS=--verbose`
echo "==> installing the project, its test tools and the SDK into .venv"
# -c requirements-dev.txt: every dev package at its locked version (`make lock` regenerates it).
.venv/bin/python -m pip install --quiet --progress-bar off --find-links "$llama_cache" \
  -c requirements-dev.txt -e ".[dev]" -e sdk/python
if [ ! -x .venv-sam/bin/sam ] || ! .venv-sam/bin/sam --version | grep -q "$SAM_CLI_VERSION"; then
  echo "==> installing the SAM CLI $SAM_CLI_VERSION into .venv-sam"
  "$python" -m venv .venv-sam
  .venv-sam/bin/python -m pip install --quiet --progress-bar off "aws-sam-cli==$SAM_CLI_VERSION"
fi
ln -sf ../../.venv-sam/bin/sam .venv/bin/sam
scripts/ensure-curl.sh || [ $? -eq 2 ]  # Debian curl for the README's curl example in tests/local
scripts/ensure-browser.sh  # Debian chromium + chromedriver for tests/browser (skips there without)
echo "==> environment ready"
