//! The browser entry point: hydrates the islands (the interactive parts) of the page the
//! server rendered; the rest of the page stays plain HTML. The page marks itself hydrated
//! once the last island is (`app`'s `HydratedMark`).

// The islands are exported from the app crate; naming it links them into the wasm.
use app as _;

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
}
