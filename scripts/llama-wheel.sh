#!/usr/bin/env bash
# Makes sure a built llama-cpp-python wheel is in the wheel cache, compiling it once if needed.
# The build compiles llama.cpp from source (about 3-5 minutes on 2 cores); later runs reuse it.
set -euo pipefail
python="$1"                                  # the venv's python
version="$2"                                 # e.g. 0.3.36
cache="${SPARKAI_WHEEL_CACHE:-$HOME/.cache/sparkai/wheels}"
mkdir -p "$cache"
if ls "$cache"/llama_cpp_python-"$version"-*.whl >/dev/null 2>&1; then
  echo "llama-cpp-python $version: using the cached wheel in $cache"
  exit 0
fi
echo "llama-cpp-python $version: compiling llama.cpp for this CPU (once; cached in $cache)..."
log="$cache/llama-cpp-python-$version.build.log"
start=$(date +%s)
# pip -v shows ninja's "[n/total]" lines; print one progress line per 5% so CI logs stay short.
CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" "$python" -m pip wheel --no-deps -v \
    "llama-cpp-python==$version" -w "$cache" 2>&1 | tee "$log" | awk '
  match($0, /\[[0-9]+\/[0-9]+\]/) {
    split(substr($0, RSTART + 1, RLENGTH - 2), p, "/"); pct = int(100 * p[1] / p[2])
    if (pct >= last + 5 || pct == 100) { printf "  building llama.cpp: %3d%% (%s/%s)\n", pct, p[1], p[2]; fflush(); last = pct }
  }'
status=${PIPESTATUS[0]}
if [ "$status" -ne 0 ]; then
  echo "llama-cpp-python build failed; see $log" >&2
  exit "$status"
fi
echo "llama-cpp-python $version: built in $(( $(date +%s) - start )) s"
