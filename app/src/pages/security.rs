//! Security Settings: Basic Settings (phone, authenticator), appeals and the security log.

use crate::api::account::get_account;
use crate::api::account_center::{
    BeginTotp, ConfirmTotp, FileAppeal, SetLogonProtection, UnbindTotp, list_appeals, security_log,
    send_appeal_code,
};
use crate::api::phone::get_identity_options;
use crate::components::{CodeEntry, ErrorAlert, LocalTime, load};
use crate::error::AppError;
use crate::model::{
    AccountSummary, AppealView, IdentityOptions, LogonProtection, Me, SECURITY_LOG_PAGE,
};
use crate::pages::change_phone::ChangePhoneFlow;
use crate::pages::identity::{IdentityStep, on_success, report_errors};
use crate::tr;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[derive(Clone, Copy, PartialEq)]
enum Panel {
    None,
    ChangePhone,
    BindTotp,
    UnbindTotp,
    LogonProtection,
    Appeal,
}

/// The page, rendered on the server: the settings island (with the owner's appeals inside it as
/// static HTML) and the security log.
#[component]
pub fn SecurityPage() -> impl IntoView {
    let me = expect_context::<Me>();
    let query = use_query_map();
    let opened_by_link = query.with_untracked(|q| q.get("modify").as_deref() == Some("phone"));
    let is_owner = me.is_owner();
    let account = Resource::new(|| (), |_| get_account());
    let appeals = Resource::new(
        || (),
        move |_| async move {
            if is_owner {
                list_appeals().await
            } else {
                Ok(Vec::new())
            }
        },
    );
    // Opened by the Overview's edit link: the flow is rendered open, with its first step.
    let identity = Resource::new(
        || (),
        move |_| async move {
            if opened_by_link && is_owner {
                get_identity_options().await.ok()
            } else {
                None
            }
        },
    );
    view! {
        <h1>{tr!("nav-security")}</h1>
        <Suspense fallback=|| view! { <p class="muted">{tr!("loading")}</p> }>
            {move || {
                let me = me.clone();
                Suspend::new(async move {
                    match (account.await, appeals.await, identity.await) {
                        (Ok(account), appeals, identity) => view! {
                            <SecuritySettings me account opened_by_link identity>
                                <Appeals list=appeals.unwrap_or_default()/>
                            </SecuritySettings>
                        }
                        .into_any(),
                        (Err(e), _, _) => view! { <p class="alert" role="alert">{e.localized()}</p> }.into_any(),
                    }
                })
            }}
        </Suspense>
        // The log is the owner's: other principals of the account are refused it by the server too.
        {is_owner.then(|| view! { <SecurityLog/> })}
    }
}

/// Basic Settings with its Modify / Bind / Unbind buttons, the FAQ's appeal button, and the one
/// panel they open. `children` is the list of appeals, rendered by the server.
#[island(lazy)]
fn SecuritySettings(
    me: Me,
    account: AccountSummary,
    opened_by_link: bool,
    identity: Option<IdentityOptions>,
    children: Children,
) -> impl IntoView {
    crate::components::mark_hydrated();
    provide_context(me);
    // The server's identity options serve the flow it rendered open, once.
    let identity = StoredValue::new(identity);
    let panel = RwSignal::new(if opened_by_link {
        Panel::ChangePhone
    } else {
        Panel::None
    });
    let account = RwSignal::new(account);
    let refresh = Callback::new(move |_| {
        leptos::task::spawn_local(async move {
            if let Ok(fresh) = get_account().await {
                account.set(fresh);
            }
        });
    });
    let close = Callback::new(move |_| panel.set(Panel::None));
    view! {
        <section class="card" aria-labelledby="basic-settings">
            <h2 id="basic-settings">{tr!("security-basic")}</h2>
            <div class="setting-row">
                <span class="setting-name">{tr!("security-phone")}</span>
                <span class="setting-value">{move || account.with(|a| a.masked_phone.clone()).unwrap_or_else(|| tr!("security-not-bound"))}</span>
                <button type="button" class="link" on:click=move |_| panel.set(Panel::ChangePhone)>{tr!("action-modify")}</button>
            </div>
            <div class="setting-row">
                <span class="setting-name">{tr!("security-totp")}</span>
                <span class="setting-value">{move || if account.with(|a| a.totp_bound) { tr!("security-bound") } else { tr!("security-not-bound") }}</span>
                <button type="button" class="link" on:click=move |_| {
                    panel.set(if account.with_untracked(|a| a.totp_bound) { Panel::UnbindTotp } else { Panel::BindTotp })
                }>{move || if account.with(|a| a.totp_bound) { tr!("action-unbind") } else { tr!("action-bind") }}</button>
            </div>
            <div class="setting-row">
                <span class="setting-name">{tr!("security-logon")}</span>
                <span class="setting-value">{move || account.with(|a| a.logon_protection.localized())}</span>
                <button type="button" class="link" on:click=move |_| panel.set(Panel::LogonProtection)>{tr!("action-change")}</button>
            </div>
            <div class="setting-row">
                <span class="setting-name">{tr!("security-email")}</span>
                <span class="setting-value">{account.with_untracked(|a| a.masked_email.clone())}</span>
                <span></span>
            </div>
        </section>
        {move || match panel.get() {
            Panel::None => ().into_any(),
            Panel::ChangePhone => {
                let options = identity.try_update_value(Option::take).flatten();
                view! { <ChangePhoneFlow on_close=close on_changed=refresh options/> }.into_any()
            }
            Panel::BindTotp => view! { <BindTotp on_close=close on_changed=refresh/> }.into_any(),
            Panel::UnbindTotp => view! { <UnbindTotpFlow on_close=close on_changed=refresh/> }.into_any(),
            Panel::LogonProtection => {
                let current = account.with_untracked(|a| a.logon_protection);
                view! { <LogonProtectionFlow current on_close=close on_changed=refresh/> }.into_any()
            }
            Panel::Appeal => view! { <AppealForm on_close=close/> }.into_any(),
        }}
        <section class="card" aria-labelledby="faq">
            <h2 id="faq">{tr!("faq-title")}</h2>
            <p>{tr!("faq-text")}</p>
            <button type="button" class="secondary" on:click=move |_| panel.set(Panel::Appeal)>{tr!("appeal-file")}</button>
            {children()}
        </section>
    }
}

