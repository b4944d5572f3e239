//! What an unknown address shows.

use crate::tr;
use leptos::prelude::*;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <main class="centered">
            <h1>{tr!("not-found")}</h1>
            <p><a href="/overview">{tr!("not-found-back")}</a></p>
        </main>
    }
}
