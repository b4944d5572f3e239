//! Sign in by logon email, bound phone number or `name@alias`.

use crate::api::auth::{SignIn, SignInVerify, sign_in_send_code};
use crate::components::{CodeEntry, ErrorAlert, action_error, hard_navigate};
use crate::error::AppError;
use crate::model::{LogonProtection, SignInReply, SignInStep};
use crate::pages::identity::report_errors;
use crate::tr;
use leptos::prelude::*;

#[component]
pub fn LoginPage() -> impl IntoView {
    view! {
        <LoginCard title=tr!("sign-in")>
            <p class="muted">{tr!("brand")}</p>
            <SignInForm/>
            <p class="muted"><a href="/forgot-password">{tr!("forgot-link")}</a></p>
            <p class="muted"><a href="/login/sso">{tr!("nav-sso")}</a></p>
        </LoginCard>
    }
}

/// The card of the signed-out pages (sign-in, password recovery), centred on its own, with the
/// language switcher above it.
#[component]
pub fn LoginCard(#[prop(into)] title: String, children: Children) -> impl IntoView {
    view! {
        <main class="login">
            <div class="login-language"><crate::components::LanguageSwitch/></div>
            <crate::components::LocalTimes/>
            <section class="login-card">
                <h1>{title}</h1>
                {children()}
            </section>
        </main>
    }
}

/// The form, with the choice of account when a number is bound to several, and the second
/// step when the account has logon protection.
#[island]
fn SignInForm() -> impl IntoView {
    crate::components::mark_hydrated();
    let action = ServerAction::<SignIn>::new();
    Effect::new(move |_| {
        if let Some(Ok(SignInReply::SignedIn)) = action.value().get() {
            hard_navigate("/overview");
        }
    });
    let second_step = move || match action.value().get() {
        Some(Ok(SignInReply::SecondStep(step))) => Some(step),
        _ => None,
    };
    let choices = move || match action.value().get() {
        Some(Ok(SignInReply::ChooseAccount(choices))) => Some(view! {
            <fieldset class="choices">
                <legend>{tr!("sign-in-choose-account")}</legend>
                {choices
                    .into_iter()
                    .map(|c| {
                        let id = format!("choice-{}", c.account_id);
                        view! {
                            <div class="radio">
                                <input type="radio" name="account_id" id=id.clone() value=c.account_id.clone() required/>
                                <label for=id>{format!("{} ({})", c.display_name, c.account_id)}</label>
                            </div>
                        }
                    })
                    .collect_view()}
            </fieldset>
        }),
        _ => None,
    };
    view! {
        <Show
            when=move || second_step().is_none()
            fallback=move || second_step().map(|step| view! { <SecondStep step/> })
        >
        <ActionForm action=action>
            <div class="field">
                <label for="account">{tr!("sign-in-account")}</label>
                <input id="account" name="account" type="text" autocomplete="username" required
                    placeholder=tr!("sign-in-account-hint")/>
            </div>
            <div class="field">
                <label for="password">{tr!("sign-in-password")}</label>
                <input id="password" name="password" type="password" autocomplete="current-password" required/>
            </div>
            {choices}
            <ErrorAlert error=action_error(action.value())/>
            <button type="submit" class="primary wide" disabled=move || action.pending().get()>{tr!("sign-in")}</button>
        </ActionForm>
        </Show>
    }
}

/// Logon protection: the authenticator's code, or the SMS code sent to the bound phone. A locked
/// authenticator lets the phone stand in for it.
#[component]
fn SecondStep(step: SignInStep) -> impl IntoView {
    let verify = ServerAction::<SignInVerify>::new();
    let error = RwSignal::new(None::<AppError>);
    let code = RwSignal::new(String::new());
    let by_sms = RwSignal::new(step.method == LogonProtection::Sms);
    report_errors(verify.value(), error);
    Effect::new(move |_| {
        if let Some(Ok(())) = verify.value().get() {
            hard_navigate("/overview");
        }
    });
    let phone = step.masked_phone.clone().unwrap_or_default();
    let can_fall_back = step.masked_phone.is_some() && step.method == LogonProtection::Totp;
    let locked = move || matches!(error.get(), Some(AppError::TotpLocked));
    let expired = move || matches!(error.get(), Some(AppError::SignInStepExpired));
    view! {
        <h2>{tr!("logon-title")}</h2>
        <p class="muted">{move || if by_sms.get() {
            tr!("sign-in-sms-sent", phone = phone)
        } else {
            tr!("invalid-totp-enter-code")
        }}</p>
        <CodeEntry
            id="sign-in-code"
            get_label=tr!("code-get")
            send=sign_in_send_code
            code
            error
            can_send=Signal::derive(move || by_sms.get())
        />
        <Show when=move || can_fall_back && locked() && !by_sms.get()>
            <button type="button" class="link" on:click=move |_| { by_sms.set(true); error.set(None); }>
                {tr!("sign-in-use-sms")}
            </button>
        </Show>
        <Show when=expired>
            <p><a href="/login">{tr!("sign-in-again")}</a></p>
        </Show>
        <button type="button" class="primary wide" disabled=move || verify.pending().get()
            on:click=move |_| {
                verify.dispatch(SignInVerify { code: code.get_untracked(), by_sms: by_sms.get_untracked() });
            }>
            {tr!("action-verify")}
        </button>
    }
}
