#!/usr/bin/env bash
# Refresh the screenshots of the web app that README.md shows, from the browser tests' latest run
# (tests/e2e/test_7_web*.py write every page to reports/browser/). Run those tests first, then this.
set -euo pipefail
cd "$(dirname "$0")/.."
SHOTS=(
  "pending-order.png:docs/web-account.png"   # test_7_web.py: bob's account page, an order waiting for its price
  "retry-refused.png:docs/web-parked.png"    # test_7_web_parked.py: a parked withdrawal, its retry refused with why
)
for pair in "${SHOTS[@]}"; do
  from="reports/browser/${pair%%:*}"
  to="${pair#*:}"
  if [ ! -f "$from" ]; then
    echo "docs-screenshots: $from is missing: run tests/e2e/test_7_web*.py first" >&2
    exit 1
  fi
  cp "$from" "$to"
  echo "docs-screenshots: $from -> $to"
done
