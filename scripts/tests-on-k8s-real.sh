#!/usr/bin/env bash
# Runs the server's cluster tests against the real control plane of ../shared/k8s-real (built
# once per machine by its prepare.sh, ~11 min) with ROLLGATE_TEST_CLUSTER=real: the Roles
# `rollgate rbac` prints, judged by Kubernetes' own RBAC authorizer (rbac::), and four-eyes,
# the live and log streams, who may see and do what, and the edge cases (four_eyes::, live::,
# logs::, access::, edges::) and the cluster token's reading and rotation (the tokens test) on
# a copy of the demo world's deployments there, with the sandbox's AWS. Staging reaches it as
# the walk-through's Lambda would: the API server's URL, its CA, and a ServiceAccount token
# kept in (the sandbox's) SSM, bound by the printed Roles alone. The tests a control plane without a kubelet cannot run say so and
# skip. One test at a time: they share the real cluster's namespaces. Not part of the test
# command; run it when Rollgate's cluster code or its Roles change.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
real=../shared/k8s-real
[ -x "$real/up.sh" ] || { echo "no $real here: see its README" >&2; exit 1; }
"$real/prepare.sh"
"$real/up.sh"
ROLLGATE_TEST_CLUSTER=real cargo test --release "$QUICK_RELEASE" -p server --test server -- \
  rbac:: four_eyes:: live:: logs:: access:: edges:: --test-threads=1 --nocapture
ROLLGATE_TEST_CLUSTER=real cargo test --release "$QUICK_RELEASE" -p server --test tokens -- \
  --test-threads=1 --nocapture
