//! The page a notice's undo link opens: what the change was, and one confirmation that undoes
//! it. Rendered on the server, so it reads the same without JavaScript; opening it changes
//! nothing.

use crate::api::undo::{UndoChange, get_undo_link};
use crate::components::ErrorAlert;
use crate::error::AppError;
use crate::model::{UndoState, UndoView};
use crate::pages::identity::report_errors;
use crate::pages::login::LoginCard;
use crate::tr;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

#[component]
pub fn UndoPage() -> impl IntoView {
    let token = use_params_map()
        .read_untracked()
        .get("token")
        .unwrap_or_default();
    let link = Resource::new(
        || (),
        move |_| {
            let token = token.clone();
            async move { get_undo_link(token.clone()).await.map(|view| (token, view)) }
        },
    );
    view! {
        <LoginCard title=tr!("undo-title")>
            <Suspense fallback=|| view! { <p class="muted">{tr!("loading")}</p> }>
                {move || Suspend::new(async move {
                    match link.await {
                        Ok((token, view)) => view! { <UndoDetails token view/> }.into_any(),
                        Err(e) => view! { <p class="alert" role="alert">{e.localized()}</p> }.into_any(),
                    }
                })}
            </Suspense>
            <p><a href="/login">{tr!("reset-back")}</a></p>
        </LoginCard>
    }
}

#[component]
fn UndoDetails(token: String, view: UndoView) -> impl IntoView {
    let refusal = match view.state {
        UndoState::Ready => None,
        UndoState::Used => Some(AppError::UndoLinkUsed),
        UndoState::Expired => Some(AppError::UndoLinkExpired),
        UndoState::Superseded => Some(AppError::UndoLinkSuperseded),
    };
    let previous = view.previous_phone.clone();
    view! {
        <dl class="facts" aria-label=tr!("undo-the-change")>
            <dt>{tr!("sign-in-account")}</dt><dd>{view.display_name}</dd>
            <dt>{tr!("undo-changed")}</dt><dd>{tr!("undo-changed-by", at = view.changed_at, by = view.changed_by)}</dd>
            <dt>{tr!("undo-previous")}</dt><dd>{view.previous_phone}</dd>
            <dt>{tr!("undo-new")}</dt><dd>{view.new_phone}</dd>
        </dl>
        {match refusal {
            Some(refusal) => view! { <p class="alert" role="alert">{refusal.localized()}</p> }.into_any(),
            None => view! {
                <p>{tr!("undo-explain")}</p>
                <p class="muted">{tr!("undo-until", at = view.expires_at)}</p>
                <UndoConfirm token previous/>
            }.into_any(),
        }}
    }
}

/// The one confirmation.
#[island(lazy)]
fn UndoConfirm(token: String, previous: String) -> impl IntoView {
    crate::components::mark_hydrated();
    let undo = ServerAction::<UndoChange>::new();
    let error = RwSignal::new(None::<AppError>);
    report_errors(undo.value(), error);
    view! {
        {move || match undo.value().get() {
            Some(Ok(_)) => view! {
                <p class="success" role="status">{tr!("undo-done", previous = previous)}</p>
                <p><a href="/forgot-password">{tr!("reset-title")}</a></p>
            }.into_any(),
            _ => {
                let token = token.clone();
                view! {
                <ActionForm action=undo>
                    <input type="hidden" name="token" value=token/>
                    <button type="submit" class="primary wide" disabled=move || undo.pending().get()>
                        {tr!("undo-restore")}
                    </button>
                </ActionForm>
                <ErrorAlert error/>
                }.into_any()
            }
        }}
    }
}
