//! The browser entry point: hydrates the page the server rendered.

use leptos::prelude::document;

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
    // Marks the document as interactive, so a browser test (or a curious person) can tell a
    // hydrated page from one that is still server HTML.
    if let Some(root) = document().document_element() {
        let _ = root.set_attribute("data-hydrated", "true");
    }
}
