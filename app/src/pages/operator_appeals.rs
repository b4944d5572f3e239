//! The platform operator's queue of open appeals, oldest first: what each one asks for, its
//! history, and the three steps (ask for more information, reject, approve). Rendered on the
//! server; the steps of each appeal are an island. The server refuses everyone but operators.

use crate::api::appeals::{ApproveAppeal, RejectAppeal, RequestAppealInfo, operator_appeals};
use crate::components::ErrorAlert;
use crate::error::AppError;
use crate::model::{AppealStepView, QueuedAppeal};
use crate::pages::identity::report_errors;
use crate::tr;
use leptos::prelude::*;

#[component]
pub fn OperatorAppealsPage() -> impl IntoView {
    let queue = Resource::new(|| (), |_| operator_appeals());
    view! {
        <h1>{tr!("nav-appeal-queue")}</h1>
        <Suspense fallback=|| view! { <p class="muted">{tr!("loading")}</p> }>
            {move || Suspend::new(async move {
                match queue.await {
                    Ok(list) if list.is_empty() => view! {
                        <section class="card"><p>{tr!("queue-empty")}</p></section>
                    }.into_any(),
                    Ok(list) => view! {
                        <p class="muted">{tr!("queue-open", n = list.len())}</p>
                        {list.into_iter().map(|appeal| view! { <QueuedAppealCard appeal/> }).collect_view()}
                    }.into_any(),
                    Err(e) => view! { <p class="alert" role="alert">{e.localized()}</p> }.into_any(),
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
            <h2 id=title>{tr!("appeal-title", reference = appeal.reference)}</h2>
            <dl class="facts">
                <dt>{tr!("sign-in-account")}</dt><dd>{format!("{} ({})", appeal.account_name, appeal.account_id)}</dd>
                <dt>{tr!("queue-current-number")}</dt><dd>{appeal.current_phone.unwrap_or_else(|| tr!("security-not-bound"))}</dd>
                <dt>{tr!("queue-number-asked")}</dt><dd>{appeal.new_phone}</dd>
                <dt>{tr!("appeal-email")}</dt><dd>{appeal.contact_email}</dd>
                <dt>{tr!("appeal-reason")}</dt><dd class="note">{appeal.reason}</dd>
                <dt>{tr!("appeal-col-filed")}</dt><dd><crate::components::LocalTime at=appeal.filed_at/></dd>
                <dt>{tr!("appeal-col-status")}</dt><dd>{appeal.status}</dd>
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
        <h3>{tr!("queue-history")}</h3>
        <ol class="history">
            {steps.into_iter().map(|step| view! {
                <li>
                    <span>{tr!("queue-step", at = step.at, what = step.what, by = step.by)}</span>
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
            Some(tr!("queue-approved"))
        } else if let Some(Ok(())) = reject.value().get() {
            Some(tr!("queue-rejected"))
        } else if let Some(Ok(())) = ask.value().get() {
            Some(tr!("queue-asked"))
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
                        <DecisionNote reference=for_ask id=ask_id label=tr!("queue-message-label") name="message"/>
                        <button type="submit" class="secondary" disabled=pending>{tr!("queue-ask")}</button>
                    </ActionForm>
                    <ActionForm action=reject>
                        <DecisionNote reference=for_reject id=reject_id label=tr!("queue-reject-reason") name="reason"/>
                        <button type="submit" class="secondary" disabled=pending>{tr!("queue-reject")}</button>
                    </ActionForm>
                    <ActionForm action=approve>
                        <input type="hidden" name="reference" value=for_approve/>
                        <button type="submit" class="primary" disabled=pending>{tr!("queue-approve")}</button>
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
fn DecisionNote(reference: String, id: String, label: String, name: &'static str) -> impl IntoView {
    view! {
        <input type="hidden" name="reference" value=reference/>
        <div class="field">
            <label for=id.clone()>{label}</label>
            <textarea id=id name=name maxlength="1000" rows="2"></textarea>
        </div>
    }
}
