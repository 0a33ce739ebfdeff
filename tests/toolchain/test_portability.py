"""The installed llama.cpp build runs on every x86-64-v3 machine: its shared libraries contain no
AVX-512 or AMX instruction (what a `-march=native` build on a newer CPU brings in, and what killed
the local model with SIGILL on a VM that advertises AVX-512/AMX it cannot execute).

The libraries are disassembled with objdump, never loaded: this process must not run native
model code. PORTABILITY_LIB_DIR checks another build's `lib/` folder (e.g. an unpacked
wheel) instead of the installed one (not SPARKAI_*: every test starts without those).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Registers and encodings only AVX-512 has: zmm, the upper 16 xmm/ymm registers, opmask
# registers, embedded broadcast; and the AMX tile instructions.
AVX512 = re.compile(r"%zmm\d|%[xy]mm(1[6-9]|2\d|3[01])\b|%k[1-7]\b|\{1to\d+\}")
AMX = re.compile(
    r"\s(tileloadd\w*|tilestored|tdpb\w+|tdpfp16ps|tilezero|ldtilecfg|sttilecfg|tilerelease)\b"
)


def llama_lib_dir() -> Path:
    override = os.environ.get("PORTABILITY_LIB_DIR")
    if override:
        return Path(override)
    # Located through the distribution's metadata: importing (or even finding) the package is
    # refused in test processes (tests/support/no_native_model.py).
    try:
        distribution = importlib.metadata.distribution("llama-cpp-python")
    except importlib.metadata.PackageNotFoundError:
        pytest.fail("llama-cpp-python is not installed in this environment")
    return Path(str(distribution.locate_file("llama_cpp/lib")))


def foreign_instructions(library: Path, objdump: str) -> dict[str, list[str]]:
    """AVX-512 and AMX instructions in `library`, as objdump prints them (a few of each)."""
    listing = subprocess.run(
        [objdump, "-d", "--no-show-raw-insn", str(library)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found: dict[str, list[str]] = {"AVX-512": [], "AMX": []}
    for line in listing.splitlines():
        if AVX512.search(line):
            found["AVX-512"].append(line.strip())
        elif AMX.search(line):
            found["AMX"].append(line.strip())
    return found


def test_the_flags_never_ask_for_this_cpu() -> None:
    flags = subprocess.run(
        [str(ROOT / "scripts" / "llama-flags.sh")], capture_output=True, text=True, check=True
    ).stdout
    assert "-DGGML_NATIVE=OFF" in flags.split()
    if platform.machine() in {"x86_64", "AMD64"}:
        assert "-DGGML_AVX512=OFF" in flags.split()
        assert "-DGGML_AMX_TILE=OFF" in flags.split()


@pytest.mark.skipif(
    platform.machine() not in {"x86_64", "AMD64"}, reason="checks x86-64 instructions only"
)
def test_llama_cpp_libraries_have_no_avx512_or_amx_instruction() -> None:
    objdump = shutil.which("objdump")
    if objdump is None:
        pytest.skip(
            "objdump not found: install binutils (apt-get install binutils) to run this check"
        )
    libraries = sorted(llama_lib_dir().glob("lib*.so*"))
    assert any(lib.name.startswith("libggml-cpu") for lib in libraries), (
        f"no libggml-cpu in {llama_lib_dir()}: {[lib.name for lib in libraries]}"
    )

    # Wheels hold copies, not symlinks, of libfoo.so, libfoo.so.0, ...: disassemble each once.
    distinct = {hashlib.sha256(lib.read_bytes()).hexdigest(): lib for lib in reversed(libraries)}
    offending = {
        lib.name: found
        for lib in distinct.values()
        for found in [foreign_instructions(lib, objdump)]
        if any(found.values())
    }

    report = "\n".join(
        f"{name}: {kind} x{len(lines)}, e.g. {lines[0]}"
        for name, found in offending.items()
        for kind, lines in found.items()
        if lines
    )
    assert not offending, (
        "llama.cpp was built for a newer CPU than the x86-64-v3 baseline; it will die with SIGILL "
        f"where those instructions are refused. Rebuild with scripts/llama-flags.sh:\n{report}"
    )
