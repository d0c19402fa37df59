//! The page's "interactive" mark: `data-hydrated="true"` on `<html>` once every island is
//! hydrated, so a browser test (or a curious person) can tell a hydrated page from one that is
//! still server HTML. Islands hydrate one after another in document order, the lazy ones once
//! their own code has arrived; this one is the last in the body, so it comes after them all.

use leptos::prelude::*;

#[island]
pub fn HydratedMark() -> impl IntoView {
    #[cfg(feature = "hydrate")]
    if let Some(root) = document().document_element() {
        let _ = root.set_attribute("data-hydrated", "true");
    }
}
