#!/usr/bin/env bash
# Installs what building, serving and testing the console needs, skipping every step that is
# already done at the right version (a second run takes about a second and changes nothing):
#   1. Debian's chromium (for the Playwright tests; Playwright's own browser download fails here)
#   2. the Rust target wasm32-unknown-unknown
#   3. cargo-leptos 0.3.10 (newer ones need a newer rustc than this machine's 1.95), built
#      from its crates.io source without the `new` command and, unless --release-tools is given,
#      without the JavaScript minifier that only release builds use (see step 3)
#   4. wasm-bindgen-cli at exactly the wasm-bindgen version of Cargo.lock
#   (3 and 4 build at the same time, in a light release profile: see TOOL_PROFILE below)
#   5. end2end/node_modules (npm ci; @playwright/test and binaryen's wasm-opt 132)
#   6. server/tests/oidc/node_modules (npm ci; oidc-provider, the SSO tests' identity provider)
#   7. pg_auto_failover for PostgreSQL 15 (the failover test's HA cluster, scripts/ha-postgres.sh);
#      optional: where it cannot be installed the failover test says "skipped" and why
# Works as root without a terminal (CI=true). Set INSTALL_SKIP_CHROMIUM=1 to skip step 1.
#   scripts/install.sh                  what serving (debug) and the test command need
#   scripts/install.sh --release-tools  also what `cargo leptos build --release` needs (bench/bench.sh)
set -euo pipefail

RELEASE_TOOLS=0
for arg in "$@"; do
  case "$arg" in
    --release-tools) RELEASE_TOOLS=1 ;;
    *) printf 'install: unknown argument %s (known: --release-tools)\n' "$arg" >&2; exit 2 ;;
  esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

CARGO_LEPTOS_VERSION="0.3.10"
WASM_BINDGEN_FALLBACK="0.2.130"
export PATH="$HOME/.cargo/bin:$PATH"
export DEBIAN_FRONTEND=noninteractive

say() { printf 'install: %s\n' "$*"; }
die() { printf 'install: ERROR: %s\n' "$*" >&2; exit 1; }

# One install at a time (run.sh and test.sh both call this script).
LOCK="${TMPDIR:-/tmp}/phone-console-install.lock"
exec 9>"$LOCK"
if ! flock -n 9; then
  say "another install.sh is running; waiting for it"
  flock 9
fi

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else
    die "need root for: $*"
  fi
}

# If someone already runs `cargo install <crate>` (e.g. by hand), wait instead of starting a
# second copy that would compete for the same cores and the same ~/.cargo/bin.
wait_for_other_cargo_install() {
  local crate="$1" waited=0
  while pgrep -f "cargo install ${crate}( |$)" >/dev/null 2>&1; do
    if [ "$waited" -eq 0 ]; then say "waiting for a running 'cargo install ${crate}' to finish"; fi
    waited=1
    sleep 10
  done
}

apt_has_candidate() {
  local cand
  cand="$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2 }')"
  [ -n "$cand" ] && [ "$cand" != "(none)" ]
}

apt_install() { # apt_install pkg... ; runs apt-get update only when the lists lack the package
  local need_update=0 p
  for p in "$@"; do apt_has_candidate "$p" || need_update=1; done
  if [ "$need_update" -eq 1 ]; then
    say "apt-get update"
    as_root apt-get update -qq
  fi
  if ! as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null; then
    # Lists can be stale (404 on a superseded .deb): refresh once and retry.
    say "apt-get install failed; apt-get update and retry"
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  fi
}

# --- 1. chromium ---------------------------------------------------------------------------
if [ "${INSTALL_SKIP_CHROMIUM:-0}" = 1 ]; then
  say "chromium: skipped (INSTALL_SKIP_CHROMIUM=1)"
elif [ -x /usr/bin/chromium ] && dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q 'install ok installed'; then
  say "chromium: present ($(dpkg-query -W -f='${Version}' chromium))"
else
  say "chromium: installing from Debian (about 30 s)"
  apt_install chromium
  say "chromium: installed ($(dpkg-query -W -f='${Version}' chromium))"
