//! Security Settings: Basic Settings (phone, authenticator), appeals and the security log.

use crate::api::account::get_account;
use crate::api::account_center::{
    BeginTotp, ConfirmTotp, FileAppeal, UnbindTotp, list_appeals, security_log,
};
use crate::api::phone::get_identity_options;
use crate::components::ErrorAlert;
use crate::error::AppError;
use crate::model::{AuditView, Me};
use crate::pages::change_phone::{ChangePhoneFlow, OWNER_ONLY};
use crate::pages::identity::{IdentityStep, report_errors};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[derive(Clone, Copy, PartialEq)]
enum Panel {
    None,
    ChangePhone,
    BindTotp,
    UnbindTotp,
    Appeal,
}

#[component]
pub fn SecurityPage() -> impl IntoView {
    let me = expect_context::<Me>();
    let query = use_query_map();
    let opened_by_link = query.with_untracked(|q| q.get("modify").as_deref() == Some("phone"));
    let panel = RwSignal::new(if opened_by_link {
        Panel::ChangePhone
    } else {
        Panel::None
    });
    let account = Resource::new(|| (), |_| get_account());
    let refresh = Callback::new(move |_| account.refetch());
    let close = Callback::new(move |_| panel.set(Panel::None));
    let is_owner = me.is_owner();
    view! {
        <h1>"Security Settings"</h1>
        <section class="card" aria-labelledby="basic-settings">
            <h2 id="basic-settings">"Basic Settings"</h2>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match account.await {
                        Ok(a) => view! {
                            <div class="setting-row">
                                <span class="setting-name">"Mobile Phone Number"</span>
                                <span class="setting-value">{a.masked_phone.clone().unwrap_or_else(|| "Not bound".into())}</span>
                                <button type="button" class="link" on:click=move |_| panel.set(Panel::ChangePhone)>"Modify"</button>
                            </div>
                            <div class="setting-row">
                                <span class="setting-name">"Authenticator (TOTP)"</span>
                                <span class="setting-value">{if a.totp_bound { "Bound" } else { "Not bound" }}</span>
                                {if a.totp_bound {
                                    view! { <button type="button" class="link" on:click=move |_| panel.set(Panel::UnbindTotp)>"Unbind"</button> }.into_any()
                                } else {
                                    view! { <button type="button" class="link" on:click=move |_| panel.set(Panel::BindTotp)>"Bind"</button> }.into_any()
                                }}
                            </div>
                            <div class="setting-row">
                                <span class="setting-name">"Logon Email"</span>
                                <span class="setting-value">{a.masked_email.clone()}</span>
                                <span></span>
                            </div>
                        }
                        .into_any(),
                        Err(e) => view! { <p class="alert" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
        {move || match panel.get() {
            Panel::None => ().into_any(),
            Panel::ChangePhone => view! { <ChangePhoneFlow on_close=close on_changed=refresh/> }.into_any(),
            Panel::BindTotp => view! { <BindTotp on_close=close on_changed=refresh/> }.into_any(),
            Panel::UnbindTotp => view! { <UnbindTotpFlow on_close=close on_changed=refresh/> }.into_any(),
            Panel::Appeal => view! { <AppealForm on_close=close/> }.into_any(),
        }}
        <section class="card" aria-labelledby="faq">
            <h2 id="faq">"Can't receive the code?"</h2>
            <p>"A code can take a minute to arrive. After the countdown you can request it again. "
               "If neither your phone nor your logon email is available, file an appeal: we check your request and contact you. An appeal never changes the number by itself."</p>
            <button type="button" class="secondary" on:click=move |_| panel.set(Panel::Appeal)>"File an appeal"</button>
            {is_owner.then(|| view! { <Appeals/> })}
        </section>
        <SecurityLog/>
    }
}

#[component]
fn BindTotp(on_close: Callback<()>, on_changed: Callback<()>) -> impl IntoView {
    let me = expect_context::<Me>();
    let error = RwSignal::new(None::<AppError>);
    let begin = ServerAction::<BeginTotp>::new();
    let confirm = ServerAction::<ConfirmTotp>::new();
    let code = RwSignal::new(String::new());
    report_errors(begin.value(), error);
    report_errors(confirm.value(), error);
    Effect::new(move |_| {
        if let Some(Ok(())) = confirm.value().get() {
            on_changed.run(());
        }
    });
    if me.is_owner() {
        begin.dispatch(BeginTotp {});
    }
    view! {
        <section class="card flow" role="dialog" aria-labelledby="totp-title">
            <h2 id="totp-title">"Bind an authenticator"</h2>
            {(!me.is_owner()).then(|| view! { <p class="alert" role="alert">{OWNER_ONLY}</p> })}
            {move || match (begin.value().get(), confirm.value().get()) {
                (_, Some(Ok(()))) => view! { <p class="success" role="status">"The authenticator is bound."</p> }.into_any(),
                (Some(Ok(enrollment)), _) => view! {
                    <p>"Scan the QR code with your authenticator app, or enter the secret by hand. The secret is shown only now."</p>
                    <div class="qr" inner_html=enrollment.qr_svg.clone()></div>
                    <p>"Secret: " <code class="secret">{enrollment.secret.clone()}</code></p>
                    <p class="muted small">{enrollment.uri.clone()}</p>
                    <div class="field">
                        <label for="totp-first-code">"Verification code"</label>
                        <input id="totp-first-code" type="text" inputmode="numeric" maxlength="6"
                            prop:value=move || code.get() on:input=move |ev| code.set(event_target_value(&ev))/>
                    </div>
                    <button type="button" class="primary" on:click=move |_| {
                        confirm.dispatch(ConfirmTotp { code: code.get_untracked() });
                    }>"Confirm"</button>
                }.into_any(),
                _ => ().into_any(),
            }}
            <ErrorAlert error/>
            <button type="button" class="link close" on:click=move |_| on_close.run(())>"Close"</button>
        </section>
    }
}

#[component]
fn UnbindTotpFlow(on_close: Callback<()>, on_changed: Callback<()>) -> impl IntoView {
    let me = expect_context::<Me>();
    let error = RwSignal::new(None::<AppError>);
    let unbind = ServerAction::<UnbindTotp>::new();
    report_errors(unbind.value(), error);
    Effect::new(move |_| {
        if let Some(Ok(())) = unbind.value().get() {
            on_changed.run(());
        }
    });
    let options = Resource::new(|| (), |_| get_identity_options());
    let on_verified = Callback::new(move |_| {
        unbind.dispatch(UnbindTotp {});
    });
    view! {
        <section class="card flow" role="dialog" aria-labelledby="unbind-title">
            <h2 id="unbind-title">"Unbind the authenticator"</h2>
            {if me.is_owner() {
                view! {
                    <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                        {move || Suspend::new(async move {
                            match (options.await, unbind.value().get()) {
                                (_, Some(Ok(()))) => view! { <p class="success" role="status">"The authenticator is unbound."</p> }.into_any(),
                                (Ok(options), _) => view! { <IdentityStep options intent="unbind_totp" on_verified error/> }.into_any(),
                                (Err(e), _) => view! { <p class="alert" role="alert">{e.to_string()}</p> }.into_any(),
                            }
                        })}
                    </Suspense>
                    <ErrorAlert error/>
                }.into_any()
            } else {
                view! { <p class="alert" role="alert">{OWNER_ONLY}</p> }.into_any()
            }}
            <button type="button" class="link close" on:click=move |_| on_close.run(())>"Close"</button>
        </section>
    }
}

#[component]
fn AppealForm(on_close: Callback<()>) -> impl IntoView {
    let me = expect_context::<Me>();
    let action = ServerAction::<FileAppeal>::new();
    let error = RwSignal::new(None::<AppError>);
    report_errors(action.value(), error);
    view! {
        <section class="card flow" role="dialog" aria-labelledby="appeal-title">
            <h2 id="appeal-title">"File an appeal"</h2>
            {if !me.is_owner() {
                view! { <p class="alert" role="alert">{OWNER_ONLY}</p> }.into_any()
            } else {
                view! {
                    {move || match action.value().get() {
                        Some(Ok(reference)) => view! {
                            <p class="success" role="status">{format!("Your appeal was submitted. Reference number: {reference}")}</p>
                        }.into_any(),
                        _ => view! {
                            <ActionForm action>
                                <div class="field">
                                    <label for="appeal-phone">"Phone number to bind"</label>
                                    <input id="appeal-phone" name="new_phone" type="tel" required maxlength="20"/>
                                </div>
                                <div class="field">
                                    <label for="appeal-email">"Contact email"</label>
                                    <input id="appeal-email" name="contact_email" type="email" required maxlength="254"/>
                                </div>
                                <div class="field">
                                    <label for="appeal-reason">"Reason"</label>
                                    <textarea id="appeal-reason" name="reason" required maxlength="1000" rows="3"></textarea>
                                </div>
                                <button type="submit" class="primary">"Submit appeal"</button>
                            </ActionForm>
                        }.into_any(),
                    }}
                    <ErrorAlert error/>
                }.into_any()
            }}
            <button type="button" class="link close" on:click=move |_| on_close.run(())>"Close"</button>
        </section>
    }
}

#[component]
fn Appeals() -> impl IntoView {
    let appeals = Resource::new(|| (), |_| list_appeals());
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match appeals.await {
                    Ok(list) if !list.is_empty() => view! {
                        <h3>"Your appeals"</h3>
                        <table class="table">
                            <thead><tr><th>"Reference"</th><th>"Number"</th><th>"Status"</th><th>"Filed"</th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|a| view! {
                                    <tr><td>{a.reference}</td><td>{a.masked_phone}</td><td>{a.status}</td><td>{a.created_at}</td></tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    _ => ().into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn SecurityLog() -> impl IntoView {
    let before = RwSignal::new(None::<i64>);
    let pages = RwSignal::new(Vec::<AuditView>::new());
    let page = Resource::new(move || before.get(), security_log);
    Effect::new(move |_| {
        if let Some(Ok(rows)) = page.get() {
            pages.update(|all| {
                for row in rows {
                    if !all.iter().any(|r| r.id == row.id) {
                        all.push(row);
                    }
                }
            });
        }
    });
    let last_full = move || matches!(page.get(), Some(Ok(rows)) if rows.len() as i64 == 20);
    view! {
        <section class="card" aria-labelledby="security-log">
            <h2 id="security-log">"Security log"</h2>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let _ = page.await;
                    view! {
                        <table class="table">
                            <thead><tr><th>"Time"</th><th>"Action"</th><th>"By"</th><th>"IP"</th><th>"Result"</th><th>"Detail"</th></tr></thead>
                            <tbody>
                                <For each=move || pages.get() key=|r| r.id let:r>
                                    <tr><td>{r.at}</td><td>{r.action}</td><td>{r.principal}</td><td>{r.client_ip}</td><td>{r.outcome}</td><td>{r.detail}</td></tr>
                                </For>
                            </tbody>
                        </table>
                    }
                })}
            </Transition>
            <Show when=last_full>
                <button type="button" class="secondary" on:click=move |_| {
                    before.set(pages.with(|p| p.last().map(|r| r.id)));
                }>"Load more"</button>
            </Show>
        </section>
    }
}
