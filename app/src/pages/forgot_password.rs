//! Forgot password: a code to the bound phone or the logon email, then a new password.

use crate::api::account_center::{RequestPasswordReset, ResetPassword, request_password_reset};
use crate::components::{CodeEntry, ErrorAlert};
use crate::error::AppError;
use crate::pages::identity::report_errors;
use crate::pages::login::LoginCard;
use crate::tr;
use leptos::prelude::*;

#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    view! {
        <LoginCard title=tr!("reset-title")>
            <ResetFlow/>
            <p><a href="/login">{tr!("reset-back")}</a></p>
        </LoginCard>
    }
}

/// Request a code, then set the new password with it.
#[island(lazy)]
fn ResetFlow() -> impl IntoView {
    crate::components::mark_hydrated();
    let request = ServerAction::<RequestPasswordReset>::new();
    let reset = ServerAction::<ResetPassword>::new();
    let error = RwSignal::new(None::<AppError>);
    report_errors(request.value(), error);
    report_errors(reset.value(), error);
    let account = RwSignal::new(String::new());
    let channel = RwSignal::new(String::from("sms"));
    view! {
        {move || match (request.value().get(), reset.value().get()) {
            (_, Some(Ok(()))) => view! {
                <p class="success" role="status">{tr!("reset-done")}</p>
                <p><a href="/login">{tr!("sign-in")}</a></p>
            }.into_any(),
            (Some(Ok(())), _) => view! { <NewPasswordForm reset account channel error/> }.into_any(),
            _ => view! {
                <ActionForm action=request>
                    <div class="field">
                        <label for="reset-account">{tr!("sign-in-account")}</label>
                        <input id="reset-account" name="account" type="text" required placeholder=tr!("reset-account-hint")
                            on:input=move |ev| account.set(event_target_value(&ev))/>
                    </div>
                    <fieldset class="field">
                        <legend>{tr!("reset-send-to")}</legend>
                        <label>
                            <input type="radio" name="channel" value="sms" checked
                                on:change=move |_| channel.set("sms".into())/>
                            " " {tr!("reset-by-phone")}
                        </label>
                        <label>
                            <input type="radio" name="channel" value="email"
                                on:change=move |_| channel.set("email".into())/>
                            " " {tr!("identity-by-email")}
                        </label>
                    </fieldset>
                    <button type="submit" class="primary wide">{tr!("reset-send")}</button>
                </ActionForm>
                <ErrorAlert error/>
            }.into_any(),
        }}
    }
}

/// The code that was just sent (with a resend, counted down like every code field) and the new
/// password.
#[component]
fn NewPasswordForm(
    reset: ServerAction<ResetPassword>,
    account: RwSignal<String>,
    channel: RwSignal<String>,
    error: RwSignal<Option<AppError>>,
) -> impl IntoView {
    let code = RwSignal::new(String::new());
    view! {
        <p class="muted">{move || if channel.get() == "email" {
            tr!("reset-sent-email")
        } else {
            tr!("reset-sent-phone")
        }}</p>
        <ActionForm action=reset>
            <input type="hidden" name="account" prop:value=move || account.get()/>
            <input type="hidden" name="channel" prop:value=move || channel.get()/>
            <CodeEntry
                id="reset-code"
                name="code"
                get_label=tr!("reset-send")
                send=move || request_password_reset(account.get_untracked(), Some(channel.get_untracked()))
                code
                error
                sent=RwSignal::new(true)
            />
            <div class="field">
                <label for="new-password">{tr!("reset-new-password")}</label>
                <input id="new-password" name="new_password" type="password" autocomplete="new-password" required/>
            </div>
            <button type="submit" class="primary wide">{tr!("reset-submit")}</button>
        </ActionForm>
    }
}
