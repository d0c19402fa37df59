#!/usr/bin/env bash
# A browser benchmark (end2end/benches/NAME.spec.ts) against Rollgate as production runs it:
# `rollgate-sandbox` as its own process (the cluster, reached through a kubeconfig as a real
# one is) and the release `rollgate` on it, with one environment `staging` of 11 namespaces
# (the demo's `staging` and bench-0 … bench-9). The benchmark gets the server's pid and the
# cluster's kubeconfig. The README's "Measurements" lists the latest figures.
# Usage: scripts/bench/browser.sh NAME [--no-build]
#   deployments-at-scale   2,000 deployments, 20,000 pods on the Deployments page
#   log-viewer             a pod writing 5,000 lines a second on the logs page
# BIN=folder SITE=folder run another build, for a figure before a change: BIN holds its
# rollgate, rollgate-sandbox and the hash.txt cargo-leptos writes beside them.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/env.sh
bench=${1:?usage: scripts/bench/browser.sh NAME [--no-build]}
[ -f "end2end/benches/$bench.spec.ts" ] || { echo "no benchmark end2end/benches/$bench.spec.ts" >&2; exit 2; }
[ "${2:-}" = --no-build ] || scripts/bench/build.sh
bin=${BIN:-$TARGET_DIR/release}
site=${SITE:-$PWD/target/site}
dir=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
"$bin/rollgate-sandbox" --kubeconfig "$dir/kubeconfig" >"$dir/sandbox.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$dir/kubeconfig" ] && break; sleep 0.2; done
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
namespaces='"staging"'
for n in $(seq 0 9); do namespaces="$namespaces, \"bench-$n\""; done
cat >"$dir/rollgate.toml" <<TOML
listen = "127.0.0.1:$port"
database_url = "sqlite://$dir/store.db?mode=rwc"
site_root = "$site"
[roles]
vera = "viewer"
[[environment]]
name = "staging"
namespaces = [$namespaces]
cluster = { kind = "kubeconfig", path = "$dir/kubeconfig", context = "rollgate-sandbox" }
TOML
# The demo viewer's password, so the browser tests' sign-in helper works here too.
echo vera-viewer-demo | "$bin/rollgate" --config "$dir/rollgate.toml" user add vera >/dev/null
"$bin/rollgate" --config "$dir/rollgate.toml" serve >"$dir/server.log" 2>&1 &
pids+=($!)
rollgate=$!
ready=
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && { ready=1; break; }; sleep 0.2; done
[ -n "$ready" ] || { echo "the server did not become ready:" >&2; tail -20 "$dir/server.log" >&2; exit 1; }
ROLLGATE_PID=$rollgate ROLLGATE_SANDBOX_KUBECONFIG="$dir/kubeconfig" BASE_URL="http://127.0.0.1:$port" \
  npx playwright test -c end2end/bench.config.ts "$bench"
