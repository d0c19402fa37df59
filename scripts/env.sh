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
# The run and test commands build Cargo.toml's release profile at optimisation level 1 and
# incremental (cargo compiles only the workspace's own crates incrementally): the demo and the
# tests need a quick server, not the quickest. The test binaries build in less than half the
# time, and after a change only what it reaches is compiled again (README, Measurements). Production (the Dockerfile) and the benchmarks
# (scripts/bench/build.sh) build the profile as written. The wasm's own profile sets both.
quick_release() { CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_INCREMENTAL=true "$@"; }
