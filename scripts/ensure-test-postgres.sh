#!/usr/bin/env bash
# The tests need a PostgreSQL at 127.0.0.1:5432 that trusts user postgres. If nothing answers
# there, start one of our own (as an unprivileged user when we are root) and leave it running.
set -euo pipefail
cd "$(dirname "$0")/.."
if pg_isready -q -h 127.0.0.1 -p 5432; then
  exit 0
fi
data_dir=${EXPSTREAM_TEST_PG_DIR:-/tmp/expstream-test-postgres}
mkdir -p "$data_dir" && chmod 755 "$data_dir"
echo "ensure-test-postgres: nothing on 5432; starting one in $data_dir"
.venv/bin/python -m expstream.embedded_db start --data-dir "$data_dir" --port 5432
