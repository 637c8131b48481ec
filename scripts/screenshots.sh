#!/usr/bin/env bash
# Regenerate screenshots/*.svg from the real console: a release build runs in
# tmux on a generated corpus with injected failures; keys are sent as an
# operator would; each capture (with colours) becomes an SVG via rich.
# Needs tmux and `pip install rich`; not part of the test run.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c "import rich" 2>/dev/null || python3 -m pip install -q rich
cargo build --release --locked
bin=$PWD/target/release/archon-tui
work=$(mktemp -d)
trap 'tmux -L archon-shots kill-server 2>/dev/null || true; rm -rf "$work"' EXIT
"$bin" gen-corpus "$work/acme-web" --files 20000 >/dev/null 2>&1
W=200 H=56
tmux -L archon-shots -f /dev/null new-session -d -s s -x $W -y $H -e TERM=xterm-256color \
  "XDG_CONFIG_HOME=$work/cfg $bin --data-dir $work/data --ingest $work/acme-web \
   --inject-failure-rate 0.12 --inject-latency-ms 3 --retry-max-attempts 2 --retry-backoff-base 0.05 \
   --concurrency 20; sleep 600"
shot() { # name, title
  tmux -L archon-shots capture-pane -e -p -t s > "$work/$1.ansi"
  python3 scripts/ansi_to_svg.py "$work/$1.ansi" "screenshots/$1.svg" "$2" $W
  echo "screenshots/$1.svg"
}
keys() { for k in "$@"; do tmux -L archon-shots send-keys -t s "$k"; sleep 0.2; done; }
mkdir -p screenshots
sleep 9
shot main "archon-tui — main view"
keys / ; tmux -L archon-shots send-keys -t s -l "type:InjectedFailure"; keys Enter j j j
sleep 1
shot dlq "archon-tui — DLQ filtered by error type"
keys Enter; sleep 0.5
shot dlq-detail "archon-tui — one DLQ entry in full"
keys Escape '!'; sleep 0.5
shot rollback "archon-tui — emergency rollback confirm"
keys Enter; sleep 2
shot rollback-result "archon-tui — rollback result"
keys Escape q
tmux -L archon-shots resize-window -t s -x 80 -y 24 2>/dev/null || true
