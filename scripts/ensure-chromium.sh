#!/usr/bin/env bash
# Headless Chromium for the browser tests: Debian's `chromium` package (Playwright drives it through
# executable_path; no browser download). Idempotent: does nothing when chromium is already installed.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# apt holds a lock; another process installing at the same time makes us wait, not fail
for attempt in 1 2 3 4 5 6; do
  if $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null; then
    break
  fi
  echo "ensure-chromium: apt busy or failed (attempt $attempt), retrying" >&2
  sleep 10
done
command -v chromium >/dev/null 2>&1 || { echo "ensure-chromium: chromium could not be installed" >&2; exit 1; }