fi

# --- 2. wasm32 target -------------------------------------------------------------------------
command -v rustup >/dev/null || die "rustup not found (the machine's Rust toolchain is needed)"
if rustup target list --installed 2>/dev/null | grep -qx 'wasm32-unknown-unknown'; then
  say "rust target wasm32-unknown-unknown: present"
else
  say "rust target wasm32-unknown-unknown: adding"
  rustup target add wasm32-unknown-unknown
fi

# The two build tools are compiled from crates.io (no prebuilt binary is reachable here). Their
# own release profiles ask for fat LTO and one codegen unit (cargo-leptos: 14 min 39 s on 2
# cores) for tools whose speed hardly matters: what they spend their time on is waiting for
# rustc. Built with LTO off, 16 codegen units and no optimisation except in the WASM crates below,
# they do the same work, a little slower (measured on 2 cores: both tools 5 min 58 s; opt-level 1
# everywhere 10 min 39 s).
TOOL_PROFILE=(
  CARGO_PROFILE_RELEASE_LTO=off
  CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
  CARGO_PROFILE_RELEASE_OPT_LEVEL=0
  CARGO_PROFILE_RELEASE_DEBUG=0
  CARGO_PROFILE_RELEASE_STRIP=true
)
# Unoptimised except where the tools spend their time on every build of the site: reading,
# splitting and rewriting the WASM module (walrus, wasmparser, wasm-encoder, gimli, the split and
# bindgen support crates) and the hash maps under them.
TOOL_HOT=()
for crate in walrus wasmparser wasm-encoder gimli wasm_split_cli_support wasm-bindgen-cli-support \
  wasm-bindgen-wasm-interpreter wasm-bindgen-multi-value-xform wasm-bindgen-externref-xform \
  wasm-bindgen-threads-xform wasm-bindgen-wasm-conventions hashbrown indexmap; do
  TOOL_HOT+=(--config "profile.release.package.${crate}.opt-level=2")
done
TOOL_PIDS=()