/// Binding an authenticator: first the identity step (phone or logon email only, never the
/// password alone), then the secret, shown once, and its first code.
#[component]
fn BindTotp(on_close: Callback<()>, on_changed: Callback<()>) -> impl IntoView {
    let focus = crate::components::dialog_focus();
    let me = expect_context::<Me>();
    let error = RwSignal::new(None::<AppError>);
    let begin = ServerAction::<BeginTotp>::new();
    let confirm = ServerAction::<ConfirmTotp>::new();
    let code = RwSignal::new(String::new());
    report_errors(begin.value(), error);
    report_errors(confirm.value(), error);
    on_success(confirm.value(), on_changed);
    let options = load(|| (), None, |_| get_identity_options());
    let on_verified = Callback::new(move |_| {
        begin.dispatch(BeginTotp {});
    });
    view! {
        <section class="card flow" role="dialog" tabindex="-1" node_ref=focus aria-labelledby="totp-title">
            <h2 id="totp-title">{tr!("totp-bind-title")}</h2>
            {(!me.is_owner()).then(|| view! { <p class="alert" role="alert">{AppError::OwnerOnly.localized()}</p> })}
            {me.is_owner().then(|| view! {
                {move || match (options.get(), begin.value().get(), confirm.value().get()) {
                    (_, _, Some(Ok(()))) => view! {
                        <p class="success" role="status">{tr!("totp-bound")}</p>
                        <p>{tr!("change-done-signed-out")}</p>
                    }.into_any(),
                    (_, Some(Ok(enrollment)), _) => view! {
                        <p>{tr!("totp-scan")}</p>
                        <div class="qr" inner_html=enrollment.qr_svg.clone()></div>
                        <p>{tr!("totp-secret")} " " <code class="secret">{enrollment.secret.clone()}</code></p>
                        <p class="muted small">{enrollment.uri.clone()}</p>
                        <div class="field">
                            <label for="totp-first-code">{tr!("code-label")}</label>
                            <input id="totp-first-code" type="text" inputmode="numeric" autocomplete="one-time-code" maxlength="12"
                                prop:value=move || code.get() on:input=move |ev| code.set(event_target_value(&ev))/>
                        </div>
                        <button type="button" class="primary" on:click=move |_| {
                            confirm.dispatch(ConfirmTotp { code: code.get_untracked() });
                        }>{tr!("action-confirm")}</button>
                    }.into_any(),
                    (None, _, _) => view! { <p class="muted">{tr!("loading")}</p> }.into_any(),
                    // The authenticator cannot vouch for its own binding: phone or email only.
                    (Some(Ok(options)), _, _) => {
                        let options = IdentityOptions { totp_bound: false, ..options };
                        view! { <IdentityStep options intent="bind_totp" on_verified error/> }.into_any()
                    }
                    (Some(Err(e)), _, _) => view! { <p class="alert" role="alert">{e.localized()}</p> }.into_any(),
                }}
            })}
            <ErrorAlert error/>
            <button type="button" class="link close" on:click=move |_| on_close.run(())>{tr!("action-close")}</button>
        </section>
    }
}

