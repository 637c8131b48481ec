#!/usr/bin/env bash
# The project's one test command (README: "Run the tests"; .ci/run calls it).
# Installs and starts whatever the tests need, then runs every check.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== toolchain"
cargo --version
rustup component add clippy rustfmt >/dev/null 2>&1 || true

echo "== format and lints"
cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings

echo "== tests"
cargo test --all-targets --locked
