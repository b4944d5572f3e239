#!/usr/bin/env bash
# Command 2: every test, stopping at the first failure.
#   unit      cargo test -p app --features ssr --lib
#   sqlite    cargo test -p server            (APP_TEST_BACKEND=sqlite)
#   postgres  cargo test -p server            (APP_TEST_BACKEND=postgres, APP_TEST_PG_URL; starts the
#                                             local PostgreSQL cluster when it does not answer; the
#                                             failover scenario starts and removes its own
#                                             pg_auto_failover cluster, scripts/ha-postgres.sh)
#   e2e       cargo leptos end-to-end         (debug build; Playwright in Debian's Chromium against a
#                                             development server on a fresh temporary SQLite database)
#   soak      scripts/soak.sh, shortened (SOAK_SHORT=1: debug build, 2 min 20 s per backend,
#                                             lifetimes shortened): mixed traffic at a fixed rate on
#                                             SQLite and PostgreSQL; RSS, connections, outbox, p99 and
#                                             table sizes must stay flat; CSV and PNG chart kept
#   embed     the one-binary server           (the site e2e built, compiled into a debug server with
#                                             --features embed-site, run from an empty folder with no
#                                             site root: its WASM, JS and CSS must come from memory)
# Installs what is missing first (scripts/install.sh).
#   scripts/test.sh                 all six, in this order
#   scripts/test.sh sqlite e2e      only the named steps
#   CARGO_TARGET_DIR=...            build cache (default ~/.cache/phone-console/target)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
START=$SECONDS

ALL_STEPS=(unit sqlite postgres e2e soak embed)
if [ "$#" -gt 0 ]; then
  STEPS=("$@")
  for s in "${STEPS[@]}"; do
    case " ${ALL_STEPS[*]} " in *" $s "*) ;; *) echo "test: unknown step '$s' (steps: ${ALL_STEPS[*]})" >&2; exit 2 ;; esac
  done
else
  STEPS=("${ALL_STEPS[@]}")
fi

"$ROOT/scripts/install.sh"

export PATH="$ROOT/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/phone-console/target}"
export LEPTOS_SITE_ROOT="${LEPTOS_SITE_ROOT:-$CARGO_TARGET_DIR/site}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export CI="${CI:-true}"
# Incremental data is kept per checkout path and crate: a CI clone in a new folder never reuses it,
# and it was a third of the debug cache (1.6 GB of 5.2 GB). Interactive runs keep it.
if [ "$CI" = "true" ]; then export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"; fi
mkdir -p "$CARGO_TARGET_DIR"
echo "test: build cache $CARGO_TARGET_DIR; free space there: $(df -h --output=avail "$CARGO_TARGET_DIR" | tail -1 | tr -d ' ')"

PASSED=()
CURRENT=""
TMP_DIRS=()

cleanup() {
  local d
  for d in "${TMP_DIRS[@]}"; do rm -rf "$d"; done
}
on_exit() {
  local rc=$?
  cleanup
  if [ "$rc" -ne 0 ] && [ -n "$CURRENT" ]; then
    echo
    echo "test: FAILED at step '${CURRENT}' (exit ${rc}) after $((SECONDS - START)) s; passed before it: ${PASSED[*]:-none}"
    echo "test: free space in the build cache: $(df -h --output=avail "$CARGO_TARGET_DIR" 2>/dev/null | tail -1 | tr -d ' ')"
  fi
}
trap on_exit EXIT

banner() { printf '\n==== test: %s ====\n' "$*"; }

