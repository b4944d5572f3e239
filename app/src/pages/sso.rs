//! Enterprise SSO: the sign-in by account alias (`/login/sso`), and the owner's identity provider
//! settings (`/ram/sso`).

use crate::api::sso::{
    DeleteSsoSettings, SaveSsoSettings, SsoBegin, SsoFailure, SsoSettingsView, UserClaim,
    sso_settings,
};
use crate::components::hard_navigate;
use crate::error::AppError;
use crate::pages::login::LoginCard;
use crate::tr;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// The SSO sign-in page; `?error=<code>` (set by the provider's callback) shows why the last
/// attempt started no session.
#[component]
pub fn SsoSignInPage() -> impl IntoView {
    let query = use_query_map();
    let failure = query.with_untracked(|q| q.get("error")).map(|code| {
        SsoFailure::parse(&code)
            .unwrap_or(SsoFailure::InvalidState)
            .message(crate::i18n::locale())
    });
    view! {
        <LoginCard title=tr!("nav-sso")>
            <p class="muted">{tr!("sso-intro")}</p>
            <SsoStartForm failure/>
            <p class="muted"><a href="/login">{tr!("reset-back")}</a></p>
        </LoginCard>
    }
}

/// The alias, then off to the provider; the callback brings the browser back signed in.
#[island(lazy)]
fn SsoStartForm(failure: Option<String>) -> impl IntoView {
    crate::components::mark_hydrated();
    let action = ServerAction::<SsoBegin>::new();
    Effect::new(move |_| {
        if let Some(Ok(url)) = action.value().get() {
            hard_navigate(&url);
        }
    });
    let message = move || match action.value().get() {
        Some(Err(error)) => Some(error.localized()),
        Some(Ok(_)) => None,
        None => failure.clone(),
    };
    view! {
        <ActionForm action=action>
            <div class="field">
                <label for="sso-alias">{tr!("sso-alias")}</label>
                <input id="sso-alias" name="alias" type="text" autocomplete="organization" required
                    placeholder=tr!("sso-alias-hint")/>
            </div>
            {move || message().map(|m| view! { <p class="alert" role="alert">{m}</p> })}
            <button type="submit" class="primary wide" disabled=move || action.pending().get()>{tr!("action-continue")}</button>
        </ActionForm>
    }
}

#[component]
fn SsoAccessDenied() -> impl IntoView {
    view! {
        <section class="card denied">
            <h1>{tr!("sso-denied")}</h1>
            <p>{tr!("sso-owner-only")}</p>
        </section>
    }
}

/// The owner's identity provider settings.
#[component]
pub fn SsoSettingsPage() -> impl IntoView {
    let settings = Resource::new(|| (), |_| sso_settings());
    view! {
        <Suspense fallback=|| view! { <p class="muted">{tr!("loading")}</p> }>
            {move || Suspend::new(async move {
                match settings.await {
                    Ok(settings) => view! {
                        <h1>{tr!("nav-sso")}</h1>
                        <p class="muted">
                            {tr!("sso-settings-intro")}
                        </p>
                        <SsoSettingsForm settings/>
                    }.into_any(),
                    Err(AppError::Forbidden | AppError::OwnerOnly) => view! { <SsoAccessDenied/> }.into_any(),
                    Err(e) => view! { <p class="alert" role="alert">{e.localized()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[island(lazy)]
fn SsoSettingsForm(settings: SsoSettingsView) -> impl IntoView {
    crate::components::mark_hydrated();
    let save = ServerAction::<SaveSsoSettings>::new();
    let remove = ServerAction::<DeleteSsoSettings>::new();
    Effect::new(move |_| {
        if let Some(Ok(_)) = remove.value().get() {
            hard_navigate("/ram/sso");
        }
    });
    let current = RwSignal::new(settings.clone());
    Effect::new(move |_| {
        if let Some(Ok(saved)) = save.value().get() {
            current.set(saved);
        }
    });
    let error = move || {
        save.value()
            .get()
            .and_then(Result::err)
            .or_else(|| remove.value().get().and_then(Result::err))
    };
    let saved = move || matches!(save.value().get(), Some(Ok(_)));
    let secret_hint = move || {
        if current.get().secret_saved {
            tr!("sso-secret-saved")
        } else {
            tr!("sso-secret-hint")
        }
    };
    let chosen = settings.user_claim;
    view! {
        <RedirectUri uri=settings.redirect_uri.clone()/>
        <section class="card" aria-labelledby="sso-provider">
            <h2 id="sso-provider">{tr!("sso-provider")}</h2>
            <ActionForm action=save>
                <div class="field">
                    <label for="sso-issuer">{tr!("sso-issuer")}</label>
                    <input id="sso-issuer" name="issuer_url" type="url" required
                        placeholder="https://idp.example.com" value=settings.issuer_url.clone()/>
                </div>
                <div class="field">
                    <label for="sso-client-id">{tr!("sso-client-id")}</label>
                    <input id="sso-client-id" name="client_id" type="text" required autocomplete="off"
                        value=settings.client_id.clone()/>
                </div>
                <div class="field">
                    <label for="sso-client-secret">{tr!("sso-client-secret")}</label>
                    <input id="sso-client-secret" name="client_secret" type="password" autocomplete="new-password"
                        placeholder=secret_hint/>
                </div>
                <div class="field">
                    <label for="sso-claim">{tr!("sso-claim")}</label>
                    <select id="sso-claim" name="user_claim">
                        {UserClaim::ALL.into_iter().map(|claim| view! {
                            <option value=claim.as_str() selected=claim == chosen>{claim.as_str()}</option>
                        }).collect_view()}
                    </select>
                </div>
                <fieldset class="field">
                    <legend>{tr!("sso-policies")}</legend>
                    <label>
                        <input type="checkbox" name="directory_access" value="on" checked=settings.directory_access/>
                        " " {tr!("sso-directory-policy")}
                    </label>
                </fieldset>
                {move || error().map(|e| view! { <p class="alert" role="alert">{e.localized()}</p> })}
                {move || saved().then(|| view! { <p class="success" role="status">{tr!("sso-saved")}</p> })}
                <button type="submit" class="primary" disabled=move || save.pending().get()>{tr!("action-save")}</button>
            </ActionForm>
        </section>
        <Show when=move || current.get().configured>
            <TurnOff remove/>
        </Show>
    }
}

/// The redirect URI to register at the identity provider.
#[component]
fn RedirectUri(uri: String) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="sso-redirect">
            <h2 id="sso-redirect">{tr!("sso-redirect")}</h2>
            <p>{tr!("sso-redirect-register")}</p>
            <p><code class="sso-redirect-uri">{uri}</code></p>
        </section>
    }
}

#[component]
fn TurnOff(remove: ServerAction<DeleteSsoSettings>) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="sso-off">
            <h2 id="sso-off">{tr!("sso-turn-off-title")}</h2>
            <p class="muted">{tr!("sso-turn-off-explain")}</p>
            <ActionForm action=remove>
                <button type="submit" class="danger">{tr!("sso-turn-off")}</button>
            </ActionForm>
        </section>
    }
}
