# Environment shared by the run and test scripts (sourced, not run).
export PATH="$PWD/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
# cargo-leptos sets this while building; leptos_config reads it at compile time, so every
# cargo command must see the same value or it rebuilds half the dependency tree.
export LEPTOS_OUTPUT_NAME=rollgate
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# One target folder for the run command, the test command, CI and anyone's cargo commands
# after sourcing this: outside the clone, so a session's own builds warm CI's (and a fresh
# clone starts warm). Set CARGO_TARGET_DIR to use another.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/rollgate-target}"
export TARGET_DIR="$CARGO_TARGET_DIR"
# The run and test commands build a quick release (scripts/quick-release.toml says how and
# why): pass this to cargo, and to cargo-leptos as --bin-cargo-args. The wasm's own profile
# sets the values that file changes, so the quick and the production builds share one wasm.
export QUICK_RELEASE="--config=$PWD/scripts/quick-release.toml"
