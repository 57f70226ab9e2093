#!/usr/bin/env bash
# Make sure a Redis answers at 127.0.0.1:6379: use the running one, else start one (installing
# Debian's redis-server if it is missing). Nothing is persisted: Redis is never the source of truth.
set -euo pipefail
if command -v redis-cli >/dev/null && redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; then
  exit 0
fi
if ! command -v redis-server >/dev/null; then
  echo "redis-server not found: installing Debian's redis-server" >&2
  apt-get update -qq && apt-get install -y -qq redis-server >/dev/null
fi
redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
  --dir /tmp --logfile /tmp/xmargin-redis.log
for _ in $(seq 1 50); do
  redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG && exit 0
  sleep 0.1
done
echo "Redis did not start at 127.0.0.1:6379 (see /tmp/xmargin-redis.log)" >&2
exit 1
