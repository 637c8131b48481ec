#!/usr/bin/env bash
# The project's one test command (README: "Run the tests"; .ci/run calls it).
# Installs and starts whatever the tests need, then runs every check.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== toolchain"
cargo --version
rustup component add clippy rustfmt >/dev/null 2>&1 || true

echo "== test dependencies"
# tmux drives the console in a real terminal (tests/tmux.rs); pgrep finds its pid.
need=()
command -v tmux >/dev/null 2>&1 || need+=(tmux)
command -v pgrep >/dev/null 2>&1 || need+=(procps)
if ((${#need[@]})); then
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  echo "installing ${need[*]} with apt-get"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
tmux -V

echo "== test services (tansu Kafka-compatible broker, FalkorDB + Bolt relay)"
eval "$(bash scripts/test-services.sh start)"
trap 'bash scripts/test-services.sh stop' EXIT

echo "== format and lints"
cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings

echo "== tests"
cargo test --all-targets --locked
