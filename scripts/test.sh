#!/usr/bin/env bash
# Installs what is missing, then runs every test: formatting, lints, the wasm dependency guard, the Rust unit and
# integration tests, and the browser tests in Debian's Chromium against a release build
# running on the embedded sandbox. Ends with one line: "N passed, M failed".
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
scripts/setup.sh
. scripts/env.sh

say() { printf '\033[1m== %s\033[0m\n' "$*"; }
logs="$TARGET_DIR/test-logs"
mkdir -p "$logs"
passed=0
failed=0

say "building the release site (cargo leptos build --release --precompress --split)"
# --timings: $TARGET_DIR/cargo-timings/ shows where the server build's time went.
cargo leptos build --release --precompress --split --bin-cargo-args="$QUICK_RELEASE" --bin-cargo-args=--timings

say "formatting (cargo fmt --check)"
if cargo fmt --all --check; then passed=$((passed + 1)); else failed=$((failed + 1)); fi

say "lints (cargo clippy -D warnings)"
# In the quick release's profile and folder: the build scripts (SQLite's C) and proc-macros the
# site build just compiled are reused; a profile of its own would compile them again.
if cargo clippy --release "$QUICK_RELEASE" --workspace --exclude frontend --all-targets --quiet -- -D warnings; then passed=$((passed + 1)); else failed=$((failed + 1)); fi

say "wasm guard: the browser build must not depend on server-only crates"
if scripts/check-wasm-deps.sh; then passed=$((passed + 1)); else failed=$((failed + 1)); fi

say "Rust unit and integration tests (store tests on SQLite and on the PostgreSQL test cluster)"
export ROLLGATE_TEST_POSTGRES_URL="${ROLLGATE_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:55432/postgres}"
# setup.sh installed Node's certified OpenID provider: its tests must run, not skip.
export ROLLGATE_TESTS_NEED_NODE=1
# And promtool (Debian's prometheus package), which checks the metrics and the alert rules.
export ROLLGATE_TESTS_NEED_PROMTOOL=1
# Each store test makes its own database; the previous run's are dropped here.
psql "$ROLLGATE_TEST_POSTGRES_URL" -Atqc "SELECT datname FROM pg_database WHERE datname LIKE 'rg\_test\_%'" |
  while read -r db; do psql "$ROLLGATE_TEST_POSTGRES_URL" -qc "DROP DATABASE \"$db\"" >/dev/null; done
set +e
cargo test --release "$QUICK_RELEASE" --timings --workspace --exclude frontend --no-fail-fast 2>&1 | tee "$logs/cargo-test.log"
cargo_status=${PIPESTATUS[0]}
set -e
read -r p f < <(awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1) } } END { print p+0, f+0 }' "$logs/cargo-test.log")
passed=$((passed + p))
failed=$((failed + f))
if [ "$cargo_status" -ne 0 ] && [ "$f" -eq 0 ]; then failed=$((failed + 1)); fi

say "browser tests (Playwright driving /usr/bin/chromium)"
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
# A fresh store per run: the browser tests lock environments and leave change requests behind.
rm -f "$logs"/e2e-store.db*
# The site as this run built it, in a copy: a run command started meanwhile rebuilds target/site.
rm -rf "$logs/site" && cp -r target/site "$logs/site"
ROLLGATE_DATABASE_URL="sqlite://$logs/e2e-store.db?mode=rwc" \
  ROLLGATE_LISTEN="127.0.0.1:$port" ROLLGATE_SITE_ROOT="$logs/site" \
  "$TARGET_DIR/release/rollgate" >"$logs/e2e-server.log" 2>&1 &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
# The embedded sandbox's CloudWatch, where release-inputs.spec.ts fires production's alarm.
cloudwatch=$(grep -o '"cloudwatch":"[^"]*"' "$logs/e2e-server.log" | head -1 | cut -d'"' -f4 || true)
set +e
# freezes.spec.ts starts a second Rollgate of its own (a configuration with a freeze).
BASE_URL="http://127.0.0.1:$port" ROLLGATE_BIN="$TARGET_DIR/release/rollgate" ROLLGATE_E2E_SITE="$logs/site" \
  ROLLGATE_E2E_CLOUDWATCH="http://$cloudwatch" \
  npx playwright test -c end2end/playwright.config.ts 2>&1 | tee "$logs/playwright.log"
pw_status=${PIPESTATUS[0]}
set -e
kill "$server_pid" 2>/dev/null || true
wait "$server_pid" 2>/dev/null || true
p=$(grep -oE '^ +[0-9]+ passed' "$logs/playwright.log" | grep -oE '[0-9]+' | tail -1 || true)
f=$(grep -oE '^ +[0-9]+ failed' "$logs/playwright.log" | grep -oE '[0-9]+' | tail -1 || true)
passed=$((passed + ${p:-0}))
failed=$((failed + ${f:-0}))
if [ "$pw_status" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then
  failed=$((failed + 1))
  echo "--- last lines of the server log ---"
  tail -n 40 "$logs/e2e-server.log"
fi

say "finished in $(( $(date +%s) - started )) s"
echo "rollgate: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
