#!/usr/bin/env bash
# Installs what is missing, builds the release site (quickly: scripts/quick-release.toml)
# and starts Rollgate on the embedded sandbox at http://127.0.0.1:3000 (pass --config FILE, or
# other rollgate flags, to change that).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
. scripts/env.sh
cargo leptos build --release --precompress --split --bin-cargo-args="$QUICK_RELEASE"
# Served from a copy of its own: the test command rebuilds target/site (and the binary) under
# a running portal, whose pages would then miss their scripts and stylesheet.
serve="$TARGET_DIR/run"
rm -rf "$serve.new" && mkdir -p "$serve.new"
# hash.txt names the hashed files; the server reads it from next to its binary.
cp -r target/site "$serve.new/site" && cp "$TARGET_DIR/release/rollgate" "$TARGET_DIR/release/hash.txt" "$serve.new/"
rm -rf "$serve" && mv "$serve.new" "$serve"
export ROLLGATE_SITE_ROOT="$serve/site"
exec "$serve/rollgate" "$@"
