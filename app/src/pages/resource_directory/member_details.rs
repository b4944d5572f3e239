//! The member details page: Basic Information with **Modify** (or Bind) next to the Mobile
//! Phone Number, and the member's audit events.

use super::phone_dialog::{PhoneDialogHost, PhoneDialogs};
use super::{AccessDenied, Crumbs, Loaded, status_label};
use crate::api::directory::{rd_member, rd_member_events};
use crate::components::load;
use crate::error::AppError;
use crate::model::{AuditView, Me, MemberDetails};
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
            <a href="/resource-directory/management?view=list">"Management"</a>
            <span aria-hidden="true">" > "</span>
            <span aria-current="page">"Member details"</span>
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
            Some(Err(error)) => view! { <p class="alert" role="alert">{error.to_string()}</p> }.into_any(),
        }}
        <section class="card" aria-labelledby="rd-events-title">
            <h2 id="rd-events-title">"Audit Events"</h2>
            {move || match events.get() {
                None => ().into_any(),
                Some(Ok(events)) if events.is_empty() => {
                    view! { <p class="muted">"No events yet."</p> }.into_any()
                }
                Some(Ok(events)) => view! { <AuditTable events/> }.into_any(),
                Some(Err(error)) => view! { <p class="alert" role="alert">{error.to_string()}</p> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn BasicInformation(details: MemberDetails, dialogs: PhoneDialogs) -> impl IntoView {
    let member = details.member.clone();
    let facts = [
        ("Account ID", member.account_id.clone()),
        ("Display Name", member.display_name.clone()),
        ("Type", member.member_type.label().to_string()),
        ("Folder", details.folder_path.join(" / ")),
        ("Status", status_label(&member.status).to_string()),
        (
            "Country/Region",
            format!("{} (+{})", member.region, member.calling_code),
        ),
        ("Logon Email", details.masked_email.clone()),
        ("Joined", member.joined_at.clone()),
    ];
    let has_phone = member.masked_phone.is_some();
    let phone = member
        .masked_phone
        .clone()
        .unwrap_or_else(|| "Not bound".into());
    let title = member.display_name.clone();
    let open = move |_| dialogs.open(member.clone());
    view! {
        <h1>{title}</h1>
        <section class="card" aria-labelledby="rd-basic-information">
            <h2 id="rd-basic-information">"Basic Information"</h2>
            <dl class="facts">
                {facts
                    .into_iter()
                    .map(|(term, value)| view! { <dt>{term}</dt> <dd>{value}</dd> })
                    .collect_view()}
                <dt>"Mobile Phone Number"</dt>
                <dd>
                    <span class="phone">{phone}</span>
                    <button type="button" class="link" on:click=open>
                        {if has_phone { "Modify" } else { "Bind Mobile Phone Number" }}
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
                    <th scope="col">"Time (UTC)"</th>
                    <th scope="col">"Principal"</th>
                    <th scope="col">"Action"</th>
                    <th scope="col">"Outcome"</th>
                    <th scope="col">"Detail"</th>
                    <th scope="col">"Client IP"</th>
                </tr>
            </thead>
            <tbody>
                {events
                    .into_iter()
                    .map(|e| {
                        view! {
                            <tr>
                                <td>{e.at}</td>
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
