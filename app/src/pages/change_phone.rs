//! The change flow: verify identity, enter the new number, confirm with its code.

use crate::api::phone::{
    CheckNewPhone, ConfirmPhoneChange, get_identity_options, send_new_phone_code,
};
use crate::components::{CodeEntry, Countdown, load};
use crate::error::AppError;
use crate::model::{IdentityOptions, Me};
use crate::pages::identity::{IdentityStep, report_errors};
use crate::tr;
use leptos::prelude::*;

#[derive(Clone, PartialEq)]
enum Step {
    Identity,
    /// With the seconds left on the identity ticket when the step opened.
    NewNumber(i64),
    Done(String),
}

/// `options` are the identity step's choices when the server rendered the flow open
/// (`/security?modify=phone`); otherwise they are fetched when the flow opens.
#[component]
pub fn ChangePhoneFlow(
    on_close: Callback<()>,
    on_changed: Callback<()>,
    #[prop(default = None)] options: Option<IdentityOptions>,
) -> impl IntoView {
    let focus = crate::components::dialog_focus();
    let me = expect_context::<Me>();
    if !me.is_owner() {
        return view! {
            <section class="card flow" role="dialog" tabindex="-1" node_ref=focus aria-labelledby="change-title">
                <h2 id="change-title">{tr!("change-title")}</h2>
                <p class="alert" role="alert">{AppError::OwnerOnly.localized()}</p>
                <button type="button" class="secondary" on:click=move |_| on_close.run(())>{tr!("action-close")}</button>
            </section>
        }
        .into_any();
    }
    let options = load(|| (), options, |_| get_identity_options());
    view! {
        <section class="card flow" role="dialog" tabindex="-1" node_ref=focus aria-labelledby="change-title">
            <h2 id="change-title">{tr!("change-title")}</h2>
            {move || match options.get() {
                None => view! { <p class="muted">{tr!("loading")}</p> }.into_any(),
                Some(Ok(options)) => view! { <Steps options on_changed/> }.into_any(),
                Some(Err(e)) => view! { <p class="alert" role="alert">{e.localized()}</p> }.into_any(),
            }}
            <button type="button" class="link close" on:click=move |_| on_close.run(())>{tr!("action-close")}</button>
        </section>
    }
    .into_any()
}

#[component]
fn Steps(options: IdentityOptions, on_changed: Callback<()>) -> impl IntoView {
    // A live ticket (the flow closed and opened again) goes straight to the new number.
    let step = RwSignal::new(match options.ticket_expires_in_secs {
        Some(secs) => Step::NewNumber(secs),
        None => Step::Identity,
    });
    let error = RwSignal::new(None::<AppError>);
    let calling_code = options.calling_code;
    let on_verified = Callback::new(move |ticket_secs| {
        error.set(None);
        step.set(Step::NewNumber(ticket_secs));
    });
    let on_expired = Callback::new(move |_| {
        error.set(None);
        step.set(Step::Identity);
    });
    let on_done = Callback::new(move |masked: String| {
        step.set(Step::Done(masked));
        on_changed.run(());
    });
    view! {
        <ol class="steps" aria-label=tr!("change-progress")>
            <li class:active=move || step.get() == Step::Identity>{tr!("identity-title")}</li>
            <li class:active=move || matches!(step.get(), Step::NewNumber(_))>{tr!("change-step-new")}</li>
            <li class:active=move || matches!(step.get(), Step::Done(_))>{tr!("change-step-done")}</li>
        </ol>
        {move || match step.get() {
            Step::Identity => view! {
                <IdentityStep options=options.clone() intent="change_phone" on_verified error/>
            }.into_any(),
            Step::NewNumber(ticket_secs) => view! {
                <NewNumberStep calling_code ticket_secs error on_done on_expired/>
            }.into_any(),
            Step::Done(masked) => view! {
                <p class="success" role="status">{tr!("change-done")}</p>
                <p>{tr!("change-done-signed-out")}</p>
                <p>{tr!("change-done-now")} " " <strong>{masked}</strong> {tr!("change-done-use")}</p>
            }.into_any(),
        }}
    }
}

