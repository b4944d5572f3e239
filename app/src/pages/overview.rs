//! Overview: the "My Account" area, with the masked phone and its edit icon.

use crate::api::account::get_account;
use crate::components::EditIcon;
use leptos::prelude::*;

#[component]
pub fn OverviewPage() -> impl IntoView {
    let account = Resource::new(|| (), |_| get_account());
    view! {
        <h1>"Overview"</h1>
        <section class="card" aria-labelledby="my-account">
            <h2 id="my-account">"My Account"</h2>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match account.await {
                        Ok(a) => view! {
                            <dl class="facts">
                                <dt>"Account ID"</dt>
                                <dd>{a.account_id.clone()}</dd>
                                <dt>"Account Name"</dt>
                                <dd>{a.display_name.clone()}</dd>
                                <dt>"Logon Email"</dt>
                                <dd>{a.masked_email.clone()}</dd>
                                <dt>"Mobile Phone Number"</dt>
                                <dd>
                                    <span class="phone">{a.masked_phone.clone().unwrap_or_else(|| "Not bound".into())}</span>
                                    <a class="icon-link" href="/security?modify=phone" aria-label="Edit Mobile Phone Number">
                                        <EditIcon/>
                                    </a>
                                </dd>
                            </dl>
                        }
                        .into_any(),
                        Err(e) => view! { <p class="alert" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}
