#!/usr/bin/env bash
# A highly available PostgreSQL on loopback for the failover tests (issue 15, item 1): a
# pg_auto_failover monitor, a primary and a hot standby, each its own PostgreSQL 15 under its
# own pg_autoctl keeper, all inside one temporary folder, trust auth on 127.0.0.1 only. The
# machine's own PostgreSQL (5432) is never touched.
#
#   scripts/ha-postgres.sh install         installs pg_auto_failover from Debian when missing
#                                          (exit 3, with the reason, when it cannot)
#   scripts/ha-postgres.sh start DIR       starts monitor, primary, standby in DIR (created; must
#                                          not exist), waits until primary/secondary are healthy,
#                                          and prints DIR/ports: MONITOR_PORT NODE1_PORT NODE2_PORT
#   scripts/ha-postgres.sh state DIR       the monitor's view: node, port, reported/goal state
#   scripts/ha-postgres.sh primary DIR     the port of the node the monitor holds as primary
#   scripts/ha-postgres.sh primary-pids DIR
#                                          that port, its keeper's session id and its postmaster's
#                                          pid (for a caller that times the kill itself)
#   scripts/ha-postgres.sh crash-primary DIR
#                                          kill -9 of the primary's postmaster and of its keeper
#                                          (a keeper left alive restarts its postmaster within a
#                                          second and no failover happens: a lost machine loses
#                                          both); prints the port it killed
#   scripts/ha-postgres.sh stop DIR        stops everything started in DIR and removes DIR
#
# pg_autoctl refuses to run as root: as root every PostgreSQL command runs as the `postgres`
# system user (DIR is given to it). Each keeper runs in a session of its own (setsid), so `stop`
# ends exactly the processes `start` made, by their process group ids kept in DIR/*.pgid.
# The monitor's health checks are made fast (1 s period, unhealthy after 2 s without a report,
# 3 s for the old primary to demote itself) so a failover takes seconds, not the defaults' 50.
set -euo pipefail

PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
PACKAGES=(pg-auto-failover-cli postgresql-15-auto-failover)
START_LIMIT="${HA_START_LIMIT:-120}" # seconds for the pair to become healthy

say() { printf 'ha-postgres: %s\n' "$*" >&2; }
die() { printf 'ha-postgres: ERROR: %s\n' "$*" >&2; exit 1; }
skip() { printf 'ha-postgres: cannot run: %s\n' "$*" >&2; exit 3; }

installed() {
  command -v pg_autoctl >/dev/null && [ -x "$PG_BIN/pg_ctl" ] &&
    [ -f "/usr/share/postgresql/15/extension/pgautofailover.control" ]
}

cmd_install() {
  if installed; then return 0; fi
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null && sudo -n true 2>/dev/null || skip "pg_auto_failover is not installed and installing it needs root (${PACKAGES[*]})"
    sudo=(sudo -n)
  fi
  command -v apt-get >/dev/null || skip "pg_auto_failover is not installed and there is no apt-get"
  say "installing ${PACKAGES[*]} from Debian"
  export DEBIAN_FRONTEND=noninteractive
  if ! "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null 2>&1; then
    "${sudo[@]}" apt-get update -qq >/dev/null 2>&1 || true
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null 2>&1 ||
      skip "apt-get install ${PACKAGES[*]} failed"
  fi
  installed || skip "${PACKAGES[*]} installed, but pg_autoctl or PostgreSQL 15 is still missing"
}

