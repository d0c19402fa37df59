# Pinned tool versions, shared by the setup script and the Dockerfile's build stage.
# wasm-bindgen's CLI must equal the wasm-bindgen crate version in Cargo.toml.
CARGO_LEPTOS_VERSION=0.3.10
WASM_BINDGEN_VERSION=0.2.130
