#!/usr/bin/env bash
# Install (once) and start the real servers the integration tests use, all on
# 127.0.0.1. Prints `export` lines for the test run; `stop` ends them.
#   tansu  — Kafka-compatible broker (crates.io), 127.0.0.1:${KAFKA_TEST_PORT:-19092}
# The tansu build takes ~20 min on 2 cores; it is skipped when the binary exists
# under $ARCHON_TOOLS (default ~/.local/share/archon-tui-tools).
set -euo pipefail
tools=${ARCHON_TOOLS:-$HOME/.local/share/archon-tui-tools}
run=${ARCHON_SERVICES_DIR:-/tmp/archon-tui-services}
port=${KAFKA_TEST_PORT:-19092}

stop() {
  if [ -f "$run/tansu.pid" ]; then kill "$(cat "$run/tansu.pid")" 2>/dev/null || true; fi
  rm -rf "$run"
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
cd - > /dev/null
for _ in $(seq 1 100); do
  if (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "tansu up on 127.0.0.1:$port (log $run/tansu.log)" >&2
    echo "export ARCHON_TEST_KAFKA=127.0.0.1:$port"
    echo "export ARCHON_TANSU=$tansu"
    exit 0
  fi
  sleep 0.1
done
echo "tansu did not start; log:" >&2
cat "$run/tansu.log" >&2
exit 1
