//! An appeal's status page, for the owner who filed it: what was asked for, each step taken
//! since, and, while the operator waits for one, the form that answers the operator's question.

use crate::api::appeals::{AnswerAppeal, appeal_status};
use crate::components::ErrorAlert;
use crate::error::AppError;
use crate::model::AppealDetails;
use crate::pages::identity::report_errors;
use crate::pages::operator_appeals::AppealHistory;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

#[component]
pub fn AppealStatusPage() -> impl IntoView {
    let reference = use_params_map()
        .read_untracked()
        .get("reference")
        .unwrap_or_default();
    let appeal = Resource::new(move || reference.clone(), appeal_status);
    view! {
        <h1>"Appeal"</h1>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match appeal.await {
                    Ok(details) => view! { <AppealCard details/> }.into_any(),
                    Err(e) => view! { <p class="alert" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
        <p><a href="/security">"Back to Security Settings"</a></p>
    }
}

#[component]
fn AppealCard(details: AppealDetails) -> impl IntoView {
    let reference = details.reference.clone();
    view! {
        <section class="card" aria-labelledby="appeal-status">
            <h2 id="appeal-status">{format!("Appeal {}", details.reference)}</h2>
            <dl class="facts">
                <dt>"Status"</dt><dd class="appeal-status">{details.status}</dd>
                <dt>"Number to bind"</dt><dd>{details.masked_phone}</dd>
                <dt>"Contact email"</dt><dd>{details.masked_contact}</dd>
                <dt>"Reason"</dt><dd class="note">{details.reason}</dd>
                <dt>"Filed"</dt><dd>{details.filed_at}</dd>
            </dl>
            {details.question.map(|question| view! {
                <h3>"More information requested"</h3>
                <blockquote class="note">{question}</blockquote>
                <AppealAnswer reference/>
            })}
            <AppealHistory steps=details.history/>
        </section>
    }
}

/// The filer's text answer; once sent, the appeal is back in the operator's queue.
#[island(lazy)]
fn AppealAnswer(reference: String) -> impl IntoView {
    crate::components::mark_hydrated();
    let answer = ServerAction::<AnswerAppeal>::new();
    let error = RwSignal::new(None::<AppError>);
    report_errors(answer.value(), error);
    view! {
        {move || match answer.value().get() {
            Some(Ok(())) => view! {
                <p class="success" role="status">"Your answer was sent. The appeal is back with the operator."</p>
            }.into_any(),
            _ => {
                let reference = reference.clone();
                view! {
                <ActionForm action=answer>
                    <input type="hidden" name="reference" value=reference/>
                    <div class="field">
                        <label for="appeal-answer">"Your answer"</label>
                        <textarea id="appeal-answer" name="answer" maxlength="1000" rows="3"></textarea>
                    </div>
                    <button type="submit" class="primary" disabled=move || answer.pending().get()>"Send answer"</button>
                </ActionForm>
                }.into_any()
            }
        }}
        <ErrorAlert error/>
    }
}
