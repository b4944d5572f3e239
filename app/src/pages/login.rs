//! Sign in by logon email, bound phone number or `name@alias`.

use crate::api::auth::SignIn;
use crate::components::{ErrorAlert, action_error, hard_navigate};
use crate::model::SignInReply;
use leptos::prelude::*;

#[component]
pub fn LoginPage() -> impl IntoView {
    view! {
        <LoginCard title="Sign in">
            <p class="muted">"Account Center"</p>
            <SignInForm/>
            <p class="muted"><a href="/forgot-password">"Forgot password?"</a></p>
        </LoginCard>
    }
}

/// The card of the signed-out pages (sign-in, password recovery), centred on its own.
#[component]
pub fn LoginCard(title: &'static str, children: Children) -> impl IntoView {
    view! {
        <main class="login">
            <section class="login-card">
                <h1>{title}</h1>
                {children()}
            </section>
        </main>
    }
}

/// The form, with the choice of account when a number is bound to several.
#[island]
fn SignInForm() -> impl IntoView {
    let action = ServerAction::<SignIn>::new();
    Effect::new(move |_| {
        if let Some(Ok(SignInReply::SignedIn)) = action.value().get() {
            hard_navigate("/overview");
        }
    });
    let choices = move || match action.value().get() {
        Some(Ok(SignInReply::ChooseAccount(choices))) => Some(view! {
            <fieldset class="choices">
                <legend>"This number is bound to several accounts. Choose one."</legend>
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
        <ActionForm action=action>
            <div class="field">
                <label for="account">"Account"</label>
                <input id="account" name="account" type="text" autocomplete="username" required
                    placeholder="Logon email, phone number or name@alias"/>
            </div>
            <div class="field">
                <label for="password">"Password"</label>
                <input id="password" name="password" type="password" autocomplete="current-password" required/>
            </div>
            {choices}
            <ErrorAlert error=action_error(action.value())/>
            <button type="submit" class="primary wide" disabled=move || action.pending().get()>"Sign in"</button>
        </ActionForm>
    }
}