# --- 3. cargo-leptos, built without its `new` command (and, for debug work, without swc) ------------
# `cargo leptos new` (project templates) is the one part of the tool that needs cargo-generate,
# and cargo-generate brings 94 crates of its own that no other command uses, among them OpenSSL,
# libgit2 and libssh2 compiled from C. So the published 0.3.10 source is fetched from crates.io
# (its checksum checked), that dependency and the body of `new` are taken out, and the rest is
# built against the crate's own Cargo.lock: no version moves (cargo only prunes the unused
# entries), and every command this project runs (build, serve, watch, end-to-end) is the
# published code. `cargo leptos new` answers that this build leaves it out.
#
# The same holds for swc, the JavaScript compiler cargo-leptos links only to minify the JS glue of
# a release build (`js-minify`, never used by a debug build): about 190 crates, most of the tool's
# build time. The default build ("light") leaves it out, so a fresh clone's first page and the
# test command do not wait for it; a release build with that tool stops with a message naming
# `scripts/install.sh --release-tools`, which builds the tool with swc ("full") over it. A full
# build does everything a light one does. The variant is recorded beside the binary.
CARGO_LEPTOS_SHA256="fb2e3a063d96743a5a051b956fef947b47af568d42f3603183e13c4fe1855737"
CARGO_LEPTOS_VARIANT_FILE="$HOME/.cargo/bin/.cargo-leptos-variant"
cargo_leptos_version() { (cargo-leptos --version 2>/dev/null || true) | awk '{ print $2 }'; }
# "light" when this script built it without swc; anything else found at the right version
# (a full build by this script, or the published tool) has swc.
cargo_leptos_variant() { cat "$CARGO_LEPTOS_VARIANT_FILE" 2>/dev/null || echo full; }
cargo_leptos_ready() {
  [ "$(cargo_leptos_version)" = "$CARGO_LEPTOS_VERSION" ] &&
    { [ "$RELEASE_TOOLS" = 0 ] || [ "$(cargo_leptos_variant)" = full ]; }
}
build_cargo_leptos() { # build_cargo_leptos light|full
  local variant="$1"
  local work="${TMPDIR:-/tmp}/phone-console-cargo-leptos-$$"
  local src="$work/cargo-leptos-$CARGO_LEPTOS_VERSION"
  rm -rf "$work" && mkdir -p "$work"
  curl -fsSL --retry 3 -o "$work/source.crate" \
    "https://static.crates.io/crates/cargo-leptos/cargo-leptos-$CARGO_LEPTOS_VERSION.crate"
  echo "$CARGO_LEPTOS_SHA256  $work/source.crate" | sha256sum -c --quiet - ||
    die "cargo-leptos $CARGO_LEPTOS_VERSION: the download does not match its crates.io checksum"
  tar -xzf "$work/source.crate" -C "$work"
  sed -i '/^\[dependencies.cargo-generate\]$/,/^$/d' "$src/Cargo.toml"
  sed -i -e '/^use cargo_generate::/d' -e '/^impl NewCommand {$/,$d' "$src/src/command/new.rs"
  cat >>"$src/src/command/new.rs" <<'RUST'
impl NewCommand {
    pub fn run(self) -> Result<()> {
        bail!("`cargo leptos new` is left out of this build (it needs cargo-generate); use `cargo generate` instead")
    }
}
RUST
  if [ "$variant" = light ]; then
    local front="$src/src/compile/front.rs"
    sed -i -e '/^\[dependencies.swc\]$/,/^$/d' -e '/^\[dependencies.swc_common\]$/,/^$/d' "$src/Cargo.toml"
    sed -i -e '/^use swc::{$/,/^};$/d' -e '/^use swc_common::/d' -e '/^fn minify</,/^}$/d' "$front"
    cat >>"$front" <<'RUST'

fn minify<JS: AsRef<str>>(_js: JS) -> Result<String> {
    bail!("this cargo-leptos was built without swc, the JavaScript minifier of release builds; run scripts/install.sh --release-tools")
}
RUST
    if grep -qE 'swc(_common)?::|dependencies\.swc' "$src/Cargo.toml" "$front"; then
      die "cargo-leptos: swc is still referenced after taking it out"
    fi
  fi
  (cd "$src" && env "${TOOL_PROFILE[@]}" CARGO_TARGET_DIR="$work/target" cargo build --release --bin cargo-leptos "${TOOL_HOT[@]}")
  install -m 0755 "$work/target/release/cargo-leptos" "$HOME/.cargo/bin/cargo-leptos"
  echo "$variant" >"$CARGO_LEPTOS_VARIANT_FILE"
  rm -rf "$work"
}
if ! cargo_leptos_ready; then
  wait_for_other_cargo_install cargo-leptos
fi
if cargo_leptos_ready; then
  say "cargo-leptos: $CARGO_LEPTOS_VERSION present ($(cargo_leptos_variant))"
elif [ "$RELEASE_TOOLS" = 1 ]; then
  say "cargo-leptos: building $CARGO_LEPTOS_VERSION without \`new\`, with swc for release builds (about 6 minutes on 2 cores)"
  build_cargo_leptos full &
  TOOL_PIDS+=($!)
else
  say "cargo-leptos: building $CARGO_LEPTOS_VERSION without \`new\` and swc (about 3 minutes on 2 cores, beside wasm-bindgen-cli; 4 in all)"
  build_cargo_leptos light &
  TOOL_PIDS+=($!)
fi

