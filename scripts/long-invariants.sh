#!/usr/bin/env bash
# The long invariant run (issue 9): the solvency state machine with a budget of XMARGIN_SOLVENCY_STEPS
# steps (default here 13,500 = 450 runs of up to 30 steps; hypothesis picks each run's length, ~24 on
# average, so >= 10,000 steps execute; `make test` runs a budget of 1,200), at the lowest CPU
# priority, its output in reports/long-invariants.log; the test prints how many steps really ran.
# Needs a compiled build (brownie compile) and .venv-brownie.
#   scripts/long-invariants.sh
#   XMARGIN_SOLVENCY_STEPS=30000 scripts/long-invariants.sh
# The margin contracts have no stateful/random test (tests/contracts/margin is example based), so
# only the solvency machine runs here.
set -euo pipefail
cd "$(dirname "$0")/.."
export XMARGIN_SOLVENCY_STEPS="${XMARGIN_SOLVENCY_STEPS:-13500}"
mkdir -p reports
log=reports/long-invariants.log
echo "solvency state machine, ${XMARGIN_SOLVENCY_STEPS} steps, started $(date -u +%FT%TZ)" | tee "$log"
start=$(date +%s)
status=0
nice -n 19 .venv-brownie/bin/brownie test tests/contracts/solvency/test_solvency_state_machine.py -s \
  2>&1 | tee -a "$log" || status=$?
echo "finished $(date -u +%FT%TZ) after $(( $(date +%s) - start )) s, exit status ${status}" | tee -a "$log"
exit "$status"
