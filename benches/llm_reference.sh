#!/usr/bin/env bash
# Measures the llama.cpp reference for `supportd bench llm` on the same GGUF and thread count.
# llama-cpp-python is built from source (PyPI sdist) in a throwaway virtualenv outside the
# source tree, so nothing of it lands in the repo or the product.
#
#   benches/llm_reference.sh MODEL.gguf [THREADS] > reference.json
#   supportd bench llm --model MODEL.gguf --reference reference.json --json
#
# The figures are also kept in ~/.cache/supportd/llm-reference/ under the model file's name,
# size and thread count, where `supportd bench llm` finds them without --reference.
set -euo pipefail
model=${1:?usage: llm_reference.sh MODEL.gguf [THREADS]}
threads=${2:-2}
venv=${SUPPORTD_REF_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/supportd/llama-ref-venv}
here=$(cd "$(dirname "$0")" && pwd)

if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import llama_cpp' 2>/dev/null; then
  echo "building llama-cpp-python in $venv (several minutes on 2 cores)..." >&2
  python3 -m venv "$venv"
  # GGML_NATIVE: the reference gets every instruction set this CPU has.
  CMAKE_ARGS="-DGGML_NATIVE=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF" \
    CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) \
    "$venv/bin/pip" install --quiet --no-cache-dir 'llama-cpp-python==0.3.36' >&2
fi
store=${XDG_CACHE_HOME:-$HOME/.cache}/supportd/llm-reference
mkdir -p "$store"
key="$(basename "$model")-$(stat -c %s "$model")-t$threads.json"
"$venv/bin/python" "$here/llm_reference.py" --model "$model" --threads "$threads" | tail -n 1 | tee "$store/$key"
