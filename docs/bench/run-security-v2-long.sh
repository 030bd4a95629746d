#!/usr/bin/env bash
# The two rows of docs/security.md §4 where rare events decide, at 1,000 rounds: honest lists
# rejected by a bad-distributor bloc, and rounds left unpaid by list blockers (33 %).
# Usage: cargo build --release -p gradual-sim && docs/bench/run-security-v2-long.sh [binary]
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${1:-target/release/gradual-sim}
run() {
  local s=$1 seed=$2
  local out="docs/bench/security-v2-$s-33-r1000"
  {
    echo "\$ gradual-sim --seed $seed --nodes 200 --rounds 1000 --mix $s=33 --json-out $out.json"
    "$BIN" --seed "$seed" --nodes 200 --rounds 1000 --mix "$s=33" --json-out "$out.json" 2>&1 || echo "exit code $?"
  } > "$out.txt"
}
run bad-distributor 0x2600 &
run list-blocker 0x2601 &
wait
