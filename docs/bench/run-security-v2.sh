#!/usr/bin/env bash
# Regenerates the v2 security study (docs/security.md §4): every strategy at 25 % and 33 %
# adversarial stake, 200 nodes, ROUNDS rounds (+8 liveness), v2 defaults (K = 64,
# audit_sample = 8), 2 runs in parallel. Raw outputs: docs/bench/security-v2-<name>-<share>.{txt,json}.
# Usage: cargo build --release -p gradual-sim && docs/bench/run-security-v2.sh [binary]
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${1:-target/release/gradual-sim}
ROUNDS=${ROUNDS:-300}
JOBS=${JOBS:-2}
rows=()
i=0
for share in 25 33; do
  for s in colluder false-accuser grinder raise-flood late-accuser garbage copier lazy bad-distributor list-blocker flaky manager-updater; do
    case "$s" in
      lazy) mix="garbage=5,lazy=$((share - 5))" ;;
      *) mix="$s=$share" ;;
    esac
    seed=$(printf '0x%x' $((0x2500 + i)))
    rows+=("$s $share $mix $seed")
    i=$((i + 1))
  done
done
run() {
  local s=$1 share=$2 mix=$3 seed=$4
  local out="docs/bench/security-v2-$s-$share"
  local cmd="gradual-sim --seed $seed --nodes 200 --rounds $ROUNDS --mix $mix"
  {
    echo "\$ $cmd --json-out $out.json"
    "$BIN" --seed "$seed" --nodes 200 --rounds "$ROUNDS" --mix "$mix" --json-out "$out.json" 2>&1 || echo "exit code $?"
  } > "$out.txt"
  echo "done $s $share $(date -u +%H:%M:%S)"
}
export -f run
export BIN ROUNDS
printf '%s\n' "${rows[@]}" | xargs -P "$JOBS" -L 1 bash -c 'run "$@"' _
