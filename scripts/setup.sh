#!/usr/bin/env bash
# Installs whatever Rollgate's build and tests need and is missing; fast when all is there.
# Registry packages only: Debian's chromium, curl, kubectl (kubernetes-client), promtool (prometheus) and
# PostgreSQL (for the store tests, started in a cluster of its own, see below), crates.io's cargo-leptos (no_downloads) and
# wasm-bindgen-cli, npm's sass, binaryen (wasm-opt), oidc-provider (the certified OpenID
# Provider the single-sign-on tests run with Node) and Playwright (which never fetches a
# browser here: it drives /usr/bin/chromium), PyPI's awscli and moto[server] (the AWS tests).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/versions.sh
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

say() { printf '\033[1m== %s\033[0m\n' "$*"; }

apt_missing=()
command -v chromium >/dev/null || apt_missing+=(chromium)
command -v curl >/dev/null || apt_missing+=(curl)
command -v kubectl >/dev/null || apt_missing+=(kubernetes-client)
# promtool checks the metrics Rollgate serves and the alert rules it ships.
command -v promtool >/dev/null || apt_missing+=(prometheus)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || apt_missing+=(postgresql)
if ((${#apt_missing[@]})); then
  say "installing Debian packages: ${apt_missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >/dev/null
fi

# The AWS CLI and moto's server, which the sandbox's AWS tests run. Debian's own Python is
# "externally managed", so pip is told it may install next to it (into /usr/local).
py_missing=()
command -v aws >/dev/null || py_missing+=(awscli)
# moto 5.2.5 or later: 5.2.1 answers StartPipelineExecution with HTTP 500.
moto_version=$(python3 -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null || true)
if ! command -v moto_server >/dev/null || [[ "$(printf '%s\n' 5.2.5 "$moto_version" | sort -V | head -1)" != 5.2.5 ]]; then
  py_missing+=('moto[server]>=5.2.5')
fi
if ((${#py_missing[@]})); then
  say "installing from PyPI: ${py_missing[*]}"
  if ! command -v pip3 >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-pip >/dev/null
  fi
  pip3 install --quiet "${py_missing[@]}" 2>/dev/null || pip3 install --quiet --break-system-packages "${py_missing[@]}"
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if ! rustfmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  say "adding rustfmt and clippy"
  rustup component add rustfmt clippy
fi

if ! cargo leptos --version 2>/dev/null | grep -q " ${CARGO_LEPTOS_VERSION}\$"; then
  say "installing cargo-leptos ${CARGO_LEPTOS_VERSION} (no_downloads)"
  cargo install cargo-leptos --version "${CARGO_LEPTOS_VERSION}" --locked --features no_downloads
fi

if ! wasm-bindgen --version 2>/dev/null | grep -q " ${WASM_BINDGEN_VERSION}\$"; then
  say "installing wasm-bindgen-cli ${WASM_BINDGEN_VERSION}"
  # Not --locked: its lock file names a webpki-roots release the registry no longer serves.
  cargo install wasm-bindgen-cli --version "${WASM_BINDGEN_VERSION}"
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages (sass, binaryen, oidc-provider, Playwright)"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
fi

# The store tests run against PostgreSQL as well as SQLite: a throwaway cluster of Rollgate's
# own (not the system one), owned by the postgres user, on 127.0.0.1:55432 with trust
# authentication and fsync off. It is for tests only and holds nothing worth keeping.
PG_PORT="${ROLLGATE_TEST_POSTGRES_PORT:-55432}"
PG_DATA="${ROLLGATE_TEST_POSTGRES_DATA:-/var/tmp/rollgate-postgres}"
pg_bin="$(dirname "$(compgen -G '/usr/lib/postgresql/*/bin/initdb' | sort -V | tail -1)")"
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if ! "$pg_bin/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then
  say "starting the PostgreSQL test cluster on 127.0.0.1:$PG_PORT ($PG_DATA)"
  if [ ! -s "$PG_DATA/PG_VERSION" ]; then
    if [ "$(id -u)" = 0 ]; then install -d -m 700 -o postgres -g postgres "$PG_DATA"; else install -d -m 700 "$PG_DATA"; fi
    as_postgres "$pg_bin/initdb" -D "$PG_DATA" -A trust -U postgres >/dev/null
  fi
  as_postgres "$pg_bin/pg_ctl" -D "$PG_DATA" -l "$PG_DATA/server.log" -w start \
    -o "-p $PG_PORT -k $PG_DATA -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" >/dev/null
fi
