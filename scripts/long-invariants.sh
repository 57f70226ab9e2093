#!/usr/bin/env bash
# The long invariant runs, at the lowest CPU priority, output in reports/long-invariants.log; each
# test prints how many steps really ran. Needs a compiled build (brownie compile) and .venv-brownie.
#  1. the solvency state machine (issue 9) with a budget of XMARGIN_SOLVENCY_STEPS steps (default
#     here 13,500 = 450 runs of up to 30 steps; hypothesis picks each run's length, ~24 on average,
#     so >= 10,000 steps execute; `make test` runs a budget of 1,200);
#  2. the margin / LP vault state machine with oracle failures (issue 8), budget
#     XMARGIN_MARGIN_STEPS (default here 3,000 = 100 full runs of 30 steps on top of hypothesis's
#     ~10 short first runs; the suite runs 90).
#   scripts/long-invariants.sh
#   XMARGIN_SOLVENCY_STEPS=30000 XMARGIN_MARGIN_STEPS=6000 scripts/long-invariants.sh
#   XMARGIN_LONG_ONLY=margin scripts/long-invariants.sh     # one machine: solvency | margin
#   XMARGIN_LONG_NICE=0 scripts/long-invariants.sh          # normal CPU priority (default 19)
#   XMARGIN_MARGIN_SEED=1 ...   # the margin machine replays another fixed sequence: runs are independent
#                               # (each starts from one snapshot), so shards on several seeds add up
#                               # (docs/testing.md: 2 shards, 15,378 steps)
set -euo pipefail
cd "$(dirname "$0")/.."
export XMARGIN_SOLVENCY_STEPS="${XMARGIN_SOLVENCY_STEPS:-13500}"
export XMARGIN_MARGIN_STEPS="${XMARGIN_MARGIN_STEPS:-3000}"
only="${XMARGIN_LONG_ONLY:-}"
mkdir -p reports
log=reports/long-invariants.log
: > "$log"
status=0
run() {  # name, steps, test file
  echo "$1 state machine, $2 steps, started $(date -u +%FT%TZ)" | tee -a "$log"
  local start rc=0
  start=$(date +%s)
  nice -n "${XMARGIN_LONG_NICE:-19}" .venv-brownie/bin/brownie test "$3" -s 2>&1 | tee -a "$log" || rc=$?
  echo "$1 finished $(date -u +%FT%TZ) after $(( $(date +%s) - start )) s, exit status ${rc}" | tee -a "$log"
  [ "$rc" -eq 0 ] || status=$rc
}
if [ -z "$only" ] || [ "$only" = solvency ]; then
  run solvency "$XMARGIN_SOLVENCY_STEPS" tests/contracts/solvency/test_solvency_state_machine.py
fi
if [ -z "$only" ] || [ "$only" = margin ]; then
  run margin "$XMARGIN_MARGIN_STEPS" tests/contracts/margin/test_margin_vault_state_machine.py
fi
exit "$status"
