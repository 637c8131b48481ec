#!/usr/bin/env bash
# Regenerate screenshots/*.svg from the real console: a release build runs in
# tmux on a generated corpus with injected failures and a rate limit (so
# there is lag to explain); keys are sent as an operator would; each capture
# (with colours) becomes an SVG via rich. The fleet picture needs the test
# servers (scripts/test-services.sh: Apache Kafka and Neo4j) and three `serve`
# members; it is skipped, loudly, when they cannot start.
# Needs tmux and `pip install rich`; not part of the test run.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c "import rich" 2>/dev/null || python3 -m pip install -q rich
cargo build --release --locked
bin=$PWD/target/release/archon-tui
work=$(mktemp -d)
pids=()
cleanup() {
  tmux -L archon-shots kill-server 2>/dev/null || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
"$bin" gen-corpus "$work/acme-web" --files 20000 >/dev/null 2>&1
W=200 H=56
shot() { # name, title
  tmux -L archon-shots capture-pane -e -p -t s > "$work/$1.ansi"
  python3 scripts/ansi_to_svg.py "$work/$1.ansi" "screenshots/$1.svg" "$2" $W
  echo "screenshots/$1.svg"
}
keys() { for k in "$@"; do tmux -L archon-shots send-keys -t s "$k"; sleep 0.25; done; }
typed() { tmux -L archon-shots send-keys -t s -l "$1"; sleep 0.2; tmux -L archon-shots send-keys -t s Enter; sleep 0.5; }
mkdir -p screenshots

# 1. One console draining 20,000 files at 500/s: lag to explain, failures to triage.
tmux -L archon-shots -f /dev/null new-session -d -s s -x $W -y $H -e TERM=xterm-256color \
  "ARCHON_HISTORY_EVERY_MS=1000 XDG_CONFIG_HOME=$work/cfg $bin --data-dir $work/data \
   --ingest $work/acme-web --inject-failure-rate 0.12 --inject-latency-ms 3 \
   --retry-max-attempts 2 --retry-backoff-base 0.05 --concurrency 20 --max-processing-rate 500; sleep 600"
sleep 9
shot main "archon-tui — main view"
keys w; sleep 1
shot why "archon-tui — why is it lagging (w)"
keys Escape
# Levers for the markers: concurrency, the rate, a hold and its release.
keys :; typed "concurrency 30"
sleep 3
keys :; typed "rate 400"
sleep 3
keys :; typed "hold"
sleep 3
keys :; typed "release"
sleep 4
keys :; typed "history 30m"
sleep 1
shot history "archon-tui — :history with lever markers"
keys Escape
keys / ; tmux -L archon-shots send-keys -t s -l "type:InjectedFailure"; keys Enter j j j
sleep 1
shot dlq "archon-tui — DLQ filtered by error type"
keys Enter; sleep 0.5
shot dlq-detail "archon-tui — one DLQ entry in full"
keys Escape t; sleep 1
shot trace "archon-tui — a document's trace (t)"
keys Escape Escape v; sleep 1
shot dlq-grouped "archon-tui — DLQ grouped by error fingerprint (v)"
keys v '!'; sleep 0.5
shot rollback "archon-tui — emergency rollback confirm"
keys Enter; sleep 2
shot rollback-result "archon-tui — rollback result"
keys Escape q
sleep 3
tmux -L archon-shots kill-server 2>/dev/null || true

# 2. A fleet of three `serve` members on Kafka + Neo4j, seen by `attach`.
if env=$(bash scripts/test-services.sh start 2>"$work/services.log"); then
  eval "$env"
  suffix=$(date +%s)
  flags=(--kafka-brokers "$ARCHON_TEST_KAFKA" --graph-uri "$ARCHON_TEST_BOLT"
    --enrichment-topic "shots.$suffix.enrich" --dlq-topic "shots.$suffix.dlq"
    --completed-topic "shots.$suffix.completed" --group-id "shots.$suffix"
    --control-topic "shots.$suffix.control" --status-topic "shots.$suffix.status"
    --audit-topic "shots.$suffix.audit")
  "$bin" ingest "$work/acme-web" --project acme-web --data-dir "$work/ingest" "${flags[@]}" >/dev/null 2>&1
  for m in edge-1 edge-2 edge-3; do
    "$bin" serve --listen 127.0.0.1:0 --member-id "$m" --data-dir "$work/$m" \
      --concurrency 16 --inject-latency-ms 40 --inject-failure-rate 0.05 "${flags[@]}" \
      >/dev/null 2>"$work/$m.log" &
    pids+=($!)
  done
  tmux -L archon-shots -f /dev/null new-session -d -s s -x $W -y $H -e TERM=xterm-256color \
    "XDG_CONFIG_HOME=$work/cfg $bin attach --data-dir $work/attach ${flags[*]}; sleep 600"
  sleep 15
  keys Tab Tab Tab; sleep 1
  shot fleet "archon-tui attach — a fleet of three members"
  tmux -L archon-shots kill-server 2>/dev/null || true
else
  echo "!!! SKIPPED screenshots/fleet.svg: the test servers did not start (see $work/services.log)" >&2
fi
