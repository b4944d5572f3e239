//! Resource Directory > Management (SPEC 5): the page shells rendered on the server, and the
//! management console's island with its two views. One file per view or dialog:
//! `organization_view` (the folder tree), `member_list` (the member table), `member_details`
//! (the member details page) and `phone_dialog` (Bind / Modify, mounted once per console).

mod member_details;
mod member_list;
mod organization_view;
mod phone_dialog;

pub use member_details::MemberDetailsPage;

use crate::error::{AppError, AppResult};
use crate::model::{DirectoryView, Me, MemberPage};
use crate::tr;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use member_list::{MemberTable, MembersQuery};
use organization_view::OrganizationView;
use phone_dialog::{PhoneDialogHost, PhoneDialogs};

#[component]
pub fn AccessDenied() -> impl IntoView {
    view! {
        <section class="card denied">
            <h1>{tr!("sso-denied")}</h1>
            <p>{tr!("rd-denied")}</p>
        </section>
    }
}

/// "Resource Directory > …": the page's place in the console.
#[component]
fn Crumbs(children: Children) -> impl IntoView {
    view! {
        <nav class="rd-crumbs" aria-label=tr!("rd-breadcrumb")>
            <span>{tr!("nav-resource-directory")}</span>
            <span aria-hidden="true">" > "</span>
            {children()}
        </nav>
    }
}

/// A page's data, read on the server before the page is sent (so it needs no script), then
/// shown, or its error in `role="alert"`.
#[component]
fn Loaded<T, V, F>(data: Resource<AppResult<T>>, show: F) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
    F: Fn(T) -> V + Clone + Send + Sync + 'static,
    V: IntoView + 'static,
{
    view! {
        <Suspense fallback=|| view! { <p class="muted">{tr!("loading")}</p> }>
            {move || {
                let show = show.clone();
                Suspend::new(async move {
                    match data.await {
                        Ok(value) => show(value).into_any(),
                        Err(error) => view! { <p class="alert" role="alert">{error.localized()}</p> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

fn status_label(status: &str) -> String {
    match status {
        "active" => tr!("rd-status-active"),
        "closed" => tr!("rd-status-closed"),
        _ => tr!("rd-status-unknown"),
    }
}

#[component]
pub fn ManagementPage() -> impl IntoView {
    let me = expect_context::<Me>();
    if !me.can_manage_directory {
        return view! { <AccessDenied/> }.into_any();
    }
    let list = use_query_map().read_untracked().get("view").as_deref() == Some("list");
    // The island starts from the tree and the first page it shows: the Member List View's, or
    // the root folder's in the Resource Organization View.
    let data = Resource::new(
        || (),
        move |_| async move {
            let tree = crate::api::directory::rd_tree().await?;
            let folder = tree
                .folders
                .first()
                .filter(|_| !list)
                .map(|root| root.id.clone());
            let page = MembersQuery::first(folder).fetch().await?;
            Ok::<_, AppError>((tree, page))
        },
    );
    view! {
        <Crumbs>
            <span aria-current="page">{tr!("nav-management")}</span>
        </Crumbs>
        <h1>{tr!("nav-management")}</h1>
        <Loaded data show=move |(tree, first_page)| view! { <DirectoryConsole list tree first_page/> }/>
    }
    .into_any()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DirectoryTab {
    Organization,
    MemberList,
}

/// The two views of the directory and the phone dialog: the page's island.
#[island(lazy)]
fn DirectoryConsole(list: bool, tree: DirectoryView, first_page: MemberPage) -> impl IntoView {
    crate::components::mark_hydrated();
    let dialogs = PhoneDialogs::new();
    // The page the server rendered goes to the first table shown, once.
    let first_page = StoredValue::new(Some(first_page));
    let initial = move || first_page.try_update_value(Option::take).flatten();
    let tab = RwSignal::new(if list {
        DirectoryTab::MemberList
    } else {
        DirectoryTab::Organization
    });
    view! {
        <div class="rd-tabs">
            <TabButton tab which=DirectoryTab::Organization label=tr!("rd-org-view")/>
            <TabButton tab which=DirectoryTab::MemberList label=tr!("rd-list-view")/>
        </div>
        <PhoneDialogHost dialogs/>
        {move || match tab.get() {
            DirectoryTab::Organization => {
                view! { <OrganizationView tree=tree.clone() initial dialogs/> }.into_any()
            }
            DirectoryTab::MemberList => {
                view! {
                    <section class="card" aria-label=tr!("rd-list-view")>
                        <MemberTable folder=Signal::stored(None) searchable=true initial=initial() dialogs/>
                    </section>
                }
                    .into_any()
            }
        }}
    }
}

#[component]
fn TabButton(tab: RwSignal<DirectoryTab>, which: DirectoryTab, label: String) -> impl IntoView {
    view! {
        <button
            type="button"
            class="rd-tab"
            class:rd-tab-active=move || tab.get() == which
            aria-pressed=move || (tab.get() == which).to_string()
            on:click=move |_| tab.set(which)
        >
            {label}
        </button>
    }
}
