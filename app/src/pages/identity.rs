//! "Verify your identity": an SMS code to the original number, an emailed code, or TOTP.

use crate::api::phone::{VerifyIdentity, send_identity_code};
use crate::components::CodeEntry;
use crate::error::AppError;
use crate::model::IdentityOptions;
use crate::tr;
use leptos::prelude::*;

/// Copies an action's outcome into the flow's one error line.
pub fn report_errors<T, S>(value: S, error: RwSignal<Option<AppError>>)
where
    T: Clone + Send + Sync + 'static,
    S: Get<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
{
    Effect::new(move |_| match value.get() {
        Some(Err(e)) => error.set(Some(e)),
        Some(Ok(_)) => error.set(None),
        None => {}
    });
}

/// Runs `then` once an action that answers nothing has succeeded.
pub fn on_success<S>(value: S, then: Callback<()>)
where
    S: Get<Value = Option<Result<(), AppError>>> + Send + Sync + 'static,
{
    Effect::new(move |_| {
        if let Some(Ok(())) = value.get() {
            then.run(());
        }
    });
}

/// `on_verified` gets the seconds the granted ticket lives.
#[component]
pub fn IdentityStep(
    options: IdentityOptions,
    /// `change_phone` or `unbind_totp`.
    intent: &'static str,
    on_verified: Callback<i64>,
    error: RwSignal<Option<AppError>>,
) -> impl IntoView {
    let first = if options.masked_phone.is_some() {
        "sms"
    } else if options.totp_bound {
        "totp"
    } else {
        "email"
    };
    let method = RwSignal::new(first.to_string());
    let code = RwSignal::new(String::new());
    let sent = RwSignal::new(false);
    let verify = ServerAction::<VerifyIdentity>::new();
    report_errors(verify.value(), error);
    Effect::new(move |_| {
        if let Some(Ok(ticket_secs)) = verify.value().get() {
            on_verified.run(ticket_secs);
        }
    });
    // A new method starts over: the countdown belongs to the target it was sent to.
    let choose = move |value: &'static str| {
        method.set(value.to_string());
        sent.set(false);
        code.set(String::new());
        error.set(None);
    };
    let radio = move |value: &'static str, label: String, detail: Option<String>| {
        let id = format!("method-{value}-{intent}");
        view! {
            <div class="radio">
                <input type="radio" name=format!("method-{intent}") id=id.clone() value=value
                    prop:checked=move || method.get() == value
                    on:change=move |_| choose(value)/>
                <label for=id>{label}</label>
                {detail.map(|d| view! { <span class="muted">{d}</span> })}
            </div>
        }
    };
    let send = move || send_identity_code(method.get_untracked(), intent.to_string());
    let phone = options.masked_phone.clone();
    view! {
        <h3>{tr!("identity-title")}</h3>
        <fieldset class="choices">
            <legend>{tr!("identity-choose")}</legend>
            {phone.map(|p| radio("sms", tr!("identity-by-sms"), Some(p)))}
            {radio("email", tr!("identity-by-email"), Some(options.masked_email.clone()))}
            {options.totp_bound.then(|| radio("totp", tr!("identity-by-totp"), Some(tr!("identity-totp-detail"))))}
        </fieldset>
        <CodeEntry
            id=format!("identity-code-{intent}")
            get_label=tr!("code-get")
            send
            code
            error
            sent
            can_send=Signal::derive(move || method.get() != "totp")
        />
        <button type="button" class="primary" disabled=move || verify.pending().get()
            on:click=move |_| {
                verify.dispatch(VerifyIdentity { method: method.get_untracked(), code: code.get_untracked(), intent: intent.to_string() });
            }>
            {tr!("action-next")}
        </button>
    }
}
