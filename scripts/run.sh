#!/usr/bin/env bash
# Command 1: serve the console in development mode at http://127.0.0.1:${PORT:-3000}, on SQLite,
# with the demo data (SPEC section 8) seeded into a fresh database, the development outbox at
# /dev/outbox and /dev/outbox.json, and the SSO entry at /dev/sso.
#
# Installs what is missing first (scripts/install.sh), then runs `cargo leptos serve` (debug build).
#   PORT=3100 scripts/run.sh            another port (the live-reload port becomes PORT+1)
#   KEEP_DATA=1 scripts/run.sh          keep data/console.sqlite from the last run instead of a fresh one
#   APP_DATABASE_URL=... scripts/run.sh another database (kept as it is); DATABASE_URL=postgres://... too
#   CARGO_TARGET_DIR=...                build cache (default ~/.cache/phone-console/target, outside the clone)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

"$ROOT/scripts/install.sh"

export PATH="$ROOT/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/phone-console/target}"
# cargo-leptos takes the site root literally from Cargo.toml ("target/site", relative to the
# workspace root), not from CARGO_TARGET_DIR; this env var overrides it for cargo-leptos, and
# cargo-leptos passes the same value on to the server it starts.
export LEPTOS_SITE_ROOT="${LEPTOS_SITE_ROOT:-$CARGO_TARGET_DIR/site}"
mkdir -p "$CARGO_TARGET_DIR"

PORT="${PORT:-3000}"
export PORT
export LEPTOS_SITE_ADDR="127.0.0.1:${PORT}"
export LEPTOS_RELOAD_PORT="${LEPTOS_RELOAD_PORT:-$((PORT + 1))}"

export APP_MODE="${APP_MODE:-development}"
export APP_DEMO_DATA="${APP_DEMO_DATA:-true}"
export APP_DEV_OUTBOX="${APP_DEV_OUTBOX:-true}"
if [ -z "${APP_DATABASE_URL:-}" ] && [ -z "${DATABASE_URL:-}" ]; then
  mkdir -p "$ROOT/data"
  export APP_DATABASE_URL="sqlite://data/console.sqlite"
  if [ "${KEEP_DATA:-0}" != 1 ]; then
    rm -f "$ROOT"/data/console.sqlite "$ROOT"/data/console.sqlite-wal "$ROOT"/data/console.sqlite-shm
    echo "run: fresh database data/console.sqlite (KEEP_DATA=1 keeps the previous one)"
  fi
fi

echo "run: ${APP_MODE} mode at http://${LEPTOS_SITE_ADDR} (build cache ${CARGO_TARGET_DIR})"
exec cargo leptos serve --split
