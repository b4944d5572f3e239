#!/usr/bin/env bash
# bench/bench.sh: size and speed figures for the release build (figures only, no pass/fail).
#
# 1. Builds the release site with `cargo leptos build --release` (wasm-opt 132 from
#    end2end/node_modules/.bin first on PATH; Debian's binaryen breaks hydration).
# 2. Prints the release WASM size (raw and gzip -9) and the JS glue size from the site's pkg dir.
# 3. Starts the release server on a free loopback port, development mode, fresh SQLite database
#    with the demo data; signs in as alice@example.com through POST /api/sign_in and keeps the
#    __Host-session cookie.
# 4. Load-tests `GET /overview` with that cookie using wrk (after a short warm-up), and prints
#    requests/s and latency p50/p90/p99.
# 5. Does the same against a bare axum "hello" handler (bench/baseline, its own Cargo project)
#    and prints the ratios overview/bare for throughput and p50 latency.
# The servers are stopped on exit. wrk shares the machine's cores with the server under test.
#
# Settings (environment):
#   BENCH_DURATION=10s  BENCH_THREADS=2  BENCH_CONNECTIONS=32  BENCH_WARMUP=2s
#   BENCH_SKIP_BUILD=1      reuse the last release build instead of building
#   BENCH_BASELINE_ONLY=1   only the bare axum baseline (checks wrk and this script)
#   CARGO_TARGET_DIR        build cache (default ~/.cache/phone-console/target); the release site
#                           goes to $CARGO_TARGET_DIR/site-release
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

DURATION="${BENCH_DURATION:-10s}"
THREADS="${BENCH_THREADS:-2}"
CONNECTIONS="${BENCH_CONNECTIONS:-32}"
WARMUP="${BENCH_WARMUP:-2s}"
ACCOUNT="alice@example.com"
PASSWORD="Demo-pass-123"

say() { printf 'bench: %s\n' "$*"; }
die() { printf 'bench: ERROR: %s\n' "$*" >&2; exit 1; }

# --release-tools: the release build minifies the JS glue, which the default tool build leaves out.
if [ "${BENCH_BASELINE_ONLY:-0}" != 1 ]; then "$ROOT/scripts/install.sh" --release-tools; fi
if ! command -v wrk >/dev/null; then
  say "wrk: installing from Debian"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq wrk >/dev/null 2>&1; then
    apt-get update -qq
    apt-get install -y -qq wrk >/dev/null
  fi
fi

export PATH="$ROOT/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/phone-console/target}"
# A site root of its own, so that a development server (scripts/run.sh) keeps its debug files.
export LEPTOS_SITE_ROOT="$CARGO_TARGET_DIR/site-release"
BASELINE_TARGET="$HOME/.cache/phone-console/bench-baseline-target"
mkdir -p "$CARGO_TARGET_DIR"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/phone-console-bench.XXXXXX")"
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_http() { # wait_http URL SECONDS PID
  local url="$1" secs="$2" pid="$3" i
  for ((i = 0; i < secs * 5; i++)); do
    if curl -s -o /dev/null --max-time 2 "$url"; then return 0; fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.2
  done
  return 1
}

human() { # bytes -> "123.4 KB"
  awk -v b="$1" 'BEGIN { if (b >= 1048576) printf "%.2f MB", b / 1048576; else if (b >= 1024) printf "%.1f KB", b / 1024; else printf "%d B", b }'
}
gz_size() { gzip -9 -c "$1" | wc -c; }

# wrk with a Lua summary in microseconds (wrk's own --latency output mixes units).
cat >"$WORK/report.lua" <<'EOF'
done = function(summary, latency, requests)
  local secs = summary.duration / 1e6
  local sockerr = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format(
    "WRK requests=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d non2xx3xx=%d sockerr=%d\n",
    summary.requests, summary.requests / secs,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    summary.errors.status, sockerr))
end
EOF

