#!/usr/bin/env bash
# Fuzzes spec text through load → validate → plan → render (fuzz_targets/pipeline.rs).
#
#   fuzz/run.sh [SECONDS]     default 600
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). The corpus starts from
# every fixture (valid and invalid) and lives in target/fuzz-corpus; crashes are written to
# fuzz/artifacts/pipeline/ and become invalid fixtures once understood.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-600}
[[ $seconds =~ ^[1-9][0-9]*$ ]] || { echo "fuzz/run.sh: SECONDS is a positive integer, not \`$seconds\`" >&2; exit 2; }
command -v cargo-fuzz >/dev/null || { echo "fuzz/run.sh: needs cargo-fuzz (cargo install cargo-fuzz)" >&2; exit 2; }
corpus=../target/fuzz-corpus
mkdir -p "$corpus"
cp ../fixtures/valid/*.yaml ../fixtures/invalid/*.yaml "$corpus"/
exec cargo +nightly fuzz run pipeline "$corpus" -- -max_total_time="$seconds" -max_len=16384 -timeout=20