#[component]
fn UnbindTotpFlow(on_close: Callback<()>, on_changed: Callback<()>) -> impl IntoView {
    let focus = crate::components::dialog_focus();
    let me = expect_context::<Me>();
    // The identity step's choices; after it, the unbind itself.
    let options = load(|| (), None, |_| get_identity_options());
    let unbind = ServerAction::<UnbindTotp>::new();
    let error = RwSignal::new(None::<AppError>);
    report_errors(unbind.value(), error);
    on_success(unbind.value(), on_changed);
    let on_verified = Callback::new(move |_| {
        unbind.dispatch(UnbindTotp {});
    });
    view! {
        <section class="card flow" role="dialog" tabindex="-1" node_ref=focus aria-labelledby="unbind-title">
            <h2 id="unbind-title">{tr!("totp-unbind-title")}</h2>
            {if me.is_owner() {
                view! {
                    {move || match (options.get(), unbind.value().get()) {
                        (_, Some(Ok(()))) => view! {
                            <p class="success" role="status">{tr!("totp-unbound")}</p>
                            <p>{tr!("change-done-signed-out")}</p>
                            }.into_any(),
                        (None, _) => view! { <p class="muted">{tr!("loading")}</p> }.into_any(),
                        (Some(Ok(options)), _) => view! { <IdentityStep options intent="unbind_totp" on_verified error/> }.into_any(),
                        (Some(Err(e)), _) => view! { <p class="alert" role="alert">{e.localized()}</p> }.into_any(),
                    }}
                }.into_any()
            } else {
                view! { <p class="alert" role="alert">{AppError::OwnerOnly.localized()}</p> }.into_any()
            }}
            <button type="button" class="link close" on:click=move |_| on_close.run(())>{tr!("action-close")}</button>
        </section>
    }
}

/// Logon protection: after the identity step, Off, the authenticator or an SMS code at sign-in.
#[component]
fn LogonProtectionFlow(
    current: LogonProtection,
    on_close: Callback<()>,
    on_changed: Callback<()>,
) -> impl IntoView {
    let focus = crate::components::dialog_focus();
    let me = expect_context::<Me>();
    let options = load(|| (), None, |_| get_identity_options());
    let verified = RwSignal::new(false);
    let choice = RwSignal::new(current);
    let save = ServerAction::<SetLogonProtection>::new();
    let error = RwSignal::new(None::<AppError>);
    report_errors(save.value(), error);
    on_success(save.value(), on_changed);
    let on_verified = Callback::new(move |_| verified.set(true));
    let radio = move |value: LogonProtection| {
        let id = format!("logon-{}", value.as_str());
        view! {
            <div class="radio">
                <input type="radio" name="logon-protection" id=id.clone() value=value.as_str()
                    prop:checked=move || choice.get() == value
                    on:change=move |_| choice.set(value)/>
                <label for=id>{value.localized()}</label>
            </div>
        }
    };
    view! {
        <section class="card flow" role="dialog" tabindex="-1" node_ref=focus aria-labelledby="logon-title">
            <h2 id="logon-title">{tr!("logon-title")}</h2>
            {(!me.is_owner()).then(|| view! { <p class="alert" role="alert">{AppError::OwnerOnly.localized()}</p> })}
            {me.is_owner().then(|| view! {
                {move || match (options.get(), verified.get(), save.value().get()) {
                    (_, _, Some(Ok(()))) => view! {
                        <p class="success" role="status">{tr!("logon-saved")}</p>
                    }.into_any(),
                    (_, true, _) => view! {
                        <fieldset class="choices">
                            <legend>{tr!("logon-asks-for")}</legend>
                            {radio(LogonProtection::Off)}
                            {radio(LogonProtection::Totp)}
                            {radio(LogonProtection::Sms)}
                        </fieldset>
                        <button type="button" class="primary" disabled=move || save.pending().get()
                            on:click=move |_| {
                                save.dispatch(SetLogonProtection { setting: choice.get_untracked().as_str().to_string() });
                            }>{tr!("action-save")}</button>
                    }.into_any(),
                    (None, _, _) => view! { <p class="muted">{tr!("loading")}</p> }.into_any(),
                    (Some(Ok(options)), false, _) => view! { <IdentityStep options intent="logon_protection" on_verified error/> }.into_any(),
                    (Some(Err(e)), _, _) => view! { <p class="alert" role="alert">{e.localized()}</p> }.into_any(),
                }}
            })}
            <ErrorAlert error/>
            <button type="button" class="link close" on:click=move |_| on_close.run(())>{tr!("action-close")}</button>
        </section>
    }
}

