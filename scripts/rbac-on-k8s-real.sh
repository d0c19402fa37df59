#!/usr/bin/env bash
# Proves the Roles `rollgate rbac` prints against Kubernetes' own RBAC authorizer: starts the
# real control plane of ../shared/k8s-real (built once per machine by its prepare.sh, ~11 min)
# and runs the server's RBAC tests with ROLLGATE_TEST_CLUSTER=real. Not part of the test
# command; run it when Rollgate's cluster code or its Roles change.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
real=../shared/k8s-real
[ -x "$real/up.sh" ] || { echo "no $real here: see its README" >&2; exit 1; }
"$real/prepare.sh"
"$real/up.sh"
ROLLGATE_TEST_CLUSTER=real cargo test --release "$QUICK_RELEASE" -p server --test server -- rbac:: --nocapture
