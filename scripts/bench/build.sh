#!/usr/bin/env bash
# Builds what the benchmarks run (the site, `rollgate`, `rollgate-sandbox`) with Cargo.toml's
# release profile as production builds it: the run and test commands leave a quicker build of
# the same binaries in the same folder (scripts/quick-release.toml).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/env.sh
cargo leptos build --release --precompress --split
cargo build --release -p sandbox --bin rollgate-sandbox
