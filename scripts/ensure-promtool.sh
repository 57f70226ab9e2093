#!/usr/bin/env bash
# Print the path of a promtool (Prometheus's rule checker): the one on PATH, else .tools/promtool,
# else fetched from Debian's `prometheus` package and unpacked into .tools/ (no service installed
# or started: only the static promtool binary is kept).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if command -v promtool >/dev/null; then command -v promtool; exit 0; fi
if [ -x "$root/.tools/promtool" ]; then echo "$root/.tools/promtool"; exit 0; fi
if ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then
  echo "promtool not found and this is not a Debian system: install Prometheus's promtool" >&2
  exit 1
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "promtool not found: fetching Debian's prometheus package for it" >&2
(cd "$work" && apt-get download -q prometheus >/dev/null 2>&1) \
  || { apt-get update -qq >/dev/null && (cd "$work" && apt-get download -q prometheus >/dev/null 2>&1); }
dpkg-deb -x "$work"/prometheus_*.deb "$work/pkg"
mkdir -p "$root/.tools"
install -m 0755 "$work/pkg/usr/bin/promtool" "$root/.tools/promtool"
echo "$root/.tools/promtool"
