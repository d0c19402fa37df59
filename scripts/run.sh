#!/usr/bin/env bash
# Installs what is missing, builds the release site (quickly: scripts/quick-release.toml)
# and starts Rollgate on the embedded sandbox at http://127.0.0.1:3000 (pass --config FILE, or
# other rollgate flags, to change that).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
. scripts/env.sh
cargo leptos build --release --precompress --bin-cargo-args="$QUICK_RELEASE"
export ROLLGATE_SITE_ROOT="$PWD/target/site"
exec "$TARGET_DIR/release/rollgate" "$@"