pg_answers() {
  local url="${APP_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
  if command -v pg_isready >/dev/null; then
    pg_isready -q -d "$url" -t 3
  else
    (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null
  fi
}

ensure_postgres() {
  if pg_answers; then return 0; fi
  echo "test: PostgreSQL does not answer at 127.0.0.1:5432; starting the local cluster"
  local ver
  ver="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)"
  [ -n "$ver" ] || { echo "test: no cluster under /etc/postgresql" >&2; return 1; }
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
  local _
  for _ in $(seq 1 30); do
    if pg_answers; then return 0; fi
    sleep 1
  done
  echo "test: PostgreSQL still does not answer at 127.0.0.1:5432" >&2
  return 1
}

free_port() { # a free loopback port (not 3000/3001, which scripts/run.sh uses)
  python3 - <<'EOF'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
EOF
}

step_unit() {
  cargo test -p app --features ssr --lib
}

step_sqlite() {
  APP_TEST_BACKEND=sqlite cargo test -p server
}

step_postgres() {
  ensure_postgres
  APP_TEST_BACKEND=postgres \
    APP_TEST_PG_URL="${APP_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}" \
    cargo test -p server
}

step_e2e() {
  local tmp port reload
  tmp="$(mktemp -d "${TMPDIR:-/tmp}/phone-console-e2e.XXXXXX")"
  TMP_DIRS+=("$tmp")
  port="$(free_port)"
  reload="$(free_port)"
  while [ "$reload" = "$port" ]; do reload="$(free_port)"; done
  echo "test: end-to-end server at http://127.0.0.1:${port}, database ${tmp}/e2e.sqlite"
  (
    unset DATABASE_URL
    export APP_MODE=development APP_DEMO_DATA=true APP_DEV_OUTBOX=true
    export APP_DATABASE_URL="sqlite://${tmp}/e2e.sqlite"
    export PORT="$port" LEPTOS_SITE_ADDR="127.0.0.1:${port}" LEPTOS_RELOAD_PORT="$reload"
    # cargo-leptos can exit 0 when the server build fails, before Playwright ever ran: the step
    # passes only on Playwright's own summary with tests passed and none failed.
    cargo leptos end-to-end --split 2>&1 | tee "$tmp/e2e.log"
    [ "${PIPESTATUS[0]}" -eq 0 ] || exit 1
    if ! grep -Eq '^ +[0-9]+ passed' "$tmp/e2e.log" || grep -Eq '^ +[0-9]+ (failed|flaky)' "$tmp/e2e.log"; then
      echo "test: no clean Playwright summary in the end-to-end run (see above)" >&2
      exit 1
    fi
  )
  rm -rf "$tmp"
}

# After e2e, whose debug server build it reuses (the embed step then rebuilds the server with the
# site inside). The charts and CSVs stay in the build cache, under soak/.
step_soak() {
  ensure_postgres
  SOAK_SHORT=1 "$ROOT/scripts/soak.sh" sqlite postgres
}

# The site that `cargo leptos` built, compiled into a server (`--features embed-site`): run from
# an empty folder whose LEPTOS_SITE_ROOT does not exist, it must answer the main WASM module, its
# JS and the CSS byte for byte, with their types and an ETag that a revalidation turns into 304.
# Cheaper than a release build (which would rebuild every dependency; the release binary embeds
# the same way): the site is there after e2e. Only the server crate is rebuilt: rust-embed is an
# unconditional dependency so that the feature does not change any dependency's features.
step_embed() {
  local tmp port pid
  if [ ! -f "$LEPTOS_SITE_ROOT/pkg/console.wasm" ]; then
    echo "test: no site at $LEPTOS_SITE_ROOT yet; building it (cargo leptos build --split --frontend-only)"
    cargo leptos build --split --frontend-only
  fi
  cargo build -p server --bin server --features embed-site
  tmp="$(mktemp -d "${TMPDIR:-/tmp}/phone-console-embed.XXXXXX")"
  TMP_DIRS+=("$tmp")
  cp "$CARGO_TARGET_DIR/debug/server" "$tmp/console"
  port="$(free_port)"
  (
    cd "$tmp"
    exec env -i PATH=/usr/bin:/bin HOME="$tmp" APP_MODE=development \
      APP_DATABASE_URL="sqlite://$tmp/console.sqlite" PORT="$port" LEPTOS_SITE_ADDR="127.0.0.1:$port" \
      LEPTOS_SITE_ROOT="$tmp/no-site-here" LEPTOS_OUTPUT_NAME=console ./console
  ) >"$tmp/server.log" 2>&1 &
  pid=$!
  if ! python3 "$ROOT/scripts/check-embedded-site.py" "http://127.0.0.1:$port" "$LEPTOS_SITE_ROOT"; then
    kill "$pid" 2>/dev/null || true
    echo "test: the embedded server's log:" >&2
    tail -n 40 "$tmp/server.log" >&2
    return 1
  fi
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

for step in "${STEPS[@]}"; do
  CURRENT="$step"
  case "$step" in
    unit) banner "unit: cargo test -p app --features ssr --lib" ;;
    sqlite) banner "sqlite: cargo test -p server (APP_TEST_BACKEND=sqlite)" ;;
    postgres) banner "postgres: cargo test -p server (APP_TEST_BACKEND=postgres)" ;;
    e2e) banner "e2e: cargo leptos end-to-end (Playwright, fresh SQLite database)" ;;
    soak) banner "soak: scripts/soak.sh, shortened (SQLite and PostgreSQL, flat or failing)" ;;
    embed) banner "embed: the site compiled into the server (--features embed-site), served from memory" ;;
  esac
  "step_${step}"
  PASSED+=("$step")
done
CURRENT=""

echo
echo "test: all ${#PASSED[@]} steps passed (${PASSED[*]}) in $((SECONDS - START)) s"
