#!/usr/bin/env bash
# Event-to-screen latency benchmark: starts the release build on the sandbox and runs
# end2end/benches/event-to-screen.spec.ts in Chromium, after building it as production does.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/env.sh
scripts/bench/build.sh
dir=$(mktemp -d)
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
ROLLGATE_DATABASE_URL="sqlite://$dir/store.db?mode=rwc" ROLLGATE_LISTEN="127.0.0.1:$port" \
  ROLLGATE_SITE_ROOT="$PWD/target/site" "$TARGET_DIR/release/rollgate" >"$dir/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
ready=
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && { ready=1; break; }; sleep 0.2; done
[ -n "$ready" ] || { echo "the server did not become ready:" >&2; tail -20 "$dir/server.log" >&2; exit 1; }
BASE_URL="http://127.0.0.1:$port" npx playwright test -c end2end/bench.config.ts event-to-screen
