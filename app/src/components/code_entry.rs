//! The one verification-code field: the input, its Get-code button with the resend countdown,
//! the server's "too soon" refusal, and the error line (SPEC 3: "Resend (59s)" … then "Resend").
//! A pasted code may carry spaces ("123 456"); where the browser has the WebOTP API, the code of
//! an SMS that names this site (`@host #code`, see `ssr::verification`) fills the field by itself.

use crate::components::ErrorAlert;
use crate::error::{AppError, AppResult};
use crate::model::CodeSent;
use crate::tr;
use leptos::prelude::*;
use std::future::Future;

/// What a send answered, as far as the field cares: how long until the button may be pressed
/// again, and where the code went and for how long it lives, when the server says so.
pub trait SendAnswer {
    fn resend_after_secs(&self) -> Option<i64>;
    /// The masked destination and the seconds the code lives.
    fn delivery(&self) -> Option<(String, i64)>;
}

impl SendAnswer for CodeSent {
    fn resend_after_secs(&self) -> Option<i64> {
        Some(self.resend_after_secs)
    }

    fn delivery(&self) -> Option<(String, i64)> {
        Some((self.sent_to.clone(), self.expires_in_secs))
    }
}

/// Password recovery answers alike whether or not a code went out (so it does not tell that an
/// account exists), and so names no wait and no destination.
impl SendAnswer for () {
    fn resend_after_secs(&self) -> Option<i64> {
        None
    }

    fn delivery(&self) -> Option<(String, i64)> {
        None
    }
}

/// A send's answer, reduced to what the field shows.
#[derive(Clone)]
struct Sent {
    wait: Option<i64>,
    delivery: Option<(String, i64)>,
}

/// Seconds left on something (the wait before a resend, a code's life, an identity ticket's),
/// ticking down once a second in the browser.
#[derive(Clone, Copy)]
pub(crate) struct Countdown {
    left: RwSignal<i64>,
}

impl Countdown {
    pub(crate) fn new() -> Countdown {
        let left = RwSignal::new(0i64);
        #[cfg(feature = "hydrate")]
        {
            let interval = send_wrapper::SendWrapper::new(gloo_timers::callback::Interval::new(
                1000,
                move || {
                    let now = left.get_untracked();
                    if now > 0 {
                        left.set(now - 1);
                    }
                },
            ));
            // The interval lives as long as the field that made it.
            on_cleanup(move || drop(interval));
        }
        Countdown { left }
    }

    pub(crate) fn start(&self, secs: i64) {
        self.left.set(secs.max(0));
    }

    pub(crate) fn running(&self) -> bool {
        self.left.get() > 0
    }

    /// What is left as minutes and seconds: "4:59".
    pub(crate) fn clock(&self) -> String {
        let n = self.left.get();
        format!("{}:{:02}", n / 60, n % 60)
    }

    /// Where the code went and how long it still lives: "… It expires in 4:59." while it lives.
    fn lifetime_line(&self, to: &str) -> String {
        match self.left.get() {
            0 => tr!("code-expired", to = to),
            _ => tr!("code-sent-to", to = to, left = self.clock()),
        }
    }

    /// `idle` until the first send, "Resend (59s)" while counting, then "Resend".
    fn label(&self, idle: &str, sent_once: bool) -> String {
        match self.left.get() {
            0 if sent_once => tr!("code-resend"),
            0 => idle.to_string(),
            n => tr!("code-resend-in", n = n),
        }
    }
}

/// What the field keeps of what was typed or pasted: the spaces of "123 456" go, anything else
/// stays for the server to judge (a stray letter gets the malformed-code message, not silence).
fn digits_typed(value: &str) -> String {
    value.chars().filter(|c| !c.is_whitespace()).collect()
}

/// The field labelled **Verification code**, with its Get-code button and the error line.
///
/// `send` asks the server for a code; its answer starts the countdown, and a "too soon" refusal
/// starts it from the seconds the server names. `sent` is true once a code went out (or, given
/// as true, before the field appears); setting it to false starts over: the countdown stops and
/// the button reads `get_label` again. `error` is the flow's one error line, shown here in
/// `role="alert"`: the flow's other steps (checking the number, confirming) report into it too.
#[component]
pub fn CodeEntry<F, Fut, A>(
    /// The input's id, unique on the page.
    #[prop(into)]
    id: String,
    /// The button's text before the first send, as each flow words it.
    #[prop(into)]
    get_label: String,
    /// Requests a code.
    send: F,
    /// The code typed so far.
    code: RwSignal<String>,
    error: RwSignal<Option<AppError>>,
    #[prop(default = RwSignal::new(false))] sent: RwSignal<bool>,
    /// False hides the button (a TOTP code is not sent).
    #[prop(into, default = Signal::stored(true))]
    can_send: Signal<bool>,
    /// The form field name, for a field inside an `ActionForm`.
    #[prop(optional)]
    name: Option<&'static str>,
) -> impl IntoView
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = AppResult<A>> + Send + 'static,
    A: SendAnswer + 'static,
{
    // Only this closure is generic: the field itself is built once for every flow.
    let action = Action::new(move |_: &()| {
        let answer = send();
        async move {
            answer.await.map(|a| Sent {
                wait: a.resend_after_secs(),
                delivery: a.delivery(),
            })
        }
    });
    view! { <CodeField id get_label action code error sent can_send name/> }
}

