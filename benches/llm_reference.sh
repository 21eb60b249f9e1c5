#!/usr/bin/env bash
# Measures the llama.cpp reference for `supportd bench llm` on the same GGUF and thread count.
# llama-cpp-python is built from source (PyPI sdist) in a throwaway virtualenv outside the
# source tree, so nothing of it lands in the repo or the product.
#
#   benches/llm_reference.sh MODEL.gguf [THREADS] > reference.json
#   supportd bench llm --model MODEL.gguf --reference reference.json --json
#
# The build is for the instruction sets the kernel really enables (the flags of
# /proc/cpuinfo), not GGML_NATIVE: some VMs' CPUs advertise AMX that the kernel does not
# enable, and a native build then dies with "Illegal instruction" at the first decode. So:
# GGML_NATIVE=OFF, AVX2/FMA/F16C, AVX-512 (+VBMI, VNNI, BF16) and AVX-VNNI where present,
# AMX off. The build is smoke-tested (a few decoded tokens in a child process) before any
# figure is taken, and the JSON names it ("build").
#
# The figures are also kept in ~/.cache/supportd/llm-reference/ under the model file's name,
# size and thread count, where `supportd bench llm` and `supportd bench answers` find them.
set -euo pipefail
model=${1:?usage: llm_reference.sh MODEL.gguf [THREADS]}
threads=${2:-2}
here=$(cd "$(dirname "$0")" && pwd)

flags=$(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2)
has() { [[ " $flags " == *" $1 "* ]]; }
on() { has "$1" && echo ON || echo OFF; }
args="-DGGML_NATIVE=OFF -DGGML_AVX=$(on avx) -DGGML_AVX2=$(on avx2) -DGGML_FMA=$(on fma) -DGGML_F16C=$(on f16c)"
args+=" -DGGML_AVX512=$(on avx512f) -DGGML_AVX512_VBMI=$(on avx512vbmi) -DGGML_AVX512_VNNI=$(on avx512_vnni)"
args+=" -DGGML_AVX512_BF16=$(on avx512_bf16) -DGGML_AVX_VNNI=$(on avx_vnni)"
args+=" -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
args+=" -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF"
build="llama-cpp-python 0.3.36, GGML_NATIVE=OFF:"
for f in avx2 fma f16c avx512f avx512vbmi avx512_vnni avx512_bf16 avx_vnni; do has "$f" && build+=" $f"; done
build+=", AMX off"
# One virtualenv per build (the flags are part of its name).
key=$(echo "$args" | sha256sum | cut -c1-12)
venv=${SUPPORTD_REF_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/supportd/llama-ref-venv-$key}

if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import llama_cpp' 2>/dev/null; then
  echo "building llama-cpp-python in $venv ($build; several minutes on 2 cores)..." >&2
  python3 -m venv "$venv"
  CMAKE_ARGS="$args" CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) \
    "$venv/bin/pip" install --quiet --no-cache-dir 'llama-cpp-python==0.3.36' >&2
fi
# Does it run here? A few tokens in a child process; an illegal instruction ends it with 132.
if ! "$venv/bin/python" "$here/llm_reference.py" --model "$model" --threads "$threads" --smoke >/dev/null 2>&1; then
  echo "the llama.cpp build in $venv does not run on this machine ($build); no reference taken" >&2
  exit 1
fi
store=${XDG_CACHE_HOME:-$HOME/.cache}/supportd/llm-reference
mkdir -p "$store"
key="$(basename "$model")-$(stat -L -c %s "$model")-t$threads.json"
"$venv/bin/python" "$here/llm_reference.py" --model "$model" --threads "$threads" --build "$build" | tail -n 1 | tee "$store/$key"
