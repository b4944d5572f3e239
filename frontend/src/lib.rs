//! The hydrate entry point: the browser half of the app, nothing else.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // The async hydration waits for a lazy route's WASM chunk before hydrating its view.
    leptos::mount::hydrate_lazy(app::App);
}
