//! Resource Directory > Management: the Resource Organization View, the Member List View, the
//! member details page, and the dialogs that bind or modify a member's mobile phone number.

use crate::api::directory::{
    DEFAULT_PAGE_SIZE, RdBindPhone, RdSendCode, rd_member, rd_member_events, rd_members, rd_tree,
};
use crate::components::{Countdown, ErrorAlert, load};
use crate::error::AppError;
use crate::model::{
    AuditView, DirectoryView, FolderView, Me, MemberDetails, MemberPage, MemberSort, MemberView,
};
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

#[component]
pub fn AccessDenied() -> impl IntoView {
    view! {
        <section class="card denied">
            <h1>"Access denied"</h1>
            <p>"You do not have permission to use Resource Management. Ask the account administrator to grant AliyunResourceDirectoryFullAccess."</p>
        </section>
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DirectoryTab {
    Organization,
    MemberList,
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
            let tree = rd_tree().await?;
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
        <nav class="rd-crumbs" aria-label="Breadcrumb">
            <span>"Resource Directory"</span>
            <span aria-hidden="true">" > "</span>
            <span aria-current="page">"Management"</span>
        </nav>
        <h1>"Management"</h1>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok((tree, first_page)) => view! { <DirectoryConsole list tree first_page/> }.into_any(),
                    Err(error) => view! { <p class="alert" role="alert">{error.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
    .into_any()
}

/// The two views of the directory and the phone dialogs: the page's island.
#[island(lazy)]
fn DirectoryConsole(list: bool, tree: DirectoryView, first_page: MemberPage) -> impl IntoView {
    // The page the server rendered goes to the first table shown, once.
    let first_page = StoredValue::new(Some(first_page));
    let initial = move || first_page.try_update_value(Option::take).flatten();
    let tab = RwSignal::new(if list {
        DirectoryTab::MemberList
    } else {
        DirectoryTab::Organization
    });
    let tab_button = move |which: DirectoryTab, label: &'static str| {
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
    };
    view! {
        <div class="rd-tabs">
            {tab_button(DirectoryTab::Organization, "Resource Organization View")}
            {tab_button(DirectoryTab::MemberList, "Member List View")}
        </div>
        {move || match tab.get() {
            DirectoryTab::Organization => view! { <OrganizationView tree=tree.clone() initial/> }.into_any(),
            DirectoryTab::MemberList => {
                view! {
                    <section class="card" aria-label="Member List View">
                        <MemberTable folder=Signal::stored(None) searchable=true initial=initial()/>
                    </section>
                }
                    .into_any()
            }
        }}
    }
}

/// The folder tree on the left, the selected folder's members on the right.
#[component]
fn OrganizationView(
    tree: DirectoryView,
    initial: impl Fn() -> Option<MemberPage> + Send + Sync + 'static,
) -> impl IntoView {
    // The root folder is selected from the start.
    let root = tree
        .folders
        .first()
        .map(|root| (root.id.clone(), root.name.clone()));
    let selected = RwSignal::new(root);
    let collapsed = RwSignal::new(HashSet::<String>::new());
    view! {
        <div class="rd-org">
            <section class="card rd-tree-card" aria-labelledby="rd-tree-title">
                <h2 id="rd-tree-title">"Folders"</h2>
                <ul class="rd-tree" role="tree" aria-labelledby="rd-tree-title">
                    {folder_items(Arc::new(tree.folders), selected, collapsed)}
                </ul>
            </section>
            <section class="card rd-folder-members" aria-labelledby="rd-folder-title">
                <h2 id="rd-folder-title">
                    {move || match selected.get() {
                        Some((_, name)) => format!("Members of {name}"),
                        None => "Members".to_string(),
                    }}
                </h2>
                {move || match selected.get() {
                    Some((id, _)) => view! { <MemberTable folder=Signal::stored(Some(id)) searchable=false initial=initial()/> }.into_any(),
                    None => view! { <p class="muted">"Select a folder to see its members."</p> }.into_any(),
                }}
            </section>
        </div>
    }
}

/// The folders as tree items, in the server's order (parents first, siblings by name). The list
/// is flat, with `aria-level`: a collapsed folder hides its descendants instead of removing them,
/// so the page the server rendered and the one the browser hydrates have the same nodes.
fn folder_items(
    folders: Arc<Vec<FolderView>>,
    selected: RwSignal<Option<(String, String)>>,
    collapsed: RwSignal<HashSet<String>>,
) -> impl IntoView {
    let parents: HashMap<String, Option<String>> = folders
        .iter()
        .map(|f| (f.id.clone(), f.parent_id.clone()))
        .collect();
    folders
        .iter()
        .map(|folder| {
            let has_children = folders.iter().any(|c| c.parent_id.as_deref() == Some(folder.id.as_str()));
            let id = folder.id.clone();
            let name = folder.name.clone();
            // Every ancestor, nearest first (bounded: folders nest at most 5 levels).
            let mut ancestors = Vec::new();
            let mut next = folder.parent_id.clone();
            while let Some(parent) = next.filter(|_| ancestors.len() < 16) {
                next = parents.get(&parent).cloned().flatten();
                ancestors.push(parent);
            }
            let visible = move || collapsed.with(|c| !ancestors.iter().any(|a| c.contains(a)));
            let expanded = {
                let id = id.clone();
                move || !collapsed.with(|c| c.contains(&id))
            };
            let is_selected = {
                let id = id.clone();
                move || selected.with(|s| s.as_ref().is_some_and(|(s, _)| *s == id))
            };
            let toggle = if has_children {
                let id = id.clone();
                let label_name = name.clone();
                let expanded_label = expanded.clone();
                view! {
                    <button
                        type="button"
                        class="rd-toggle"
                        aria-label=move || {
                            if expanded_label() { format!("Collapse {label_name}") } else { format!("Expand {label_name}") }
                        }
                        on:click=move |_| {
                            collapsed
                                .update(|c| {
                                    if !c.remove(&id) {
                                        c.insert(id.clone());
                                    }
                                })
                        }
                    >
                        {move || if expanded() { "▾" } else { "▸" }}
                    </button>
                }
                    .into_any()
            } else {
                view! { <span class="rd-toggle-space" aria-hidden="true"></span> }.into_any()
            };
            let aria_expanded = {
                let id = id.clone();
                move || has_children.then(|| (!collapsed.with(|c| c.contains(&id))).to_string())
            };
            let select = {
                let id = id.clone();
                let name = name.clone();
                move |_| selected.set(Some((id.clone(), name.clone())))
            };
            let indent = format!("{}px", (folder.depth - 1).clamp(0, 8) * 18);
            view! {
                <li
                    role="treeitem"
                    aria-expanded=aria_expanded
                    aria-selected=move || is_selected().to_string()
                    hidden=move || !visible()
                    style:padding-left=indent
                >
                    <div class="rd-node" class:rd-node-selected=is_selected.clone()>
                        {toggle}
                        <button type="button" class="rd-folder" on:click=select>
                            <span>{name.clone()}</span>
                            <span class="rd-count" title="Members in this folder and below">
                                {format!("({})", folder.total_members)}
                            </span>
                        </button>
                    </div>
                </li>
            }
        })
        .collect_view()
}

fn status_label(status: &str) -> &'static str {
    match status {
        "active" => "Active",
        "closed" => "Closed",
        _ => "Unknown",
    }
}

/// What a member table asks the server for. A table starts at `first`, which is also the page
/// the server renders for it.
#[derive(Clone)]
struct MembersQuery {
    search: String,
    folder: Option<String>,
    sort: MemberSort,
    descending: bool,
    offset: i64,
    limit: i64,
}

impl MembersQuery {
    fn first(folder: Option<String>) -> MembersQuery {
        MembersQuery {
            search: String::new(),
            folder,
            sort: MemberSort::DisplayName,
            descending: false,
            offset: 0,
            limit: DEFAULT_PAGE_SIZE,
        }
    }

    async fn fetch(self) -> Result<MemberPage, AppError> {
        let order = if self.descending { "desc" } else { "asc" };
        rd_members(
            self.search,
            self.folder.unwrap_or_default(),
            self.sort.as_str().into(),
            order.into(),
            self.offset,
            Some(self.limit),
        )
        .await
    }
}

/// A table of members with sortable headers and server-side paging; with `searchable`, a search box.
#[component]
fn MemberTable(
    folder: Signal<Option<String>>,
    searchable: bool,
    /// The first page, when the server rendered it.
    initial: Option<MemberPage>,
) -> impl IntoView {
    let start = MembersQuery::first(None);
    let typed = RwSignal::new(start.search.clone());
    let search = RwSignal::new(start.search);
    let sort = RwSignal::new(start.sort);
    let descending = RwSignal::new(start.descending);
    let offset = RwSignal::new(start.offset);
    let limit = RwSignal::new(start.limit);
    let version = RwSignal::new(0u32);
    let page = load(
        move || {
            let query = MembersQuery {
                search: search.get(),
                folder: folder.get(),
                sort: sort.get(),
                descending: descending.get(),
                offset: offset.get(),
                limit: limit.get(),
            };
            (query, version.get())
        },
        initial,
        |(query, _)| query.fetch(),
    );
    let dialog = RwSignal::new(None::<MemberView>);
    let notice = RwSignal::new(None::<String>);
    let open_dialog = Callback::new(move |member: MemberView| {
        notice.set(None);
        dialog.set(Some(member));
    });
    let done = Callback::new(move |(member, modified): (MemberView, bool)| {
        dialog.set(None);
        let what = if modified {
            "Modified successfully"
        } else {
            "Bound successfully"
        };
        notice.set(Some(format!(
            "{what}: {} now uses {}.",
            member.display_name,
            member.masked_phone.unwrap_or_default()
        )));
        version.update(|v| *v += 1);
    });

    let header = move |label: &'static str, key: MemberSort| {
        let aria_sort = move || match (sort.get() == key, descending.get()) {
            (false, _) => "none",
            (true, false) => "ascending",
            (true, true) => "descending",
        };
        let arrow = move || match (sort.get() == key, descending.get()) {
            (false, _) => "",
            (true, false) => " ▲",
            (true, true) => " ▼",
        };
        view! {
            <th scope="col" aria-sort=aria_sort>
                <button
                    type="button"
                    class="rd-sort"
                    on:click=move |_| {
                        if sort.get_untracked() == key {
                            descending.update(|d| *d = !*d);
                        } else {
                            sort.set(key);
                            descending.set(false);
                        }
                        offset.set(0);
                    }
                >
                    {label}
                    <span aria-hidden="true">{arrow}</span>
                </button>
            </th>
        }
    };

    view! {
        {searchable
            .then(|| {
                view! {
                    <form
                        class="rd-search"
                        role="search"
                        on:submit=move |ev| {
                            ev.prevent_default();
                            search.set(typed.get_untracked());
                            offset.set(0);
                        }
                    >
                        <label for="rd-search" class="sr-only">"Search members"</label>
                        <input
                            id="rd-search"
                            type="search"
                            maxlength="64"
                            placeholder="Display name, account ID or mobile phone number"
                            bind:value=typed
                        />
                        <button type="submit" class="secondary">"Search"</button>
                    </form>
                }
            })}
        {move || notice.get().map(|text| view! { <p class="success" role="status">{text}</p> })}
        {move || match page.get() {
            None => view! { <p class="muted">"Loading…"</p> }.into_any(),
            Some(Ok(page)) => {
                view! {
                    <div class="rd-table-wrap">
                        <table class="table rd-members">
                            <thead>
                                <tr>
                                    {header("Display Name", MemberSort::DisplayName)}
                                    {header("Account ID", MemberSort::AccountId)}
                                    <th scope="col">"Type"</th>
                                    <th scope="col">"Folder"</th>
                                    <th scope="col">"Mobile Phone Number"</th>
                                    <th scope="col">"Status"</th>
                                    {header("Joined", MemberSort::JoinedAt)}
                                    <th scope="col">"Actions"</th>
                                </tr>
                            </thead>
                            <tbody>
                                {page
                                    .members
                                    .iter()
                                    .cloned()
                                    .map(|member| view! { <MemberRow member open_dialog/> })
                                    .collect_view()}
                            </tbody>
                        </table>
                        {page.members.is_empty().then(|| view! { <p class="muted rd-empty">"No members found."</p> })}
                    </div>
                    <Pager page offset limit/>
                }
                    .into_any()
            }
            Some(Err(error)) => view! { <p class="alert" role="alert">{error.to_string()}</p> }.into_any(),
        }}
        {move || {
            dialog
                .get()
                .map(|member| {
                    let modified = member.masked_phone.is_some();
                    view! {
                        <PhoneDialog
                            member
                            on_close=Callback::new(move |_| dialog.set(None))
                            on_done=Callback::new(move |m| done.run((m, modified)))
                        />
                    }
                })
        }}
    }
}

#[component]
fn MemberRow(member: MemberView, open_dialog: Callback<MemberView>) -> impl IntoView {
    let href = format!("/resource-directory/members/{}", member.account_id);
    let joined = member
        .joined_at
        .get(..10)
        .unwrap_or(&member.joined_at)
        .to_string();
    view! {
        <tr>
            <td>{member.display_name.clone()}</td>
            <td>
                <a href=href>{member.account_id.clone()}</a>
            </td>
            <td>{member.member_type.label()}</td>
            <td>{member.folder_name.clone()}</td>
            <td>{member.masked_phone.clone().unwrap_or_else(|| "Not bound".into())}</td>
            <td>{status_label(&member.status)}</td>
            <td>{joined}</td>
            <td>
                <ActionsMenu member open_dialog/>
            </td>
        </tr>
    }
}

/// The row's **Actions** menu, holding **Bind Mobile Phone Number** (which opens the Modify
/// dialog for a member that already has a number).
#[component]
fn ActionsMenu(member: MemberView, open_dialog: Callback<MemberView>) -> impl IntoView {
    let open = RwSignal::new(false);
    let menu_id = format!("rd-actions-{}", member.account_id);
    let menu = {
        let menu_id = menu_id.clone();
        move || {
            open.get().then(|| {
                let member = member.clone();
                view! {
                    <div class="rd-menu" role="menu" id=menu_id.clone() aria-label="Actions">
                        <button
                            type="button"
                            role="menuitem"
                            on:click=move |_| {
                                open.set(false);
                                open_dialog.run(member.clone());
                            }
                        >
                            "Bind Mobile Phone Number"
                        </button>
                    </div>
                }
            })
        }
    };
    view! {
        <div
            class="rd-menu-wrap"
            on:keydown=move |ev| {
                if ev.key() == "Escape" {
                    open.set(false);
                }
            }
        >
            <button
                type="button"
                class="rd-actions"
                aria-haspopup="menu"
                aria-controls=menu_id
                aria-expanded=move || open.get().to_string()
                on:click=move |_| open.update(|o| *o = !*o)
            >
                "Actions"
            </button>
            {menu}
        </div>
    }
}

#[component]
fn Pager(page: MemberPage, offset: RwSignal<i64>, limit: RwSignal<i64>) -> impl IntoView {
    let size = page.limit.max(1);
    let first = if page.members.is_empty() {
        0
    } else {
        page.offset + 1
    };
    let last = page.offset + page.members.len() as i64;
    let pages = ((page.total + size - 1) / size).max(1);
    let current = page.offset / size + 1;
    let has_previous = page.offset > 0;
    let has_next = page.offset + size < page.total;
    // Past a cap the server stops counting: the total is then "at least".
    let more = if page.total_exact { "" } else { "+" };
    view! {
        <div class="rd-pager">
            <span class="muted">{format!("{first}–{last} of {}{more} members", page.total)}</span>
            <button
                type="button"
                class="secondary"
                aria-label="Previous page"
                disabled=!has_previous
                on:click=move |_| offset.update(|o| *o = (*o - size).max(0))
            >
                "‹"
            </button>
            <span>{format!("Page {current} of {pages}{more}")}</span>
            <button
                type="button"
                class="secondary"
                aria-label="Next page"
                disabled=!has_next
                on:click=move |_| offset.update(|o| *o += size)
            >
                "›"
            </button>
            <label for="rd-page-size">"Page size"</label>
            <select
                id="rd-page-size"
                on:change=move |ev| {
                    if let Ok(n) = event_target_value(&ev).parse::<i64>() {
                        limit.set(n);
                        offset.set(0);
                    }
                }
            >
                {[10i64, 20, 50, 100]
                    .into_iter()
                    .map(|n| view! { <option value=n.to_string() selected=n == size>{n.to_string()}</option> })
                    .collect_view()}
            </select>
        </div>
    }
}

/// **Bind Mobile Phone Number** (no number yet) or **Modify the security phone number**: the
/// number of the member's region, **Get verification code** with its countdown, the code, and
/// **OK** / **Confirm the modification**.
#[component]
fn PhoneDialog(
    member: MemberView,
    on_close: Callback<()>,
    on_done: Callback<MemberView>,
) -> impl IntoView {
    let modify = member.masked_phone.is_some();
    let title = if modify {
        "Modify the security phone number"
    } else {
        "Bind Mobile Phone Number"
    };
    let field_label = if modify {
        "New mobile phone number"
    } else {
        "Mobile phone number"
    };
    let submit_label = if modify {
        "Confirm the modification"
    } else {
        "OK"
    };
    let phone = RwSignal::new(String::new());
    let code = RwSignal::new(String::new());
    let countdown = Countdown::new();
    let sent_once = RwSignal::new(false);
    let error = RwSignal::new(None::<AppError>);
    let send = ServerAction::<RdSendCode>::new();
    let bind = ServerAction::<RdBindPhone>::new();
    let phone_input = NodeRef::<leptos::html::Input>::new();

    Effect::new(move |_| {
        if let Some(input) = phone_input.get() {
            let _ = input.focus();
        }
    });
    Effect::new(move |_| match send.value().get() {
        Some(Ok(sent)) => {
            countdown.start(sent.resend_after_secs);
            sent_once.set(true);
            error.set(None);
        }
        Some(Err(e)) => {
            if let AppError::ResendTooSoon(wait) = e {
                countdown.start(i64::from(wait));
            }
            error.set(Some(e));
        }
        None => {}
    });
    Effect::new(move |_| match bind.value().get() {
        Some(Ok(member)) => on_done.run(member),
        Some(Err(e)) => error.set(Some(e)),
        None => {}
    });

    let account_id = member.account_id.clone();
    let send_code = {
        let account_id = account_id.clone();
        move |_| {
            error.set(None);
            send.dispatch(RdSendCode {
                account_id: account_id.clone(),
                phone: phone.get_untracked(),
            });
        }
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        error.set(None);
        bind.dispatch(RdBindPhone {
            account_id: account_id.clone(),
            phone: phone.get_untracked(),
            code: code.get_untracked(),
        });
    };
    let prefix = format!("+{}", member.calling_code);
    view! {
        <div class="rd-backdrop">
            <div
                class="rd-dialog"
                role="dialog"
                aria-modal="true"
                aria-labelledby="rd-dialog-title"
                on:keydown=move |ev| {
                    if ev.key() == "Escape" {
                        on_close.run(());
                    }
                }
            >
                <h2 id="rd-dialog-title">{title}</h2>
                <p class="muted">
                    {format!("Member: {} ({})", member.display_name, member.account_id)}
                    {member.masked_phone.clone().map(|p| format!(" · current number {p}"))}
                </p>
                <form on:submit=submit>
                    <div class="field">
                        <label for="rd-phone">{field_label}</label>
                        <div class="rd-phone-input">
                            <span class="rd-prefix" title="The member's registration country or region">
                                {prefix}
                            </span>
                            <input
                                id="rd-phone"
                                type="tel"
                                inputmode="tel"
                                autocomplete="off"
                                maxlength="32"
                                required
                                node_ref=phone_input
                                bind:value=phone
                            />
                        </div>
                        <span class="muted rd-hint">
                            {format!("A mobile number of the member's registration region ({}).", member.region)}
                        </span>
                    </div>
                    <div class="field">
                        <label for="rd-code">"Verification code"</label>
                        <div class="rd-code-row">
                            <input
                                id="rd-code"
                                type="text"
                                inputmode="numeric"
                                autocomplete="one-time-code"
                                maxlength="6"
                                required
                                bind:value=code
                            />
                            <button
                                type="button"
                                class="secondary"
                                disabled=move || countdown.running() || send.pending().get()
                                on:click=send_code
                            >
                                {move || countdown.label("Get verification code", sent_once.get())}
                            </button>
                        </div>
                    </div>
                    <ErrorAlert error=error/>
                    <div class="rd-dialog-actions">
                        <button type="submit" class="primary" disabled=move || bind.pending().get()>
                            {submit_label}
                        </button>
                        <button type="button" class="secondary" on:click=move |_| on_close.run(())>
                            "Cancel"
                        </button>
                    </div>
                </form>
            </div>
        </div>
    }
}

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
        <nav class="rd-crumbs" aria-label="Breadcrumb">
            <span>"Resource Directory"</span>
            <span aria-hidden="true">" > "</span>
            <a href="/resource-directory/management?view=list">"Management"</a>
            <span aria-hidden="true">" > "</span>
            <span aria-current="page">"Member details"</span>
        </nav>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok((id, details, events)) => view! { <MemberConsole id details events/> }.into_any(),
                    Err(error) => view! { <p class="alert" role="alert">{error.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
    .into_any()
}

/// Basic Information with Modify (or Bind), the member's audit events, and the phone dialog.
/// Both are read again after a change.
#[island(lazy)]
fn MemberConsole(id: String, details: MemberDetails, events: Vec<AuditView>) -> impl IntoView {
    let version = RwSignal::new(0u32);
    let details = {
        let id = id.clone();
        load(
            move || version.get(),
            Some(details),
            move |_| rd_member(id.clone()),
        )
    };
    let events = load(
        move || version.get(),
        Some(events),
        move |_| rd_member_events(id.clone()),
    );
    let dialog = RwSignal::new(None::<MemberView>);
    let notice = RwSignal::new(None::<String>);
    view! {
        {move || notice.get().map(|text| view! { <p class="success" role="status">{text}</p> })}
        {move || match details.get() {
            None => ().into_any(),
            Some(Ok(details)) => {
                let member = details.member.clone();
                let has_phone = member.masked_phone.is_some();
                let open = {
                    let member = member.clone();
                    move |_| {
                        notice.set(None);
                        dialog.set(Some(member.clone()));
                    }
                };
                view! {
                    <h1>{member.display_name.clone()}</h1>
                    <section class="card" aria-labelledby="rd-basic-information">
                        <h2 id="rd-basic-information">"Basic Information"</h2>
                        <dl class="facts">
                            <dt>"Account ID"</dt>
                            <dd>{member.account_id.clone()}</dd>
                            <dt>"Display Name"</dt>
                            <dd>{member.display_name.clone()}</dd>
                            <dt>"Type"</dt>
                            <dd>{member.member_type.label()}</dd>
                            <dt>"Folder"</dt>
                            <dd>{details.folder_path.join(" / ")}</dd>
                            <dt>"Status"</dt>
                            <dd>{status_label(&member.status)}</dd>
                            <dt>"Country/Region"</dt>
                            <dd>{format!("{} (+{})", member.region, member.calling_code)}</dd>
                            <dt>"Logon Email"</dt>
                            <dd>{details.masked_email.clone()}</dd>
                            <dt>"Joined"</dt>
                            <dd>{member.joined_at.clone()}</dd>
                            <dt>"Mobile Phone Number"</dt>
                            <dd>
                                <span class="phone">
                                    {member.masked_phone.clone().unwrap_or_else(|| "Not bound".into())}
                                </span>
                                <button type="button" class="link" on:click=open>
                                    {if has_phone { "Modify" } else { "Bind Mobile Phone Number" }}
                                </button>
                            </dd>
                        </dl>
                    </section>
                }
                    .into_any()
            }
            Some(Err(error)) => view! { <p class="alert" role="alert">{error.to_string()}</p> }.into_any(),
        }}
        <section class="card" aria-labelledby="rd-events-title">
            <h2 id="rd-events-title">"Audit Events"</h2>
            {move || match events.get() {
                None => ().into_any(),
                Some(Ok(events)) if events.is_empty() => {
                    view! { <p class="muted">"No events yet."</p> }.into_any()
                }
                Some(Ok(events)) => {
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
                        .into_any()
                }
                Some(Err(error)) => view! { <p class="alert" role="alert">{error.to_string()}</p> }.into_any(),
            }}
        </section>
        {move || {
            dialog
                .get()
                .map(|member| {
                    let modified = member.masked_phone.is_some();
                    view! {
                        <PhoneDialog
                            member
                            on_close=Callback::new(move |_| dialog.set(None))
                            on_done=Callback::new(move |m: MemberView| {
                                dialog.set(None);
                                let what = if modified { "Modified successfully" } else { "Bound successfully" };
                                notice.set(Some(format!("{what}: the number is now {}.", m.masked_phone.unwrap_or_default())));
                                version.update(|v| *v += 1);
                            })
                        />
                    }
                })
        }}
    }
}
