//! Overview: the "My Account" area, with the masked phone and its edit icon.

use crate::api::account::get_account;
use crate::components::EditIcon;
use crate::tr;
use leptos::prelude::*;

#[component]
pub fn OverviewPage() -> impl IntoView {
    let account = Resource::new(|| (), |_| get_account());
    view! {
        <h1>{tr!("nav-overview")}</h1>
        <section class="card" aria-labelledby="my-account">
            <h2 id="my-account">{tr!("overview-my-account")}</h2>
            <Suspense fallback=|| view! { <p class="muted">{tr!("loading")}</p> }>
                {move || Suspend::new(async move {
                    match account.await {
                        Ok(a) => view! {
                            <dl class="facts">
                                <dt>{tr!("overview-account-id")}</dt>
                                <dd>{a.account_id.clone()}</dd>
                                <dt>{tr!("overview-account-name")}</dt>
                                <dd>{a.display_name.clone()}</dd>
                                <dt>{tr!("security-email")}</dt>
                                <dd>{a.masked_email.clone()}</dd>
                                <dt>{tr!("security-phone")}</dt>
                                <dd>
                                    <span class="phone">{a.masked_phone.clone().unwrap_or_else(|| tr!("security-not-bound"))}</span>
                                    <a class="icon-link" href="/security?modify=phone" aria-label=tr!("overview-edit-phone")>
                                        <EditIcon/>
                                    </a>
                                </dd>
                            </dl>
                        }
                        .into_any(),
                        Err(e) => view! { <p class="alert" role="alert">{e.localized()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}
