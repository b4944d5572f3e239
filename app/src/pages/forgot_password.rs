//! Forgot password: a code to the bound phone or the logon email, then a new password.

use crate::api::account_center::{RequestPasswordReset, ResetPassword};
use crate::components::ErrorAlert;
use crate::error::AppError;
use crate::pages::identity::report_errors;
use leptos::prelude::*;

#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    view! {
        <main class="login">
            <section class="login-card">
                <h1>"Reset your password"</h1>
                <ResetFlow/>
                <p><a href="/login">"Back to sign in"</a></p>
            </section>
        </main>
    }
}

/// Request a code, then set the new password with it.
#[island(lazy)]
fn ResetFlow() -> impl IntoView {
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
                <p class="success" role="status">"Your password was reset and every session of the account was signed out. Sign in with the new password."</p>
                <p><a href="/login">"Sign in"</a></p>
            }.into_any(),
            (Some(Ok(())), _) => view! {
                <p class="muted">{move || if channel.get() == "email" {
                    "If the account exists, a verification code was sent to its logon email."
                } else {
                    "If the account exists and has a bound mobile phone number, a verification code was sent to it."
                }}</p>
                <ActionForm action=reset>
                    <input type="hidden" name="account" prop:value=move || account.get()/>
                    <input type="hidden" name="channel" prop:value=move || channel.get()/>
                    <div class="field">
                        <label for="reset-code">"Verification code"</label>
                        <input id="reset-code" name="code" type="text" inputmode="numeric" maxlength="6" required/>
                    </div>
                    <div class="field">
                        <label for="new-password">"New password"</label>
                        <input id="new-password" name="new_password" type="password" autocomplete="new-password" required/>
                    </div>
                    <button type="submit" class="primary wide">"Reset password"</button>
                </ActionForm>
            }.into_any(),
            _ => view! {
                <ActionForm action=request>
                    <div class="field">
                        <label for="reset-account">"Account"</label>
                        <input id="reset-account" name="account" type="text" required placeholder="Logon email or bound phone number"
                            on:input=move |ev| account.set(event_target_value(&ev))/>
                    </div>
                    <fieldset class="field">
                        <legend>"Send the code to"</legend>
                        <label>
                            <input type="radio" name="channel" value="sms" checked
                                on:change=move |_| channel.set("sms".into())/>
                            " Mobile phone"
                        </label>
                        <label>
                            <input type="radio" name="channel" value="email"
                                on:change=move |_| channel.set("email".into())/>
                            " Logon email"
                        </label>
                    </fieldset>
                    <button type="submit" class="primary wide">"Send verification code"</button>
                </ActionForm>
            }.into_any(),
        }}
        <ErrorAlert error/>
    }
}
