# Environment shared by the run and test scripts (sourced, not run).
export PATH="$PWD/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
# cargo-leptos sets this while building; leptos_config reads it at compile time, so every
# cargo command must see the same value or it rebuilds half the dependency tree.
export LEPTOS_OUTPUT_NAME=rollgate
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"
export TARGET_DIR