# Runs a command as the user that owns the cluster, with pg_autoctl's config, state and runtime
# files inside DIR (never in a home folder).
as_owner() {
  local env=(env "PATH=$PG_BIN:/usr/bin:/bin" "HOME=$DIR" "XDG_CONFIG_HOME=$DIR/xdg/config"
    "XDG_DATA_HOME=$DIR/xdg/data" "XDG_RUNTIME_DIR=$DIR/xdg/run" "PG_CONFIG=$PG_BIN/pg_config")
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "${env[@]}" "$@"
  else
    "${env[@]}" "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

monitor_sql() { # monitor_sql SQL: one unaligned answer from the monitor's database
  as_owner psql -X -qAt -h 127.0.0.1 -p "$MONITOR_PORT" -U postgres -d pg_auto_failover -c "$1" 2>/dev/null
}

load_ports() {
  [ -f "$DIR/ports" ] || die "no cluster in $DIR (no $DIR/ports)"
  # shellcheck disable=SC1091
  . "$DIR/ports"
}

# run_keeper NAME ARGS...: a pg_autoctl service in a session of its own, logging to DIR/NAME.log.
run_keeper() {
  local name="$1"
  shift
  if [ "$(id -u)" -eq 0 ]; then
    setsid runuser -u postgres -- env "PATH=$PG_BIN:/usr/bin:/bin" "HOME=$DIR" \
      "XDG_CONFIG_HOME=$DIR/xdg/config" "XDG_DATA_HOME=$DIR/xdg/data" "XDG_RUNTIME_DIR=$DIR/xdg/run" \
      pg_autoctl "$@" >"$DIR/$name.log" 2>&1 </dev/null &
  else
    setsid env "PATH=$PG_BIN:/usr/bin:/bin" "HOME=$DIR" "XDG_CONFIG_HOME=$DIR/xdg/config" \
      "XDG_DATA_HOME=$DIR/xdg/data" "XDG_RUNTIME_DIR=$DIR/xdg/run" \
      pg_autoctl "$@" >"$DIR/$name.log" 2>&1 </dev/null &
  fi
  # setsid forked before exec when it was already a group leader; either way the session id is
  # the pid of the process it started, which ps reports as the session of its children.
  local pid=$!
  echo "$pid" >"$DIR/$name.pgid"
}

wait_for() { # wait_for WHAT SECONDS COMMAND...
  local what="$1" limit="$2" i
  shift 2
  for ((i = 0; i < limit * 4; i++)); do
    if "$@"; then return 0; fi
    sleep 0.25
  done
  say "$what: not reached after ${limit}s; the monitor says:"
  monitor_sql "SELECT nodename, nodeport, reportedstate, goalstate, health FROM pgautofailover.node ORDER BY nodeid" >&2 || true
  tail -n 30 "$DIR"/*.log >&2 || true
  return 1
}

monitor_answers() { monitor_sql "SELECT 1" | grep -q 1; }
states_are() { # states_are "node1:primary node2:secondary": every node reported its goal
  local want="$1" got
  got="$(monitor_sql "SELECT string_agg(nodename || ':' || reportedstate, ' ' ORDER BY nodename) FROM pgautofailover.node WHERE reportedstate = goalstate")"
  [ "$got" = "$want" ]
}

cmd_start() {
  installed || cmd_install
  [ -e "$DIR" ] && die "$DIR exists; give start a new folder"
  mkdir -p "$DIR/xdg/config" "$DIR/xdg/data" "$DIR/xdg/run"
  chmod 700 "$DIR/xdg/run"
  if [ "$(id -u)" -eq 0 ]; then chown -R postgres: "$DIR"; fi
  MONITOR_PORT="$(free_port)"
  NODE1_PORT="$(free_port)"
  NODE2_PORT="$(free_port)"
  while [ "$NODE1_PORT" = "$MONITOR_PORT" ]; do NODE1_PORT="$(free_port)"; done
  while [ "$NODE2_PORT" = "$MONITOR_PORT" ] || [ "$NODE2_PORT" = "$NODE1_PORT" ]; do NODE2_PORT="$(free_port)"; done
  printf 'MONITOR_PORT=%s\nNODE1_PORT=%s\nNODE2_PORT=%s\n' "$MONITOR_PORT" "$NODE1_PORT" "$NODE2_PORT" >"$DIR/ports"

  local common=(--pgctl "$PG_BIN/pg_ctl" --hostname 127.0.0.1 --listen 127.0.0.1 --auth trust --no-ssl)
  say "monitor on 127.0.0.1:$MONITOR_PORT"
  run_keeper monitor create monitor --pgdata "$DIR/monitor" --pgport "$MONITOR_PORT" "${common[@]}" --run
  wait_for "the monitor answering" "$START_LIMIT" monitor_answers
  # Fast health checks: the defaults (5 s checks, 20 s before a node counts as unhealthy) make a
  # failover take half a minute; a test wants seconds.
  monitor_sql "ALTER SYSTEM SET pgautofailover.health_check_period = 1000" >/dev/null
  monitor_sql "ALTER SYSTEM SET pgautofailover.health_check_timeout = 1000" >/dev/null
  monitor_sql "ALTER SYSTEM SET pgautofailover.health_check_max_retries = 1" >/dev/null
  monitor_sql "ALTER SYSTEM SET pgautofailover.health_check_retry_delay = 500" >/dev/null
  monitor_sql "ALTER SYSTEM SET pgautofailover.node_considered_unhealthy_timeout = 2000" >/dev/null
  # The promoted standby stays read-only for this long, in case the old primary is alive and
  # cut off (its keeper demotes it when it cannot reach the monitor). Writes acknowledged there
  # meanwhile would need the standby's synchronous answer, which the promoted node no longer
  # gives, so a short wait loses nothing; the default is 30 s.
  monitor_sql "ALTER SYSTEM SET pgautofailover.primary_demote_timeout = 3000" >/dev/null
  monitor_sql "SELECT pg_reload_conf()" >/dev/null
  local monitor_url="postgres://autoctl_node@127.0.0.1:$MONITOR_PORT/pg_auto_failover?sslmode=disable"
  say "primary on 127.0.0.1:$NODE1_PORT"
  run_keeper node1 create postgres --pgdata "$DIR/node1" --pgport "$NODE1_PORT" --name node1 \
    --monitor "$monitor_url" "${common[@]}" --run
  wait_for "node1 alone as primary" "$START_LIMIT" states_are "node1:single"
  say "standby on 127.0.0.1:$NODE2_PORT"
  run_keeper node2 create postgres --pgdata "$DIR/node2" --pgport "$NODE2_PORT" --name node2 \
    --monitor "$monitor_url" "${common[@]}" --run
  wait_for "node1 primary and node2 secondary" "$START_LIMIT" states_are "node1:primary node2:secondary"
  say "healthy: primary node1 (:$NODE1_PORT), secondary node2 (:$NODE2_PORT), monitor :$MONITOR_PORT"
  cat "$DIR/ports"
}

cmd_state() {
  load_ports
  monitor_sql "SELECT nodename, nodeport, reportedstate, goalstate, health FROM pgautofailover.node ORDER BY nodeid"
}

cmd_primary() {
  load_ports
  monitor_sql "SELECT nodeport FROM pgautofailover.node WHERE reportedstate IN ('primary', 'wait_primary', 'single') AND goalstate = reportedstate ORDER BY nodeid LIMIT 1"
}

node_of_port() {
  if [ "$1" = "$NODE1_PORT" ]; then echo node1; elif [ "$1" = "$NODE2_PORT" ]; then echo node2; else return 1; fi
}

cmd_primary_pids() {
  load_ports
  local port node
  port="$(cmd_primary)"
  [ -n "$port" ] || die "no primary"
  node="$(node_of_port "$port")"
  echo "$port $(cat "$DIR/$node.pgid") $(head -n 1 "$DIR/$node/postmaster.pid")"
}

cmd_crash_primary() {
  local port pgid postmaster
  read -r port pgid postmaster < <(cmd_primary_pids)
  local node
  node="$(node_of_port "$port")"
  # The keeper first, so nothing is left to restart the postmaster; both in the same instant.
  kill -9 -- "-$pgid" 2>/dev/null || true
  if [ -n "$postmaster" ]; then kill -9 "$postmaster" 2>/dev/null || true; fi
  say "killed -9 $node (:$port): keeper session $pgid, postmaster ${postmaster:-?}"
  echo "$port"
}

session_alive() { [ -n "$(ps -o pid= -s "$1" 2>/dev/null)" ]; }

cmd_stop() {
  [ -d "$DIR" ] || return 0
  local name pgid pid
  for name in node2 node1 monitor; do
    [ -f "$DIR/$name.pgid" ] || continue
    pgid="$(cat "$DIR/$name.pgid")"
    if session_alive "$pgid"; then kill -TERM -- "-$pgid" 2>/dev/null || true; fi
  done
  local i
  for ((i = 0; i < 40; i++)); do
    local alive=0
    for name in node2 node1 monitor; do
      [ -f "$DIR/$name.pgid" ] && session_alive "$(cat "$DIR/$name.pgid")" && alive=1
    done
    [ "$alive" -eq 0 ] && break
    sleep 0.25
  done
  for name in node2 node1 monitor; do
    [ -f "$DIR/$name.pgid" ] || continue
    pgid="$(cat "$DIR/$name.pgid")"
    if session_alive "$pgid"; then kill -KILL -- "-$pgid" 2>/dev/null || true; fi
    # A postmaster that left the session (none should) still holds its pid file.
    pid="$(head -n 1 "$DIR/$name/postmaster.pid" 2>/dev/null || true)"
    if [ -n "$pid" ] && [ "$(ps -o comm= -p "$pid" 2>/dev/null)" = postgres ]; then kill -KILL "$pid" 2>/dev/null || true; fi
  done
  sleep 0.2
  rm -rf "$DIR"
  say "stopped and removed $DIR"
}

case "${1:-}" in
  install) cmd_install ;;
  start | state | primary | primary-pids | crash-primary | stop)
    [ -n "${2:-}" ] || die "usage: $0 $1 DIR"
    DIR="$(realpath -m "$2")"
    "cmd_${1//-/_}"
    ;;
  *)
    echo "usage: $0 install | start DIR | state DIR | primary DIR | primary-pids DIR | crash-primary DIR | stop DIR" >&2
    exit 2
    ;;
esac
