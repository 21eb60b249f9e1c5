#!/usr/bin/env bash
# The whole test suite: Rust unit and integration tests, then browser tests in headless
# Chromium. On a fresh Debian/Ubuntu machine it first installs what the tests need
# (Chromium, Node.js, the pinned npm packages). Run from anywhere: bash tests/run.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

missing=()
command -v cc >/dev/null || missing+=(gcc libc6-dev)
[ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || missing+=(chromium)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing test dependencies: ${missing[*]}"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

echo "==> cargo test"
cargo test --locked

echo "==> browser tests (headless Chromium)"
target_dir="${CARGO_TARGET_DIR:-target}"
(cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
SUPPORTD_BIN="$(cd "$target_dir" && pwd)/debug/supportd" node --test tests/e2e/