/// The countdowns follow the sends: an answer starts the resend wait and the code's lifetime
/// (`[resend, lifetime]`) and names where the code went, a "too soon" refusal starts the wait it
/// names, and `sent` set back to false stops both.
fn follow_sends(
    action: Action<(), AppResult<Sent>>,
    [countdown, lifetime]: [Countdown; 2],
    sent_to: RwSignal<Option<String>>,
    sent: RwSignal<bool>,
    error: RwSignal<Option<AppError>>,
    on_sent: impl Fn() + 'static,
) {
    Effect::new(move |_| {
        if !sent.get() {
            countdown.start(0);
            lifetime.start(0);
            sent_to.set(None);
        }
    });
    Effect::new(move |_| match action.value().get() {
        Some(Ok(answer)) => {
            countdown.start(answer.wait.unwrap_or(0));
            if let Some((to, secs)) = answer.delivery {
                sent_to.set(Some(to));
                lifetime.start(secs);
            }
            sent.set(true);
            error.set(None);
            on_sent();
        }
        Some(Err(e)) => {
            if let AppError::ResendTooSoon(wait) = e {
                countdown.start(i64::from(wait));
            }
            error.set(Some(e));
        }
        None => {}
    });
}

#[component]
fn CodeField(
    id: String,
    get_label: String,
    action: Action<(), AppResult<Sent>>,
    code: RwSignal<String>,
    error: RwSignal<Option<AppError>>,
    sent: RwSignal<bool>,
    can_send: Signal<bool>,
    name: Option<&'static str>,
) -> impl IntoView {
    let get_label = StoredValue::new(get_label);
    let countdown = Countdown::new();
    // Where the last code went, and the seconds it has left (issue 14, item 5).
    let lifetime = Countdown::new();
    let sent_to = RwSignal::new(None::<String>);
    #[cfg(feature = "hydrate")]
    let sms_listener = web_otp::Listener::new(code);
    let on_sent = move || {
        #[cfg(feature = "hydrate")]
        sms_listener.listen();
    };
    follow_sends(action, [countdown, lifetime], sent_to, sent, error, on_sent);
    let request = move |_| {
        error.set(None);
        action.dispatch(());
    };
    view! {
        <div class="field">
            <label for=id.clone()>{tr!("code-label")}</label>
            <div class="code-row">
                <input
                    id=id
                    name=name
                    type="text"
                    inputmode="numeric"
                    autocomplete="one-time-code"
                    maxlength="12"
                    required
                    prop:value=move || code.get()
                    on:input=move |ev| code.set(digits_typed(&event_target_value(&ev)))
                />
                <Show when=move || can_send.get()>
                    <button
                        type="button"
                        class="secondary"
                        disabled=move || countdown.running() || action.pending().get()
                        on:click=request
                    >
                        {move || get_label.with_value(|idle| countdown.label(idle, sent.get()))}
                    </button>
                </Show>
            </div>
        </div>
        {move || sent_to.get().map(|to| view! {
            <p class="muted code-sent">{move || lifetime.lifetime_line(&to)}</p>
        })}
        <ErrorAlert error/>
    }
}

/// WebOTP: after a code is sent, asks the browser for an SMS bound to this site and puts its code
/// in the field. A browser without the API, or a code that goes by email, leaves the field as it
/// is; a new send or leaving the page cancels the wait.
#[cfg(feature = "hydrate")]
mod web_otp {
    use leptos::prelude::*;
    use send_wrapper::SendWrapper;
    use wasm_bindgen::{JsCast, JsValue};

    #[derive(Clone, Copy)]
    pub struct Listener {
        code: RwSignal<String>,
        pending: StoredValue<Option<SendWrapper<web_sys::AbortController>>>,
    }

    impl Listener {
        pub fn new(code: RwSignal<String>) -> Listener {
            let pending = StoredValue::new(None::<SendWrapper<web_sys::AbortController>>);
            on_cleanup(move || cancel(pending));
            Listener { code, pending }
        }

        pub fn listen(&self) {
            cancel(self.pending);
            let code = self.code;
            if let Some((controller, answer)) = request() {
                self.pending.set_value(Some(SendWrapper::new(controller)));
                wasm_bindgen_futures::spawn_local(async move {
                    if let Ok(credential) = wasm_bindgen_futures::JsFuture::from(answer).await
                        && let Some(value) = js_sys::Reflect::get(&credential, &"code".into())
                            .ok()
                            .and_then(|v| v.as_string())
                    {
                        code.set(value);
                    }
                });
            }
        }
    }

    fn cancel(pending: StoredValue<Option<SendWrapper<web_sys::AbortController>>>) {
        if let Some(Some(controller)) = pending.try_update_value(Option::take) {
            controller.abort();
        }
    }

    /// `navigator.credentials.get({otp: {transport: ["sms"]}, signal})`, where `OTPCredential` exists.
    fn request() -> Option<(web_sys::AbortController, js_sys::Promise)> {
        let window = web_sys::window()?;
        if !js_sys::Reflect::has(&window, &JsValue::from_str("OTPCredential")).unwrap_or(false) {
            return None;
        }
        let controller = web_sys::AbortController::new().ok()?;
        let options = web_sys::CredentialRequestOptions::new();
        options.set_signal(&controller.signal());
        let otp = js_sys::Object::new();
        let transport = js_sys::Array::of1(&JsValue::from_str("sms"));
        js_sys::Reflect::set(&otp, &"transport".into(), &transport).ok()?;
        js_sys::Reflect::set(options.unchecked_ref(), &"otp".into(), &otp).ok()?;
        let answer = window
            .navigator()
            .credentials()
            .get_with_options(&options)
            .ok()?;
        Some((controller, answer))
    }
}
