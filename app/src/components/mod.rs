//! Small widgets shared by several pages.

mod code_entry;

pub(crate) use code_entry::Countdown;
pub use code_entry::{CodeEntry, SendAnswer};

use crate::error::{AppError, AppResult};
use crate::tr;
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

/// The language switcher: the other language, by its own name; a click saves the choice (the
/// cookie, and the owner's account) and loads the page again in it. Without script the form
/// posts and the server sends the browser back to the page.
#[island]
pub fn LanguageSwitch() -> impl IntoView {
    mark_hydrated();
    let other = crate::i18n::locale().other();
    let switch = ServerAction::<crate::api::account::SetLanguage>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = switch.value().get() {
            #[cfg(feature = "hydrate")]
            let _ = window().location().reload();
        }
    });
    view! {
        <ActionForm action=switch attr:class="inline language-switch">
            <input type="hidden" name="language" value=other.tag()/>
            <button type="submit" class="link" lang=other.tag() title=tr!("language-switch")>
                {other.native_name()}
            </button>
        </ActionForm>
    }
}

/// A moment, as the server writes it (UTC, `2026-12-04 14:05 UTC`) until the page's
/// `LocalTimes` puts it in the reader's time zone and language. `at` is RFC 3339.
#[component]
pub fn LocalTime(#[prop(into)] at: String) -> impl IntoView {
    let utc = at.get(..16).map(|t| format!("{} UTC", t.replace('T', " ")));
    let shown = utc.unwrap_or_else(|| at.clone());
    view! { <time datetime=at>{shown}</time> }
}

/// Puts every `<time datetime>` of the page in the reader's time zone and language, as the
/// browser's `Intl.DateTimeFormat` writes them (`4 Dec 2026, 22:05` / `2026年12月4日 22:05`);
/// the UTC time stays in the element's title. Without script the UTC time stays.
#[island]
pub fn LocalTimes() -> impl IntoView {
    mark_hydrated();
    #[cfg(feature = "hydrate")]
    Effect::new(|_| local_times(crate::i18n::locale()));
}

#[cfg(feature = "hydrate")]
fn local_times(locale: crate::i18n::Locale) {
    use wasm_bindgen::{JsCast, JsValue};
    let Ok(list) = document().query_selector_all("time[datetime]") else {
        return;
    };
    let options = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&options, &"dateStyle".into(), &"medium".into());
    let _ = js_sys::Reflect::set(&options, &"timeStyle".into(), &"short".into());
    for i in 0..list.length() {
        let Some(element) = list
            .item(i)
            .and_then(|n| n.dyn_into::<web_sys::Element>().ok())
        else {
            continue;
        };
        let Some(at) = element.get_attribute("datetime") else {
            continue;
        };
        let date = js_sys::Date::new(&JsValue::from_str(&at));
        if date.get_time().is_nan() {
            continue;
        }
        let local = date.to_locale_string(locale.tag(), &options);
        // The text node's content changes, not the node: an island that rendered it keeps its
        // hold on it (and puts its own text back when it renders the time again).
        if let (Some(text), Some(node)) = (local.as_string(), element.first_child()) {
            let utc = element.text_content().unwrap_or_default();
            let _ = element.set_attribute("title", &utc);
            node.set_node_value(Some(&text));
        }
    }
}

/// The error of the last attempt, announced to screen readers.
#[component]
pub fn ErrorAlert(#[prop(into)] error: Signal<Option<AppError>>) -> impl IntoView {
    move || {
        error.get().map(|e| {
            view! { <p class="alert" role="alert">{e.localized()}</p> }
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
