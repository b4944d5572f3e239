//! The platform operator's queue of open appeals, oldest first: what each one asks for, its
//! history, and the three steps (ask for more information, reject, approve). Rendered on the
//! server; the steps of each appeal are an island. The server refuses everyone but operators.

use crate::api::appeals::{ApproveAppeal, RejectAppeal, RequestAppealInfo, operator_appeals};
use crate::components::ErrorAlert;
use crate::error::AppError;
use crate::model::{AppealStepView, QueuedAppeal};
use crate::pages::identity::report_errors;
use leptos::prelude::*;

#[component]
pub fn OperatorAppealsPage() -> impl IntoView {
    let queue = Resource::new(|| (), |_| operator_appeals());
    view! {
        <h1>"Appeal queue"</h1>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match queue.await {
                    Ok(list) if list.is_empty() => view! {
                        <section class="card"><p>"No appeal is waiting for a decision."</p></section>
                    }.into_any(),
                    Ok(list) => view! {
                        <p class="muted">{format!("{} open, oldest first.", list.len())}</p>
                        {list.into_iter().map(|appeal| view! { <QueuedAppealCard appeal/> }).collect_view()}
                    }.into_any(),
                    Err(e) => view! { <p class="alert" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn QueuedAppealCard(appeal: QueuedAppeal) -> impl IntoView {
    let title = format!("appeal-{}", appeal.reference);
    let labelled_by = title.clone();
    view! {
        <section class="card appeal" aria-labelledby=labelled_by>
            <h2 id=title>{format!("Appeal {}", appeal.reference)}</h2>
            <dl class="facts">
                <dt>"Account"</dt><dd>{format!("{} ({})", appeal.account_name, appeal.account_id)}</dd>
                <dt>"Current number"</dt><dd>{appeal.current_phone.unwrap_or_else(|| "Not bound".into())}</dd>
                <dt>"Number asked for"</dt><dd>{appeal.new_phone}</dd>
                <dt>"Contact email"</dt><dd>{appeal.contact_email}</dd>
                <dt>"Reason"</dt><dd class="note">{appeal.reason}</dd>
                <dt>"Filed"</dt><dd>{appeal.filed_at}</dd>
                <dt>"Status"</dt><dd>{appeal.status}</dd>
            </dl>
            <AppealHistory steps=appeal.history/>
            <AppealDecision reference=appeal.reference/>
        </section>
    }
}

/// An appeal's steps, oldest first (shared with the filer's status page).
#[component]
pub fn AppealHistory(steps: Vec<AppealStepView>) -> impl IntoView {
    view! {
        <h3>"History"</h3>
        <ol class="history">
            {steps.into_iter().map(|step| view! {
                <li>
                    <span>{format!("{}: {} by {}", step.at, step.what, step.by)}</span>
                    {(!step.message.is_empty()).then(|| view! { <blockquote class="note">{step.message}</blockquote> })}
                </li>
            }).collect_view()}
        </ol>
    }
}

/// The three steps of one appeal. A step that succeeds replaces the forms with what it did.
#[island(lazy)]
fn AppealDecision(reference: String) -> impl IntoView {
    crate::components::mark_hydrated();
    let ask = ServerAction::<RequestAppealInfo>::new();
    let reject = ServerAction::<RejectAppeal>::new();
    let approve = ServerAction::<ApproveAppeal>::new();
    let error = RwSignal::new(None::<AppError>);
    report_errors(ask.value(), error);
    report_errors(reject.value(), error);
    report_errors(approve.value(), error);
    let done = Memo::new(move |_| {
        if let Some(Ok(())) = approve.value().get() {
            Some(
                "Approved: the number is bound, every session of the account was signed out and the filer was told.",
            )
        } else if let Some(Ok(())) = reject.value().get() {
            Some("Rejected: the filer was told the reason.")
        } else if let Some(Ok(())) = ask.value().get() {
            Some("Information requested: the appeal returns to the queue when the filer answers.")
        } else {
            None
        }
    });
    let pending = move || ask.pending().get() || reject.pending().get() || approve.pending().get();
    let (ask_id, reject_id) = (format!("ask-{reference}"), format!("reject-{reference}"));
    view! {
        {move || match done.get() {
            Some(text) => view! { <p class="success" role="status">{text}</p> }.into_any(),
            None => {
                let (for_ask, for_reject, for_approve) = (reference.clone(), reference.clone(), reference.clone());
                let (ask_id, reject_id) = (ask_id.clone(), reject_id.clone());
                view! {
                <div class="decision">
                    <ActionForm action=ask>
                        <DecisionNote reference=for_ask id=ask_id label="Message to the filer" name="message"/>
                        <button type="submit" class="secondary" disabled=pending>"Ask for more information"</button>
                    </ActionForm>
                    <ActionForm action=reject>
                        <DecisionNote reference=for_reject id=reject_id label="Reason for rejection" name="reason"/>
                        <button type="submit" class="secondary" disabled=pending>"Reject"</button>
                    </ActionForm>
                    <ActionForm action=approve>
                        <input type="hidden" name="reference" value=for_approve/>
                        <button type="submit" class="primary" disabled=pending>"Approve"</button>
                    </ActionForm>
                </div>
                }.into_any()
            }
        }}
        <ErrorAlert error/>
    }
}

/// The appeal's reference and a labelled text box, for a decision that carries a message.
#[component]
fn DecisionNote(
    reference: String,
    id: String,
    label: &'static str,
    name: &'static str,
) -> impl IntoView {
    view! {
        <input type="hidden" name="reference" value=reference/>
        <div class="field">
            <label for=id.clone()>{label}</label>
            <textarea id=id name=name maxlength="1000" rows="2"></textarea>
        </div>
    }
}