/// The appeal: the number to bind, a contact email confirmed by a code sent to it, and the reason.
#[component]
fn AppealForm(on_close: Callback<()>) -> impl IntoView {
    let focus = crate::components::dialog_focus();
    let me = expect_context::<Me>();
    let action = ServerAction::<FileAppeal>::new();
    let error = RwSignal::new(None::<AppError>);
    let email = RwSignal::new(String::new());
    let code = RwSignal::new(String::new());
    let sent_once = RwSignal::new(false);
    report_errors(action.value(), error);
    // Only a filed appeal replaces the form: a refused one keeps what was typed.
    let filed = Memo::new(move |_| action.value().get().and_then(Result::ok));
    view! {
        <section class="card flow" role="dialog" tabindex="-1" node_ref=focus aria-labelledby="appeal-title">
            <h2 id="appeal-title">{tr!("appeal-file")}</h2>
            {if !me.is_owner() {
                view! { <p class="alert" role="alert">{AppError::OwnerOnly.localized()}</p> }.into_any()
            } else {
                view! {
                    {move || match filed.get() {
                        Some(reference) => view! {
                            <p class="success" role="status">{tr!("appeal-submitted", reference = reference)}</p>
                        }.into_any(),
                        _ => view! {
                            <ActionForm action>
                                <div class="field">
                                    <label for="appeal-phone">{tr!("appeal-phone")}</label>
                                    <input id="appeal-phone" name="new_phone" type="tel" required maxlength="20"/>
                                </div>
                                <div class="field">
                                    <label for="appeal-email">{tr!("appeal-email")}</label>
                                    <input id="appeal-email" name="contact_email" type="email" required maxlength="254"
                                        prop:value=move || email.get()
                                        on:input=move |ev| {
                                            // A code belongs to the address it was sent to.
                                            email.set(event_target_value(&ev));
                                            sent_once.set(false);
                                        }/>
                                </div>
                                <div class="field">
                                    <CodeEntry id="appeal-code" get_label=tr!("code-get")
                                        send=move || send_appeal_code(email.get_untracked())
                                        code error sent=sent_once name="code"/>
                                </div>
                                <div class="field">
                                    <label for="appeal-reason">{tr!("appeal-reason")}</label>
                                    <textarea id="appeal-reason" name="reason" required maxlength="1000" rows="3"></textarea>
                                </div>
                                <button type="submit" class="primary">{tr!("appeal-submit")}</button>
                            </ActionForm>
                        }.into_any(),
                    }}
                }.into_any()
            }}
            <button type="button" class="link close" on:click=move |_| on_close.run(())>{tr!("action-close")}</button>
        </section>
    }
}

/// The owner's appeals, newest first (server-rendered).
#[component]
fn Appeals(list: Vec<AppealView>) -> impl IntoView {
    (!list.is_empty()).then(|| {
        view! {
            <h3>{tr!("appeal-yours")}</h3>
            <table class="table">
                <thead><tr><th>{tr!("appeal-col-reference")}</th><th>{tr!("appeal-col-number")}</th><th>{tr!("appeal-col-status")}</th><th>{tr!("appeal-col-filed")}</th></tr></thead>
                <tbody>
                    {list.into_iter().map(|a| view! {
                        <tr><td><a href=format!("/appeals/{}", a.reference)>{a.reference.clone()}</a></td><td>{a.masked_phone}</td><td>{a.status}</td><td><LocalTime at=a.created_at/></td></tr>
                    }).collect_view()}
                </tbody>
            </table>
        }
    })
}

/// The account's audit events, newest first, a page at a time (`?log_before=<id>` pages back).
#[component]
fn SecurityLog() -> impl IntoView {
    let query = use_query_map();
    let before = query.with_untracked(|q| q.get("log_before").and_then(|v| v.parse::<i64>().ok()));
    let page = Resource::new(move || before, security_log);
    view! {
        <section class="card" aria-labelledby="security-log">
            <h2 id="security-log">{tr!("log-title")}</h2>
            <Suspense fallback=|| view! { <p class="muted">{tr!("loading")}</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(rows) => {
                            let older = (rows.len() == SECURITY_LOG_PAGE).then(|| rows.last().map(|r| r.id)).flatten();
                            view! {
                                <table class="table">
                                    <thead><tr><th>{tr!("log-col-time")}</th><th>{tr!("log-col-action")}</th><th>{tr!("log-col-by")}</th><th>{tr!("log-col-ip")}</th><th>{tr!("log-col-result")}</th><th>{tr!("log-col-detail")}</th></tr></thead>
                                    <tbody>
                                        {rows.into_iter().map(|r| view! {
                                            <tr><td><LocalTime at=r.at/></td><td>{r.action}</td><td>{r.principal}</td><td>{r.client_ip}</td><td>{r.outcome}</td><td>{r.detail}</td></tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                                <p class="pager">
                                    {before.map(|_| view! { <a href="/security#security-log">{tr!("log-newest")}</a> })}
                                    {older.map(|id| view! { <a href=format!("/security?log_before={id}#security-log")>{tr!("log-older")}</a> })}
                                </p>
                            }
                            .into_any()
                        }
                        Err(e) => view! { <p class="alert" role="alert">{e.localized()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}
