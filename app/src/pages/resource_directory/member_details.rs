//! The member details page: Basic Information with **Modify** (or Bind) next to the Mobile
//! Phone Number, and the member's audit events.

use super::phone_dialog::{PhoneDialogHost, PhoneDialogs};
use super::{AccessDenied, Crumbs, Loaded, status_label};
use crate::api::directory::{rd_member, rd_member_events};
use crate::components::load;
use crate::error::AppError;
use crate::model::{AuditView, Me, MemberDetails};
use crate::tr;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

#[component]
pub fn MemberDetailsPage() -> impl IntoView {
    let me = expect_context::<Me>();
    if !me.can_manage_directory {
        return view! { <AccessDenied/> }.into_any();
    }
    let id = use_params_map()
        .read_untracked()
        .get("account_id")
        .unwrap_or_default();
    let data = Resource::new(
        || (),
        move |_| {
            let id = id.clone();
            async move {
                let details = rd_member(id.clone()).await?;
                let events = rd_member_events(id.clone()).await?;
                Ok::<_, AppError>((id, details, events))
            }
        },
    );
    view! {
        <Crumbs>
            <a href="/resource-directory/management?view=list">{tr!("nav-management")}</a>
            <span aria-hidden="true">" > "</span>
            <span aria-current="page">{tr!("rd-member-details")}</span>
        </Crumbs>
        <Loaded data show=move |(id, details, events)| view! { <MemberConsole id details events/> }/>
    }
    .into_any()
}

/// Basic Information and the audit events, both read again after the phone dialog changed the
/// number: the page's island.
#[island(lazy)]
fn MemberConsole(id: String, details: MemberDetails, events: Vec<AuditView>) -> impl IntoView {
    crate::components::mark_hydrated();
    let dialogs = PhoneDialogs::new();
    let details = {
        let id = id.clone();
        load(
            move || dialogs.changed(),
            Some(details),
            move |_| rd_member(id.clone()),
        )
    };
    let events = load(
        move || dialogs.changed(),
        Some(events),
        move |_| rd_member_events(id.clone()),
    );
    view! {
        <PhoneDialogHost dialogs/>
        {move || match details.get() {
            None => ().into_any(),
            Some(Ok(details)) => view! { <BasicInformation details dialogs/> }.into_any(),
            Some(Err(error)) => view! { <p class="alert" role="alert">{error.localized()}</p> }.into_any(),
        }}
        <section class="card" aria-labelledby="rd-events-title">
            <h2 id="rd-events-title">{tr!("rd-audit-events")}</h2>
            {move || match events.get() {
                None => ().into_any(),
                Some(Ok(events)) if events.is_empty() => {
                    view! { <p class="muted">{tr!("rd-no-events")}</p> }.into_any()
                }
                Some(Ok(events)) => view! { <AuditTable events/> }.into_any(),
                Some(Err(error)) => view! { <p class="alert" role="alert">{error.localized()}</p> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn BasicInformation(details: MemberDetails, dialogs: PhoneDialogs) -> impl IntoView {
    let member = details.member.clone();
    let facts = [
        (tr!("overview-account-id"), member.account_id.clone()),
        (tr!("rd-col-name"), member.display_name.clone()),
        (tr!("rd-col-type"), member.member_type.localized()),
        (tr!("rd-col-folder"), details.folder_path.join(" / ")),
        (tr!("appeal-col-status"), status_label(&member.status)),
        (
            tr!("rd-region"),
            format!("{} (+{})", member.region, member.calling_code),
        ),
        (tr!("security-email"), details.masked_email.clone()),
        (tr!("rd-col-joined"), member.joined_at.clone()),
    ];
    let has_phone = member.masked_phone.is_some();
    let phone = member
        .masked_phone
        .clone()
        .unwrap_or_else(|| tr!("security-not-bound"));
    let title = member.display_name.clone();
    let open = move |_| dialogs.open(member.clone());
    view! {
        <h1>{title}</h1>
        <section class="card" aria-labelledby="rd-basic-information">
            <h2 id="rd-basic-information">{tr!("rd-basic-information")}</h2>
            <dl class="facts">
                {facts
                    .into_iter()
                    .map(|(term, value)| view! { <dt>{term}</dt> <dd>{value}</dd> })
                    .collect_view()}
                <dt>{tr!("security-phone")}</dt>
                <dd>
                    <span class="phone">{phone}</span>
                    <button type="button" class="link" on:click=open>
                        {if has_phone { tr!("action-modify") } else { tr!("rd-bind-phone") }}
                    </button>
                </dd>
            </dl>
        </section>
    }
}

/// The member's audit events, newest first.
#[component]
fn AuditTable(events: Vec<AuditView>) -> impl IntoView {
    view! {
        <table class="table">
            <thead>
                <tr>
                    <th scope="col">{tr!("rd-col-time")}</th>
                    <th scope="col">{tr!("rd-col-principal")}</th>
                    <th scope="col">{tr!("log-col-action")}</th>
                    <th scope="col">{tr!("rd-col-outcome")}</th>
                    <th scope="col">{tr!("log-col-detail")}</th>
                    <th scope="col">{tr!("rd-col-client-ip")}</th>
                </tr>
            </thead>
            <tbody>
                {events
                    .into_iter()
                    .map(|e| {
                        view! {
                            <tr>
                                <td><crate::components::LocalTime at=e.at/></td>
                                <td>{e.principal}</td>
                                <td>{e.action}</td>
                                <td>{e.outcome}</td>
                                <td>{e.detail}</td>
                                <td>{e.client_ip}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}
