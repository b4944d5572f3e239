#!/usr/bin/env bash
# One private PostgreSQL 15 on a free loopback port, for the tests that stop and restart the
# database under the product (issue 15, item 5). The machine's own PostgreSQL (5432) is never
# touched: other tests run on it at the same time.
#
#   scripts/pg-single.sh start DIR         initdb in DIR (must not exist), start; prints the port
#   scripts/pg-single.sh stop DIR MODE     pg_ctl stop -m MODE (fast: connections ended cleanly;
#                                          immediate: as a crash, recovery from WAL at the next start)
#   scripts/pg-single.sh restart DIR       pg_ctl restart -m fast
#   scripts/pg-single.sh up DIR            starts it again on the same port and data
#   scripts/pg-single.sh destroy DIR       stops it (immediate) and removes DIR
#
# PostgreSQL refuses to run as root: as root every command runs as the `postgres` system user.
set -euo pipefail

PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
die() { printf 'pg-single: ERROR: %s\n' "$*" >&2; exit 1; }
skip() { printf 'pg-single: cannot run: %s\n' "$*" >&2; exit 3; }

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- env "PATH=$PG_BIN:/usr/bin:/bin" "$@"
  else
    env "PATH=$PG_BIN:/usr/bin:/bin" "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

pg_ctl_() { as_owner pg_ctl -D "$DIR/data" -l "$DIR/server.log" -w -t 60 "$@" >/dev/null; }

cmd_start() {
  [ -x "$PG_BIN/initdb" ] || skip "no PostgreSQL 15 server binaries in $PG_BIN"
  [ -e "$DIR" ] && die "$DIR exists; give start a new folder"
  mkdir -p "$DIR"
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$DIR"; fi
  as_owner initdb -D "$DIR/data" -U postgres --auth=trust -E UTF8 --no-sync >/dev/null
  local port
  port="$(free_port)"
  printf "port = %s\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\nfsync = on\n" \
    "$port" "$DIR" >>"$DIR/data/postgresql.conf"
  echo "$port" >"$DIR/port"
  pg_ctl_ start
  echo "$port"
}

cmd_stop() {
  local mode="${1:-fast}"
  case "$mode" in fast | immediate | smart) ;; *) die "stop mode: fast, immediate or smart" ;; esac
  pg_ctl_ stop -m "$mode"
}

cmd_restart() { pg_ctl_ restart -m fast; }
cmd_up() { pg_ctl_ start; }

cmd_destroy() {
  [ -d "$DIR" ] || return 0
  if [ -f "$DIR/data/postmaster.pid" ]; then pg_ctl_ stop -m immediate || true; fi
  rm -rf "$DIR"
}

case "${1:-}" in
  start | stop | restart | up | destroy)
    [ -n "${2:-}" ] || die "usage: $0 $1 DIR"
    DIR="$(realpath -m "$2")"
    cmd="$1"
    shift 2
    "cmd_$cmd" "$@"
    ;;
  *)
    echo "usage: $0 start DIR | stop DIR fast|immediate | restart DIR | up DIR | destroy DIR" >&2
    exit 2
    ;;
esac
