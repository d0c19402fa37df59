//! The browser entry point: hydrates the islands (the interactive parts) of the page the
//! server rendered; the rest of the page stays plain HTML.

use leptos::prelude::document;
// The islands are exported from the app crate; naming it links them into the wasm.
use app as _;

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
    // Marks the document as interactive, so a browser test (or a curious person) can tell a
    // hydrated page from one that is still server HTML.
    if let Some(root) = document().document_element() {
        let _ = root.set_attribute("data-hydrated", "true");
    }
}
