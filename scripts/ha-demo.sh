#!/usr/bin/env bash
# Two Rollgate replicas on one PostgreSQL and one sandbox, behind a small round-robin proxy that
# polls /readyz as a load balancer does, and the checks Rollgate promises of them
# (server/tests/it/replicas.rs, which this runs with its steps printed):
#   - a session made through one replica works on both; signing out on one ends it on both;
#   - approvals clicked at once on both replicas run a change exactly once;
#   - a deployments stream open on replica A shows a change made through replica B;
#   - approved changes a stopped replica left behind are run once by the sweepers of both;
#   - a replica killed (SIGKILL) while carrying out a change: the other marks it interrupted,
#     in words and in the audit trail, and runs nothing twice;
#   - a rolling restart (SIGTERM, one replica at a time) under load drops no request and leaves
#     no change half-done.
# With --stay, everything stays up after the checks for a browser, until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
. scripts/env.sh
if [ "${1:-}" = "--stay" ]; then export ROLLGATE_HA_DEMO_STAY=1; fi
exec cargo test --release "$QUICK_RELEASE" -p server --test server -- \
  --exact replicas::two_replicas_on_one_postgres --nocapture