/// The identity ticket's time left, counted down; once it is over, the way back to step 1.
#[component]
fn TicketClock(ticket_secs: i64, on_expired: Callback<()>) -> impl IntoView {
    let left = Countdown::new();
    left.start(ticket_secs);
    move || {
        if left.running() {
            view! {
                <p class="muted ticket-clock">
                    {tr!("change-ticket-left", left = left.clock())}
                </p>
            }
            .into_any()
        } else {
            view! {
                <p class="alert" role="alert">{tr!("change-ticket-expired")}</p>
                <button type="button" class="secondary" on:click=move |_| on_expired.run(())>{tr!("change-verify-again")}</button>
            }
            .into_any()
        }
    }
}

/// The number field's input handler: keeps `number` and, after a pause of 300 ms in typing,
/// sends the number to the server's rules.
fn check_while_typing(
    number: RwSignal<String>,
    check: ServerAction<CheckNewPhone>,
) -> impl Fn(leptos::ev::Event) + Copy + 'static {
    let pending = StoredValue::new(None::<TimeoutHandle>);
    move |ev| {
        let value = event_target_value(&ev);
        number.set(value.clone());
        if let Some(handle) = pending.get_value() {
            handle.clear();
        }
        if value.trim().len() >= 4 {
            let handle = set_timeout_with_handle(
                move || {
                    check.dispatch(CheckNewPhone {
                        number: value.clone(),
                    });
                },
                std::time::Duration::from_millis(300),
            )
            .ok();
            pending.set_value(handle);
        }
    }
}

/// Step 2. Once a code is sent the number is fixed (the code belongs to it); "Change number"
/// frees it again without repeating step 1, for as long as the ticket lives.
#[component]
fn NewNumberStep(
    calling_code: u16,
    ticket_secs: i64,
    error: RwSignal<Option<AppError>>,
    on_done: Callback<String>,
    on_expired: Callback<()>,
) -> impl IntoView {
    let number = RwSignal::new(String::new());
    let code = RwSignal::new(String::new());
    let sent = RwSignal::new(false);
    let check = ServerAction::<CheckNewPhone>::new();
    let confirm = ServerAction::<ConfirmPhoneChange>::new();
    report_errors(check.value(), error);
    report_errors(confirm.value(), error);
    Effect::new(move |_| {
        if let Some(Ok(masked)) = confirm.value().get() {
            on_done.run(masked);
        }
    });
    let on_input = check_while_typing(number, check);
    let valid = move || matches!(check.value().get(), Some(Ok(_)));
    let input_ref = NodeRef::<leptos::html::Input>::new();
    let change_number = move |_| {
        sent.set(false);
        code.set(String::new());
        error.set(None);
        #[cfg(feature = "hydrate")]
        if let Some(input) = input_ref.get() {
            let _ = input.focus();
        }
    };
    view! {
        <TicketClock ticket_secs on_expired/>
        <div class="field">
            <label for="new-phone">{tr!("change-new-number")}</label>
            <div class="phone-row">
                <span class="prefix" title=tr!("change-prefix-title")>{format!("+{calling_code}")}</span>
                <input id="new-phone" type="tel" autocomplete="tel-national" maxlength="20" node_ref=input_ref
                    readonly=move || sent.get() prop:value=move || number.get() on:input=on_input/>
                <Show when=move || sent.get()>
                    <button type="button" class="link" on:click=change_number>{tr!("change-change-number")}</button>
                </Show>
            </div>
            {move || check.value().get().and_then(|r| r.ok()).map(|masked| view! { <p class="muted">{tr!("change-will-bind", masked = masked)}</p> })}
        </div>
        <CodeEntry
            id="new-phone-code"
            get_label=tr!("code-get-new")
            send=move || send_new_phone_code(number.get_untracked())
            code
            error
            sent
        />
        <button type="button" class="primary" disabled=move || confirm.pending().get() || !sent.get()
            data-valid=move || valid().to_string()
            on:click=move |_| {
                confirm.dispatch(ConfirmPhoneChange { number: number.get_untracked(), code: code.get_untracked() });
            }>
            {tr!("action-ok")}
        </button>
    }
}
