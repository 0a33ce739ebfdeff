#!/usr/bin/env bash
# Prints the CMake flags of the portable llama.cpp build for this machine's architecture.
# One place: the wheel build, its cache key and the portability test all read it.
set -euo pipefail
if [ "${1:-}" = "--cache-dir" ]; then
  # The wheel cache folder for llama-cpp-python $2 built with these flags.
  flags=$("$0")
  key=$(printf '%s %s' "$2" "$flags" | sha256sum | cut -c1-12)
  echo "${SPARKAI_WHEEL_CACHE:-$HOME/.cache/sparkai/wheels}/llama-$key"
  exit 0
fi
case "$(uname -m)" in
  x86_64|amd64)
    # x86-64-v3: every x86-64 server CPU of the last decade; no AVX-512, no AMX.
    echo "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF" ;;
  aarch64|arm64)
    echo "-DGGML_NATIVE=OFF -DGGML_CPU_ARM_ARCH=armv8.2-a" ;;
  *)
    echo "-DGGML_NATIVE=OFF" ;;
esac
