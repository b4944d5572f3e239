//! Security Settings: Basic Settings with the Mobile Phone Number row and its Modify button.

use crate::api::account::get_account;
use leptos::prelude::*;

#[component]
pub fn SecurityPage() -> impl IntoView {
    let account = Resource::new(|| (), |_| get_account());
    view! {
        <h1>"Security Settings"</h1>
        <section class="card" aria-labelledby="basic-settings">
            <h2 id="basic-settings">"Basic Settings"</h2>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match account.await {
                        Ok(a) => view! {
                            <div class="setting-row">
                                <span class="setting-name">"Mobile Phone Number"</span>
                                <span class="setting-value">{a.masked_phone.clone().unwrap_or_else(|| "Not bound".into())}</span>
                                <button type="button" class="link">"Modify"</button>
                            </div>
                        }
                        .into_any(),
                        Err(e) => view! { <p class="alert" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}
