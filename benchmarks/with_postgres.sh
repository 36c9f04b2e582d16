#!/bin/sh
# Run a command against a throwaway PostgreSQL of its own, on a machine that
# has none (a bigger machine lent for a benchmark, with no package registry):
# the server binaries of the `pgserver` wheel (PostgreSQL 16, no system
# libraries beyond libc and zlib), run as an unprivileged user when called as
# root (PostgreSQL refuses root). The command gets LABDECK_TEST_POSTGRES_URL,
# which benchmarks/hub_load.py and the tests read; the server and its data are
# gone afterwards.
#
#   pip install pgserver      # or: --no-index --target DIR from a carried wheel
#   benchmarks/with_postgres.sh python benchmarks/hub_load.py --workers 4
#
# Settings are PostgreSQL's defaults (fsync on, 128 MB of shared buffers)
# but for max_connections (400: four `labdeck serve` workers' pools fit).
set -eu
PY=${PYTHON:-python3}
PKG=$("$PY" -c "import importlib.util, os; print(os.path.dirname(importlib.util.find_spec('pgserver').origin))")
BIN="$PKG/pginstall/bin"
PORT=${PGPORT:-54329}
DIR=$(mktemp -d /tmp/labdeck-pg.XXXXXX)
RUN_AS=""
if [ "$(id -u)" = 0 ]; then
  id labdeck-pg >/dev/null 2>&1 || useradd -M -r labdeck-pg 2>/dev/null || adduser --system --no-create-home labdeck-pg
  chmod -R a+rX "$PKG"
  chown labdeck-pg "$DIR"
  RUN_AS="labdeck-pg"
fi
as_pg() {
  if [ -n "$RUN_AS" ]; then su "$RUN_AS" -s /bin/sh -c "$1"; else sh -c "$1"; fi
}
stop() {
  as_pg "'$BIN/pg_ctl' -D '$DIR/data' -m fast stop" >/dev/null 2>&1 || true
  rm -rf "$DIR"
}
trap stop EXIT
as_pg "'$BIN/initdb' -D '$DIR/data' -U postgres --auth=trust -E UTF8 >'$DIR/initdb.log' 2>&1"
as_pg "'$BIN/pg_ctl' -D '$DIR/data' -w -l '$DIR/server.log' -o \"-p $PORT -k '$DIR' -c listen_addresses=127.0.0.1 -c max_connections=400\" start >/dev/null"
echo "== PostgreSQL $("$BIN/pg_config" --version | cut -d' ' -f2) on 127.0.0.1:$PORT ($DIR)"
LABDECK_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:$PORT/postgres" "$@"
