#!/usr/bin/env bash
# The soak run (issue 15, item 4): a fixed rate of mixed traffic (whole phone changes, sign-ins,
# page views) against one server for a bounded time, on each backend named, sampled every
# SOAK_SAMPLE_SECS: server RSS, database connections, outbox depth, p50/p99 latency and the rows
# of every table that grows with traffic. Writes soak-<backend>.csv and .png (plotters) and a log
# per backend, prints the first and last sample of each series, and fails when a series that must
# stay flat grows or an answer was not the expected one.
#
#   scripts/soak.sh                     SQLite and PostgreSQL, 10 minutes each, release build
#   scripts/soak.sh sqlite              one backend
#   SOAK_SHORT=1 scripts/soak.sh        the shortened form the test command runs (debug build,
#                                       2 min 20 s each, lifetimes shortened to match)
#
# Settings (environment): SOAK_SECS (run, at most 600), SOAK_SAMPLE_SECS, SOAK_RATE (changes
# per second; half as many sign-ins and twice as many page views come with them), SOAK_ACCOUNTS,
# SOAK_PROFILE (release | debug), SOAK_OUT (default $CARGO_TARGET_DIR/soak/<UTC time>),
# APP_TEST_PG_URL (the PostgreSQL server a database of its own is made on, then dropped).
#
# What the server is told, so that each lifetime passes several times within the run: codes and
# change tickets live SOAK_LIFETIME_SECS, sessions idle out after SOAK_SESSION_IDLE_SECS (at least
# 90: a session's last use is written at most once a minute), finished rows are kept
# SOAK_KEEP_SECS and the clean-up runs every SOAK_MAINTENANCE_SECS. Every limit of SPEC 3 stays on,
# except the per-address code cap, which all load from one address would hit at once.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if [ "${SOAK_SHORT:-0}" = 1 ]; then
  : "${SOAK_SECS:=140}" "${SOAK_SAMPLE_SECS:=5}" "${SOAK_RATE:=3}" "${SOAK_ACCOUNTS:=400}"
  : "${SOAK_PROFILE:=debug}" "${SOAK_LIFETIME_SECS:=20}" "${SOAK_SESSION_IDLE_SECS:=90}"
  : "${SOAK_KEEP_SECS:=5}" "${SOAK_MAINTENANCE_SECS:=5}" "${SOAK_SETTLE_SECS:=100}"
fi
: "${SOAK_SECS:=600}" "${SOAK_SAMPLE_SECS:=10}" "${SOAK_RATE:=4}" "${SOAK_ACCOUNTS:=1200}"
: "${SOAK_PROFILE:=release}" "${SOAK_LIFETIME_SECS:=120}" "${SOAK_SESSION_IDLE_SECS:=120}"
: "${SOAK_KEEP_SECS:=30}" "${SOAK_MAINTENANCE_SECS:=15}" "${SOAK_SETTLE_SECS:=180}"
export SOAK_SECS SOAK_SAMPLE_SECS SOAK_RATE SOAK_ACCOUNTS SOAK_SETTLE_SECS

BACKENDS=("$@")
[ "${#BACKENDS[@]}" -gt 0 ] || BACKENDS=(sqlite postgres)
for b in "${BACKENDS[@]}"; do
  case "$b" in sqlite | postgres) ;; *) echo "soak: unknown backend '$b' (sqlite, postgres)" >&2; exit 2 ;; esac
done

say() { printf 'soak: %s\n' "$*"; }

# The chart's text font (Debian's DejaVu Sans).
if [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; then
  say "installing fonts-dejavu-core (the chart's font) from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq fonts-dejavu-core >/dev/null 2>&1 || {
    apt-get update -qq && apt-get install -y -qq fonts-dejavu-core >/dev/null
  }
fi

export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/phone-console/target}"
PROFILE_FLAG=()
[ "$SOAK_PROFILE" = release ] && PROFILE_FLAG=(--release)
say "building the server and the soak driver ($SOAK_PROFILE)"
# Two builds, so that the soak's own dependencies (plotters) never change the server's features.
cargo build -q "${PROFILE_FLAG[@]}" -p server --bin server
cargo build -q "${PROFILE_FLAG[@]}" -p soak
BIN="$CARGO_TARGET_DIR/$SOAK_PROFILE"

OUT="${SOAK_OUT:-$CARGO_TARGET_DIR/soak/$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$OUT"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/phone-console-soak.XXXXXX")"
SERVER_PID=""
PG_DB=""
PG_URL="${APP_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
PG_BASE="${PG_URL%/*}"

drop_pg() {
  if [ -n "$PG_DB" ]; then
    psql -q "$PG_URL" -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
    PG_DB=""
  fi
}
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}
cleanup() { stop_server; drop_pg; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

soak_one() {
  local backend="$1" url port
  case "$backend" in
    sqlite) url="sqlite://$WORK/soak.sqlite" ;;
    postgres)
      PG_DB="soak_$$"
      psql -q "$PG_URL" -c "CREATE DATABASE $PG_DB" >/dev/null
      url="$PG_BASE/$PG_DB"
      ;;
  esac
  port="$(free_port)"
  mkdir -p "$WORK/site"
  say "$backend: server on 127.0.0.1:$port"
  APP_MODE=development APP_DEMO_DATA=false APP_DEV_OUTBOX=true APP_DELIVER=false \
    APP_DATABASE_URL="$url" LEPTOS_SITE_ADDR="127.0.0.1:$port" LEPTOS_SITE_ROOT="$WORK/site" \
    LEPTOS_OUTPUT_NAME=console RUST_LOG=warn \
    APP_LIMITS_CODES_PER_IP_PER_HOUR=1000000000 \
    APP_LIMITS_CODE_LIFETIME_SECS="$SOAK_LIFETIME_SECS" \
    APP_LIMITS_CHANGE_TICKET_SECS="$SOAK_LIFETIME_SECS" \
    APP_LIMITS_SESSION_IDLE_SECS="$SOAK_SESSION_IDLE_SECS" \
    APP_HISTORY_KEEP_SECS="$SOAK_KEEP_SECS" APP_MAINTENANCE_SECS="$SOAK_MAINTENANCE_SECS" \
    "$BIN/server" >"$OUT/server-$backend.log" 2>&1 &
  SERVER_PID=$!
  local _
  for _ in $(seq 1 120); do
    curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$OUT/server-$backend.log"; say "$backend: the server exited"; return 1; }
    sleep 0.5
  done
  local rc=0
  SOAK_BASE="http://127.0.0.1:$port" SOAK_SERVER_PID="$SERVER_PID" SOAK_DATABASE_URL="$url" \
    SOAK_OUT="$OUT" SOAK_LABEL="$backend" "$BIN/soak" 2>&1 | tee "$OUT/soak-$backend.log" || rc=1
  stop_server
  drop_pg
  return "$rc"
}

FAILED=()
for backend in "${BACKENDS[@]}"; do
  soak_one "$backend" || FAILED+=("$backend")
done
say "results in $OUT"
if [ "${#FAILED[@]}" -gt 0 ]; then
  say "FAILED on: ${FAILED[*]}"
  exit 1
fi
say "passed on: ${BACKENDS[*]}"