run_wrk() { # run_wrk LABEL URL [wrk args...] ; prints a figure line, sets WRK_RPS and WRK_P50
  local label="$1" url="$2"
  shift 2
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" "$@" "$url" >/dev/null 2>&1 || true
  local out line
  out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -s "$WORK/report.lua" "$@" "$url")"
  line="$(grep '^WRK ' <<<"$out")" || die "wrk printed no summary for $label:"$'\n'"$out"
  local kv
  declare -A f=()
  for kv in ${line#WRK }; do f["${kv%%=*}"]="${kv#*=}"; done
  WRK_RPS="${f[rps]}"
  WRK_P50="${f[p50_us]}"
  printf '  %-28s %10s req/s   p50 %8.3f ms   p90 %8.3f ms   p99 %8.3f ms   max %8.3f ms   (%s requests' \
    "$label" "${f[rps]}" "$(awk -v u="${f[p50_us]}" 'BEGIN{print u/1000}')" \
    "$(awk -v u="${f[p90_us]}" 'BEGIN{print u/1000}')" "$(awk -v u="${f[p99_us]}" 'BEGIN{print u/1000}')" \
    "$(awk -v u="${f[max_us]}" 'BEGIN{print u/1000}')" "${f[requests]}"
  if [ "${f[non2xx3xx]}" != 0 ] || [ "${f[sockerr]}" != 0 ]; then
    printf ', %s non-2xx/3xx, %s socket errors' "${f[non2xx3xx]}" "${f[sockerr]}"
  fi
  printf ')\n'
}

if [ "${BENCH_BASELINE_ONLY:-0}" != 1 ]; then
# --- 1. release build ----------------------------------------------------------------------------
if [ "${BENCH_SKIP_BUILD:-0}" = 1 ]; then
  say "skipping the build (BENCH_SKIP_BUILD=1)"
else
  say "cargo leptos build --release --split (wasm-opt: $(command -v wasm-opt))"
  build_start=$SECONDS
  cargo leptos build --release --split
  say "release build took $((SECONDS - build_start)) s"
fi
SERVER_BIN="$CARGO_TARGET_DIR/release/server"
PKG="$LEPTOS_SITE_ROOT/pkg"
[ -x "$SERVER_BIN" ] || die "no release server binary at $SERVER_BIN"
[ -d "$PKG" ] || die "no site pkg dir at $PKG"

# --- 2. sizes ------------------------------------------------------------------------------------
echo
echo "== Bundle (release, $PKG) =="
shopt -s nullglob
for f in "$PKG"/*.wasm; do
  raw=$(wc -c <"$f"); gz=$(gz_size "$f")
  printf '  WASM    %-28s raw %10s   gzip %10s\n' "$(basename "$f")" "$(human "$raw")" "$(human "$gz")"
done
for f in "$PKG"/*.js; do
  raw=$(wc -c <"$f"); gz=$(gz_size "$f")
  printf '  JS glue %-28s raw %10s   gzip %10s\n' "$(basename "$f")" "$(human "$raw")" "$(human "$gz")"
done
if [ -d "$PKG/snippets" ]; then
  raw=$(find "$PKG/snippets" -type f -name '*.js' -exec cat {} + | wc -c)
  gz=$(find "$PKG/snippets" -type f -name '*.js' -exec cat {} + | gzip -9 -c | wc -c)
  printf '  JS      %-28s raw %10s   gzip %10s\n' "snippets/ (all)" "$(human "$raw")" "$(human "$gz")"
fi
# What a visitor downloads: the main module on every page that has an island, plus the chunks of
# a page's lazy island on its first visit (from the split manifest that `--split` writes).
if [ -f "$PKG/__wasm_split_manifest.json" ]; then
  python3 - "$PKG" <<'PY'
import gzip, json, os, sys
pkg = sys.argv[1]
def gz(name):
    with open(os.path.join(pkg, name + ".wasm"), "rb") as f:
        return len(gzip.compress(f.read(), 9))
main = gz("console")
# Lazy island -> the page that shows it.
PAGES = {
    "security_settings": "Security Settings",
    "directory_console": "Resource Directory > Management",
    "member_console": "a member's details",
    "reset_flow": "password recovery",
}
manifest = json.load(open(os.path.join(pkg, "__wasm_split_manifest.json")))
print(f"  WASM    main module (sign-in, header)     gzip {main / 1024:8.1f} KB")
for route, chunks in sorted(manifest.items()):
    island = route.strip("_").rsplit("_", 1)[0].removesuffix("_loader")
    page = PAGES.get(island, island)
    extra = sum(gz(c) for c in chunks)
    print(f"  WASM    + {page:<32} gzip {extra / 1024:8.1f} KB   (page total {(main + extra) / 1024:.1f} KB)")
every = main + sum(gz(c) for c in set().union(*manifest.values()))
print(f"  WASM    main module and every chunk       gzip {every / 1024:8.1f} KB")
PY
fi
for f in "$PKG"/*.css; do
  raw=$(wc -c <"$f"); gz=$(gz_size "$f")
  printf '  CSS     %-28s raw %10s   gzip %10s\n' "$(basename "$f")" "$(human "$raw")" "$(human "$gz")"
done
shopt -u nullglob

# --- 3. release server, sign-in --------------------------------------------------------------------
PORT_APP="$(free_port)"
RELOAD_PORT="$(free_port)"
BASE="http://127.0.0.1:${PORT_APP}"
say "starting the release server at $BASE (development mode, fresh SQLite in $WORK)"
(
  unset DATABASE_URL
  export APP_MODE=development APP_DEMO_DATA=true APP_DEV_OUTBOX=true
  export APP_DATABASE_URL="sqlite://${WORK}/bench.sqlite"
  export PORT="$PORT_APP" LEPTOS_SITE_ADDR="127.0.0.1:${PORT_APP}" LEPTOS_RELOAD_PORT="$RELOAD_PORT"
  export LEPTOS_OUTPUT_NAME=console LEPTOS_SITE_PKG_DIR=pkg LEPTOS_ENV=PROD
  export RUST_LOG="${RUST_LOG:-warn}"
  exec "$SERVER_BIN"
) >"$WORK/server.log" 2>&1 &
PIDS+=($!)
SERVER_PID=$!
if ! wait_http "$BASE/login" 120 "$SERVER_PID"; then
  tail -n 40 "$WORK/server.log" >&2 || true
  die "the release server did not answer at $BASE/login"
fi

curl -s -o "$WORK/sign_in.body" -D "$WORK/sign_in.headers" --max-time 20 \
  -X POST "$BASE/api/sign_in" \
  -H "Origin: $BASE" -H "Sec-Fetch-Site: same-origin" \
  -H "Content-Type: application/x-www-form-urlencoded" \
  --data-urlencode "account=$ACCOUNT" --data-urlencode "password=$PASSWORD" || true
COOKIE="$(tr -d '\r' <"$WORK/sign_in.headers" | awk 'tolower($1) == "set-cookie:" && $2 ~ /^__Host-session=/ { sub(/;.*/, "", $2); c = $2 } END { print c }')"
if [ -z "$COOKIE" ]; then
  echo "--- POST /api/sign_in answered:" >&2
  cat "$WORK/sign_in.headers" >&2
  head -c 600 "$WORK/sign_in.body" >&2 || true
  echo >&2
  die "no __Host-session cookie from POST /api/sign_in"
