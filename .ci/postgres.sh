# A throwaway PostgreSQL cluster for the tests: sourced by .ci/run (or by hand:
# `. .ci/postgres.sh && start_test_postgres`), it exports SESSION_MCP_TEST_POSTGRES and removes the
# cluster when the shell exits.
#
# Debian's `postgresql` (installed here when absent, as root); initdb refuses to run as root, so as
# root the cluster belongs to `nobody`. It listens on 127.0.0.1 on a free port (and on a Unix socket
# inside its own folder), with a random password: the tests also check that it is never printed.

start_test_postgres() {
  local bin
  bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    if [ "$(id -u)" = 0 ]; then
      apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null
    else
      sudo apt-get install -y -q postgresql >/dev/null
    fi
    bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
  fi
  PG_TEST_DIR="$(mktemp -d)"
  local as=()
  if [ "$(id -u)" = 0 ]; then
    chown nobody "$PG_TEST_DIR"
    as=(runuser -u nobody --)
  fi
  chmod 700 "$PG_TEST_DIR"
  trap 'stop_test_postgres' EXIT
  local password port
  password="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  # the password file must be readable by the cluster's owner (a <(...) pipe is not)
  printf '%s\n' "$password" >"$PG_TEST_DIR/pw"
  [ "$(id -u)" = 0 ] && chown nobody "$PG_TEST_DIR/pw"
  "${as[@]}" "$bin/initdb" -D "$PG_TEST_DIR/data" -U postgres --auth=scram-sha-256 --pwfile="$PG_TEST_DIR/pw" \
    -E UTF8 --locale=C.UTF-8 >"$PG_TEST_DIR/initdb.log" 2>&1 || { cat "$PG_TEST_DIR/initdb.log"; return 1; }
  rm -f "$PG_TEST_DIR/pw"
  # Throwaway: no fsync, so creating and dropping the tests' databases costs no disk flushes.
  "${as[@]}" "$bin/pg_ctl" -D "$PG_TEST_DIR/data" -l "$PG_TEST_DIR/server.log" -w -s \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$PG_TEST_DIR -c fsync=off \
-c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start \
    || { cat "$PG_TEST_DIR/server.log"; return 1; }
  PG_TEST_BIN="$bin"
  export SESSION_MCP_TEST_POSTGRES="postgresql://postgres:$password@127.0.0.1:$port/postgres"
}

stop_test_postgres() {
  if [ -n "${PG_TEST_DIR:-}" ] && [ -d "$PG_TEST_DIR" ]; then
    local as=()
    [ "$(id -u)" = 0 ] && as=(runuser -u nobody --)
    "${as[@]}" "$PG_TEST_BIN/pg_ctl" -D "$PG_TEST_DIR/data" -m immediate -s stop >/dev/null 2>&1 || true
    rm -rf "$PG_TEST_DIR"
  fi
}
