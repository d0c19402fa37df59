#!/usr/bin/env bash
# Differential test: one kubectl scenario (scripts/conformance.py), and the same calls through
# kube-rs (sandbox/examples/kube_steps.rs), against the real control plane
# of ../shared/k8s-real (kube-apiserver 1.20, RBAC on) and against the sandbox, side by side;
# prints each step as same or DIFF and "N scenario steps, M identical after normalisation", with
# the diffs in $CARGO_TARGET_DIR/conformance/differences.md and the sandbox's normalised answers
# in transcript.md. Not part of the test command: run it when the sandbox or Rollgate's cluster
# code changes. Starts the real control plane if it is
# down (and stops it again), and a sandbox of its own (an empty world).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
K8S_REAL="${K8S_REAL:-/tmp/k8s-real}"
shared="$(cd .. && pwd)/shared/k8s-real"
out="$TARGET_DIR/conformance"
rm -rf "$out" && mkdir -p "$out"

started_real=""
if ! kubectl --kubeconfig "$K8S_REAL/kubeconfig" get --raw /readyz >/dev/null 2>&1; then
  "$shared/up.sh"
  started_real=1
fi
cargo build --release "$QUICK_RELEASE" -p sandbox --bin rollgate-sandbox --example kube_steps
"$TARGET_DIR/release/rollgate-sandbox" --world empty --kubeconfig "$out/sandbox.kubeconfig" >"$out/sandbox.json" 2>"$out/sandbox.log" &
sandbox_pid=$!
cleanup() {
  kill "$sandbox_pid" 2>/dev/null || true
  if [ -n "$started_real" ]; then "$shared/down.sh" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
for _ in $(seq 1 100); do
  [ -s "$out/sandbox.json" ] && break
  sleep 0.2
done
python3 scripts/conformance.py --real "$K8S_REAL/kubeconfig" --sandbox "$out/sandbox.kubeconfig" --out "$out" \
  --kube-steps "$TARGET_DIR/release/examples/kube_steps"
