//! Enterprise SSO: the sign-in by account alias (`/login/sso`), and the owner's identity provider
//! settings (`/ram/sso`).

use crate::api::sso::{
    DeleteSsoSettings, SaveSsoSettings, SsoBegin, SsoFailure, SsoSettingsView, UserClaim,
    sso_settings,
};
use crate::components::hard_navigate;
use crate::error::AppError;
use crate::pages::login::LoginCard;
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
            .to_string()
    });
    view! {
        <LoginCard title="Enterprise SSO">
            <p class="muted">"Sign in through your organisation's identity provider."</p>
            <SsoStartForm failure/>
            <p class="muted"><a href="/login">"Back to sign in"</a></p>
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
        Some(Err(error)) => Some(error.to_string()),
        Some(Ok(_)) => None,
        None => failure.clone(),
    };
    view! {
        <ActionForm action=action>
            <div class="field">
                <label for="sso-alias">"Account alias"</label>
                <input id="sso-alias" name="alias" type="text" autocomplete="organization" required
                    placeholder="for example alice"/>
            </div>
            {move || message().map(|m| view! { <p class="alert" role="alert">{m}</p> })}
            <button type="submit" class="primary wide" disabled=move || action.pending().get()>"Continue"</button>
        </ActionForm>
    }
}

#[component]
fn SsoAccessDenied() -> impl IntoView {
    view! {
        <section class="card denied">
            <h1>"Access denied"</h1>
            <p>"Only the account owner can manage Enterprise SSO."</p>
        </section>
    }
}

/// The owner's identity provider settings.
#[component]
pub fn SsoSettingsPage() -> impl IntoView {
    let settings = Resource::new(|| (), |_| sso_settings());
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match settings.await {
                    Ok(settings) => view! {
                        <h1>"Enterprise SSO"</h1>
                        <p class="muted">
                            "Members of your organisation sign in through your OpenID Connect identity provider, "
                            "as SSO users of this account. SSO sessions can never change the account's mobile phone number."
                        </p>
                        <SsoSettingsForm settings/>
                    }.into_any(),
                    Err(AppError::Forbidden | AppError::OwnerOnly) => view! { <SsoAccessDenied/> }.into_any(),
                    Err(e) => view! { <p class="alert" role="alert">{e.to_string()}</p> }.into_any(),
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
            "Saved. Leave blank to keep it."
        } else {
            "The secret the provider gave the console"
        }
    };
    let chosen = settings.user_claim;
    view! {
        <RedirectUri uri=settings.redirect_uri.clone()/>
        <section class="card" aria-labelledby="sso-provider">
            <h2 id="sso-provider">"Identity provider"</h2>
            <ActionForm action=save>
                <div class="field">
                    <label for="sso-issuer">"Issuer URL"</label>
                    <input id="sso-issuer" name="issuer_url" type="url" required
                        placeholder="https://idp.example.com" value=settings.issuer_url.clone()/>
                </div>
                <div class="field">
                    <label for="sso-client-id">"Client ID"</label>
                    <input id="sso-client-id" name="client_id" type="text" required autocomplete="off"
                        value=settings.client_id.clone()/>
                </div>
                <div class="field">
                    <label for="sso-client-secret">"Client secret"</label>
                    <input id="sso-client-secret" name="client_secret" type="password" autocomplete="new-password"
                        placeholder=secret_hint/>
                </div>
                <div class="field">
                    <label for="sso-claim">"Claim that names the user"</label>
                    <select id="sso-claim" name="user_claim">
                        {UserClaim::ALL.into_iter().map(|claim| view! {
                            <option value=claim.as_str() selected=claim == chosen>{claim.as_str()}</option>
                        }).collect_view()}
                    </select>
                </div>
                <fieldset class="field">
                    <legend>"Policies of SSO sessions"</legend>
                    <label>
                        <input type="checkbox" name="directory_access" value="on" checked=settings.directory_access/>
                        " AliyunResourceDirectoryFullAccess (Resource Management, when this account manages a directory)"
                    </label>
                </fieldset>
                {move || error().map(|e| view! { <p class="alert" role="alert">{e.to_string()}</p> })}
                {move || saved().then(|| view! { <p class="success" role="status">"Enterprise SSO settings saved."</p> })}
                <button type="submit" class="primary" disabled=move || save.pending().get()>"Save"</button>
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
            <h2 id="sso-redirect">"Redirect URI"</h2>
            <p>"Register this redirect URI for the console's client at your identity provider:"</p>
            <p><code class="sso-redirect-uri">{uri}</code></p>
        </section>
    }
}

#[component]
fn TurnOff(remove: ServerAction<DeleteSsoSettings>) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="sso-off">
            <h2 id="sso-off">"Turn off"</h2>
            <p class="muted">"Turning Enterprise SSO off signs out every SSO session of the account."</p>
            <ActionForm action=remove>
                <button type="submit" class="danger">"Turn off Enterprise SSO"</button>
            </ActionForm>
        </section>
    }
}
