# syntax=docker/dockerfile:1
# Rollgate's container image. Build from the repository root:
#   docker build -t rollgate .
# Run on the embedded sandbox:    docker run -p 3000:3000 rollgate
# Run with a configuration file:  docker run -p 3000:3000 -v $PWD/rollgate.toml:/etc/rollgate.toml \
#                                   -e ROLLGATE_CONFIG=/etc/rollgate.toml rollgate
# The build uses the same pinned, registry-only tools as scripts/setup.sh.

FROM rust:1.95-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY scripts/versions.sh scripts/versions.sh
RUN . scripts/versions.sh \
 && rustup target add wasm32-unknown-unknown \
 && cargo install cargo-leptos --version "${CARGO_LEPTOS_VERSION}" --locked --features no_downloads \
 && cargo install wasm-bindgen-cli --version "${WASM_BINDGEN_VERSION}"
COPY package.json package-lock.json ./
RUN PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
COPY . .
ENV PATH=/src/node_modules/.bin:$PATH \
    LEPTOS_OUTPUT_NAME=rollgate
RUN cargo leptos build --release --precompress --split \
 && mkdir -p /out \
 && cp target/release/rollgate target/release/hash.txt /out/ \
 && cp -r target/site /out/site

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --create-home rollgate
# The binary, the hash file cargo-leptos wrote next to it, and the site it serves: nothing else.
COPY --from=build /out/ /app/
USER 10001
WORKDIR /data
ENV ROLLGATE_LISTEN=0.0.0.0:3000 \
    ROLLGATE_DATABASE_URL=sqlite:///data/rollgate.db?mode=rwc
# 9464: /metrics, when rollgate.toml's [metrics] listen names it (deploy/kubernetes does).
EXPOSE 3000 9464
VOLUME /data
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 CMD ["/app/rollgate", "healthcheck"]
ENTRYPOINT ["/app/rollgate"]
