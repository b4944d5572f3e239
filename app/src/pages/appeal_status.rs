//! An appeal's status page, for the owner who filed it: what was asked for, each step taken
//! since, and, while the operator waits for one, the form that answers the operator's question.

use crate::api::appeals::{AnswerAppeal, appeal_status};
use crate::components::ErrorAlert;
use crate::error::AppError;
use crate::model::AppealDetails;
use crate::pages::identity::report_errors;
use crate::pages::operator_appeals::AppealHistory;
use crate::tr;
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
        <h1>{tr!("appeal-heading")}</h1>
        <Suspense fallback=|| view! { <p class="muted">{tr!("loading")}</p> }>
            {move || Suspend::new(async move {
                match appeal.await {
                    Ok(details) => view! { <AppealCard details/> }.into_any(),
                    Err(e) => view! { <p class="alert" role="alert">{e.localized()}</p> }.into_any(),
                }
            })}
        </Suspense>
        <p><a href="/security">{tr!("appeal-back")}</a></p>
    }
}

#[component]
fn AppealCard(details: AppealDetails) -> impl IntoView {
    let reference = details.reference.clone();
    view! {
        <section class="card" aria-labelledby="appeal-status">
            <h2 id="appeal-status">{tr!("appeal-title", reference = details.reference)}</h2>
            <dl class="facts">
                <dt>{tr!("appeal-col-status")}</dt><dd class="appeal-status">{details.status}</dd>
                <dt>{tr!("appeal-number-to-bind")}</dt><dd>{details.masked_phone}</dd>
                <dt>{tr!("appeal-email")}</dt><dd>{details.masked_contact}</dd>
                <dt>{tr!("appeal-reason")}</dt><dd class="note">{details.reason}</dd>
                <dt>{tr!("appeal-col-filed")}</dt><dd><crate::components::LocalTime at=details.filed_at/></dd>
            </dl>
            {details.question.map(|question| view! {
                <h3>{tr!("appeal-more-info")}</h3>
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
                <p class="success" role="status">{tr!("appeal-answer-sent")}</p>
            }.into_any(),
            _ => {
                let reference = reference.clone();
                view! {
                <ActionForm action=answer>
                    <input type="hidden" name="reference" value=reference/>
                    <div class="field">
                        <label for="appeal-answer">{tr!("appeal-your-answer")}</label>
                        <textarea id="appeal-answer" name="answer" maxlength="1000" rows="3"></textarea>
                    </div>
                    <button type="submit" class="primary" disabled=move || answer.pending().get()>{tr!("appeal-send-answer")}</button>
                </ActionForm>
                }.into_any()
            }
        }}
        <ErrorAlert error/>
    }
}