fi
status="$(curl -s -o "$WORK/overview.html" -w '%{http_code}' -H "Cookie: $COOKIE" "$BASE/overview")"
[ "$status" = 200 ] || die "GET /overview with the session cookie answered $status (expected 200)"
say "signed in as $ACCOUNT; GET /overview answers 200 ($(wc -c <"$WORK/overview.html") bytes of HTML)"

# --- 4. load: /overview ------------------------------------------------------------------------------
echo
echo "== Load (wrk -t$THREADS -c$CONNECTIONS -d$DURATION, after a $WARMUP warm-up; $(nproc) cores shared with wrk) =="
run_wrk "GET /overview (signed in)" "$BASE/overview" -H "Cookie: $COOKIE"
APP_RPS="$WRK_RPS"
APP_P50="$WRK_P50"
kill "$SERVER_PID" 2>/dev/null || true
wait "$SERVER_PID" 2>/dev/null || true

fi # BENCH_BASELINE_ONLY

# --- 5. baseline ----------------------------------------------------------------------------------
CARGO_TARGET_DIR="$BASELINE_TARGET" cargo build --release --quiet --manifest-path "$ROOT/bench/baseline/Cargo.toml"
PORT_BARE="$(free_port)"
PORT="$PORT_BARE" "$BASELINE_TARGET/release/bench-baseline" >"$WORK/baseline.log" 2>&1 &
PIDS+=($!)
BARE_PID=$!
wait_http "http://127.0.0.1:${PORT_BARE}/" 30 "$BARE_PID" || die "the baseline server did not start"
run_wrk "GET / (bare axum hello)" "http://127.0.0.1:${PORT_BARE}/"
BARE_RPS="$WRK_RPS"
BARE_P50="$WRK_P50"

if [ "${BENCH_BASELINE_ONLY:-0}" = 1 ]; then exit 0; fi
echo
echo "== Ratios overview / bare =="
awk -v a="$APP_RPS" -v b="$BARE_RPS" 'BEGIN { printf "  throughput  %.3f  (%.1f vs %.1f req/s)\n", a / b, a, b }'
awk -v a="$APP_P50" -v b="$BARE_P50" 'BEGIN { printf "  p50 latency %.2fx (%.3f ms vs %.3f ms)\n", (b > 0 ? a / b : 0), a / 1000, b / 1000 }'
