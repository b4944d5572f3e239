//! The hydrate entry point: the browser half of the app, nothing else.
//!
//! The console renders its pages on the server and hydrates only its islands (the forms, dialogs
//! and tables a user acts on), so the browser downloads the code of those alone.

// The islands' hydrate functions live in the app crate; linking it keeps their exports.
pub use app;

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
}
