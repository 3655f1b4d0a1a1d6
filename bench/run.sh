#!/usr/bin/env bash
# One command for every benchmark:  bench/run.sh [--quick] [--profile] [--only fanout,...]
# Prepares what the runner needs (C++ tools, bench Python extras, the node-ws peer's packages),
# raises the open-files limit, then runs bench/run.py with the project's venv.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
if [ ! -x "$PY" ]; then
  echo "bench: $PY is missing; run 'make install' first" >&2
  exit 1
fi

# 10,000 WebSocket connections on each side: as many open files as we may have.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# C++ load generator and floor server (cmake, no network); incremental when already built.
if [ ! -f bench/build/CMakeCache.txt ]; then
  cmake -S bench -B bench/build -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build bench/build -j2 >/dev/null

# Python extras for the peers and profiles (asyncpg, py-spy).
if ! "$PY" -c 'import asyncpg' 2>/dev/null; then
  "$PY" -m pip install -q -r bench/requirements.txt
fi

# node-ws peer: its own lockfile.
if [ ! -f bench/peers/node-ws/node_modules/ws/package.json ]; then
  (cd bench/peers/node-ws && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

exec "$PY" bench/run.py "$@"
