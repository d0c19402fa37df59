#!/usr/bin/env bash
# The browser's wasm must never compile server-only crates: the Kubernetes and AWS clients,
# the database, HTTP servers or Tokio's runtime. Fails naming any that crept in.
set -euo pipefail
cd "$(dirname "$0")/.."
tree=$(cargo tree -p frontend --target wasm32-unknown-unknown -e normal --prefix none)
forbidden=$(printf '%s\n' "$tree" | grep -oE '^(kube|kube-[a-z-]+|k8s-openapi|aws-[a-z-]+|sqlx[a-z-]*|hyper|hyper-util|axum|tower-http|tokio|mio|leptos_axum|backend|sandbox) ' | sort -u | tr '\n' ' ' || true)
if [ -n "$forbidden" ]; then
  echo "wasm guard: FAILED: the frontend's wasm build depends on: $forbidden"
  exit 1
fi
echo "wasm guard: ok ($(printf '%s\n' "$tree" | sort -u | wc -l) crates, none server-only)"
