#!/usr/bin/env bash
# Makes sure a built llama-cpp-python wheel is in the wheel cache, compiling it once if needed.
# The build compiles llama.cpp from source (about 3-5 minutes on 2 cores); later runs reuse it.
#
# The build is PORTABLE, never "-march=native": the cached wheel lives in the user's home and
# travels between machines whose CPUs differ (a VM may advertise AVX-512/AMX it cannot execute).
# x86-64 gets a fixed x86-64-v3 baseline (AVX2, FMA, F16C, BMI2); arm64 gets armv8.2-a. The cache
# directory is keyed by a hash of these flags, so a wheel built with other flags is never reused.
set -euo pipefail
python="$1"                                  # the venv's python
version="$2"                                 # e.g. 0.3.36
flags=$(scripts/llama-flags.sh)
cache=$(scripts/llama-flags.sh --cache-dir "$version")
mkdir -p "$cache"
printf '%s\n' "$flags" >"$cache/CMAKE_ARGS"
if ls "$cache"/llama_cpp_python-"$version"-*.whl >/dev/null 2>&1; then
  echo "llama-cpp-python $version: using the cached portable wheel in $cache"
  echo "  CMAKE_ARGS=$flags"
  exit 0
fi
echo "llama-cpp-python $version: compiling llama.cpp, portable build (once; cached in $cache)..."
echo "  CMAKE_ARGS=$flags"
log="$cache/llama-cpp-python-$version.build.log"
start=$(date +%s)
# pip -v shows ninja's "[n/total]" lines; print one progress line per 5% so CI logs stay short.
# --no-cache-dir: pip's own cache would otherwise hand back a wheel built with other flags.
{ echo "CMAKE_ARGS=$flags"; CMAKE_ARGS="$flags" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
    "$python" -m pip wheel --no-deps --no-cache-dir -v "llama-cpp-python==$version" -w "$cache" 2>&1; } \
  | tee "$log" | awk '
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
