#!/usr/bin/env bash
# Local model speed against llama.cpp, measured back to back (the machine's speed drifts, so
# each round measures the reference right before supportd) on the same GGUF and threads.
#
#   benches/llm.sh MODEL.gguf [THREADS] [ROUNDS]
#
# Prints one `supportd bench llm --json` line per round (with the reference figures and the
# ratios of that round). SUPPORTD_BIN selects the binary (default: target/release/supportd).
set -euo pipefail
model=${1:?usage: llm.sh MODEL.gguf [THREADS] [ROUNDS]}
threads=${2:-$(nproc)}
rounds=${3:-3}
here=$(cd "$(dirname "$0")" && pwd)
bin=${SUPPORTD_BIN:-$here/../target/release/supportd}
for _ in $(seq "$rounds"); do
  "$here/llm_reference.sh" "$model" "$threads" >/dev/null
  RAYON_NUM_THREADS=$threads "$bin" bench llm --model "$model" --json 2>/dev/null | tail -n 1
done
