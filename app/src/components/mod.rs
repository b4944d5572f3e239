//! Small widgets shared by several pages.

mod code_entry;

pub(crate) use code_entry::Countdown;
pub use code_entry::{CodeEntry, SendAnswer};

use crate::error::{AppError, AppResult};
use leptos::prelude::*;
use std::future::Future;

/// A full page load, so every resource is read again for the new session.
pub fn hard_navigate(path: &str) {
    #[cfg(feature = "hydrate")]
    {
        let _ = window().location().set_href(path);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = path;
}

/// Counts this island in `<body data-islands-hydrated>` once it has hydrated, so that a test (or
/// a script) can wait until every `<leptos-island>` answers clicks before it clicks. Each island
/// calls it first; on the server it does nothing.
pub fn mark_hydrated() {
    #[cfg(feature = "hydrate")]
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let count = body
                .get_attribute("data-islands-hydrated")
                .and_then(|n| n.parse::<u32>().ok())
                .unwrap_or(0);
            let _ = body.set_attribute("data-islands-hydrated", &(count + 1).to_string());
        }
    });
}

/// Gives the focus back, when the calling component goes away (a dialog closes), to whatever had
/// it when the component was made: the button that opened the dialog.
pub fn return_focus_on_close() {
    #[cfg(feature = "hydrate")]
    {
        let opener = send_wrapper::SendWrapper::new(document().active_element());
        on_cleanup(move || {
            use wasm_bindgen::JsCast;
            if let Some(opener) = opener.take()
                && opener.is_connected()
                && let Some(opener) = opener.dyn_ref::<web_sys::HtmlElement>()
            {
                let _ = opener.focus();
            }
        });
    }
}

/// A dialog's focus: put the reference on its `<section role="dialog" tabindex="-1">`. When the
/// dialog opens the focus moves into it, so a keyboard or screen-reader user is where the dialog
/// is; when it closes the focus goes back to the button that opened it.
pub fn dialog_focus() -> NodeRef<leptos::html::Section> {
    let node = NodeRef::<leptos::html::Section>::new();
    return_focus_on_close();
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if let Some(dialog) = node.get() {
            let _ = dialog.focus();
        }
    });
    node
}

/// The error of the last attempt, announced to screen readers.
#[component]
pub fn ErrorAlert(#[prop(into)] error: Signal<Option<AppError>>) -> impl IntoView {
    move || {
        error.get().map(|e| {
            view! { <p class="alert" role="alert">{e.to_string()}</p> }
        })
    }
}

/// The error in an action's last result, if any.
pub fn action_error<T, S>(value: S) -> Signal<Option<AppError>>
where
    T: Clone + Send + Sync + 'static,
    S: Get<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
{
    Signal::derive(move || value.get().and_then(|r| r.err()))
}

/// A value an island reads from the server: `initial` is what the page was rendered with (so
/// hydration finds the same nodes and nothing is fetched twice); each later change of `source`
/// fetches again in the browser. The previous value stays until the new one arrives, and an
/// answer that a newer request overtook is dropped.
pub fn load<S, T, Fut>(
    source: impl Fn() -> S + Send + Sync + 'static,
    initial: Option<T>,
    fetch: impl Fn(S) -> Fut + Send + Sync + 'static,
) -> RwSignal<Option<AppResult<T>>>
where
    S: 'static,
    T: Send + Sync + 'static,
    Fut: Future<Output = AppResult<T>> + 'static,
{
    let value = RwSignal::new(initial.map(Ok));
    let skip_first = value.with_untracked(Option::is_some);
    let latest = StoredValue::new(0u64);
    Effect::new(move |ran: Option<()>| {
        let args = source();
        if ran.is_none() && skip_first {
            return;
        }
        latest.update_value(|n| *n += 1);
        let mine = latest.get_value();
        let answer = fetch(args);
        leptos::task::spawn_local(async move {
            let answer = answer.await;
            if latest.get_value() == mine {
                value.set(Some(answer));
            }
        });
    });
    value
}

#[component]
pub fn EditIcon() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">
            <path d="M11.3 1.3a1 1 0 0 1 1.4 0l2 2a1 1 0 0 1 0 1.4l-8.5 8.5-3.6.9.9-3.6z" fill="currentColor"/>
        </svg>
    }
}