# --- 4. wasm-bindgen-cli, matching Cargo.lock -------------------------------------------------
WASM_BINDGEN_VERSION=""
if [ -f Cargo.lock ]; then
  WASM_BINDGEN_VERSION="$(awk '
    $0 == "[[package]]" { name = "" }
    $1 == "name" && $3 == "\"wasm-bindgen\"" { name = "wasm-bindgen" }
    $1 == "version" && name == "wasm-bindgen" { gsub(/"/, "", $3); print $3; exit }
  ' Cargo.lock)"
fi
if [ -z "$WASM_BINDGEN_VERSION" ]; then
  WASM_BINDGEN_VERSION="$WASM_BINDGEN_FALLBACK"
  say "wasm-bindgen: no version in Cargo.lock; using $WASM_BINDGEN_VERSION"
fi
current_wb="$( (wasm-bindgen --version 2>/dev/null || true) | awk '{ print $2 }')"
if [ "$current_wb" != "$WASM_BINDGEN_VERSION" ]; then
  wait_for_other_cargo_install wasm-bindgen-cli
  current_wb="$( (wasm-bindgen --version 2>/dev/null || true) | awk '{ print $2 }')"
fi
if [ "$current_wb" = "$WASM_BINDGEN_VERSION" ]; then
  say "wasm-bindgen-cli: $WASM_BINDGEN_VERSION present"
else
  say "wasm-bindgen-cli: installing $WASM_BINDGEN_VERSION${current_wb:+ (replacing $current_wb)} (about 4 minutes beside cargo-leptos)"
  # Not --locked: a crate version locked by wasm-bindgen-cli is missing from the index here.
  env "${TOOL_PROFILE[@]}" cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force "${TOOL_HOT[@]}" &
  TOOL_PIDS+=($!)
fi
if [ "${#TOOL_PIDS[@]}" -gt 0 ]; then
  # The project's own crates download while the tools compile (a fresh machine has none yet);
  # a failure here is not one: the build downloads what is still missing.
  (cargo fetch --quiet >/dev/null 2>&1 || say "cargo fetch failed; the build will download instead") &
  TOOL_PIDS+=($!)
fi
for pid in "${TOOL_PIDS[@]}"; do
  wait "$pid" || die "a cargo install failed (see above)"
done

# --- 5. end2end node_modules --------------------------------------------------------------------
if ! command -v npm >/dev/null; then
  say "npm: not found; installing Debian's nodejs and npm"
  apt_install nodejs npm
fi
E2E="$ROOT/end2end"
STAMP="$E2E/node_modules/.phone-console-install-stamp"
e2e_fingerprint() { cat "$E2E/package.json" "$E2E/package-lock.json" 2>/dev/null | sha256sum | awk '{ print $1 }'; }
if [ -d "$E2E/node_modules" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(e2e_fingerprint)" ]; then
  say "end2end/node_modules: up to date"
else
  if [ -f "$E2E/package-lock.json" ]; then
    say "end2end: npm ci"
    (cd "$E2E" && CI=true npm ci --no-audit --no-fund --loglevel=error)
  else
    say "end2end: npm install (no package-lock.json yet)"
    (cd "$E2E" && CI=true npm install --no-audit --no-fund --loglevel=error)
  fi
  e2e_fingerprint >"$STAMP"
fi
[ -x "$E2E/node_modules/.bin/wasm-opt" ] || die "end2end/node_modules/.bin/wasm-opt missing (binaryen devDependency)"

# --- 6. the SSO tests' OpenID Connect provider -----------------------------------------------------
OIDC="$ROOT/server/tests/oidc"
OIDC_STAMP="$OIDC/node_modules/.phone-console-install-stamp"
oidc_fingerprint() { cat "$OIDC/package.json" "$OIDC/package-lock.json" | sha256sum | awk '{ print $1 }'; }
if [ -f "$OIDC_STAMP" ] && [ "$(cat "$OIDC_STAMP")" = "$(oidc_fingerprint)" ]; then
  say "server/tests/oidc/node_modules: up to date"
else
  say "server/tests/oidc: npm ci (oidc-provider)"
  (cd "$OIDC" && CI=true npm ci --no-audit --no-fund --loglevel=error)
  oidc_fingerprint >"$OIDC_STAMP"
fi

# --- 7. pg_auto_failover (optional) ---------------------------------------------------------------
if "$ROOT/scripts/ha-postgres.sh" install; then
  say "pg_auto_failover: present ($(pg_autoctl --version 2>/dev/null | head -n 1))"
else
  say "pg_auto_failover: cannot be installed here; the PostgreSQL failover test will be skipped"
fi

say "done"
