//! The member table of both views: search (Member List View), sortable headers, server-side
//! paging, and each row's **Actions** menu, which opens the console's phone dialog.

use super::phone_dialog::PhoneDialogs;
use super::status_label;
use crate::api::directory::{DEFAULT_PAGE_SIZE, rd_members};
use crate::components::load;
use crate::error::AppError;
use crate::model::{MemberPage, MemberSort, MemberView};
use crate::tr;
use leptos::prelude::*;

/// What a member table asks the server for. A table starts at `first`, which is also the page
/// the server renders for it.
#[derive(Clone)]
pub struct MembersQuery {
    search: String,
    folder: Option<String>,
    sort: MemberSort,
    descending: bool,
    offset: i64,
    limit: i64,
}

impl MembersQuery {
    pub fn first(folder: Option<String>) -> MembersQuery {
        MembersQuery {
            search: String::new(),
            folder,
            sort: MemberSort::DisplayName,
            descending: false,
            offset: 0,
            limit: DEFAULT_PAGE_SIZE,
        }
    }

    pub async fn fetch(self) -> Result<MemberPage, AppError> {
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

/// A table's query as the user shapes it (the folder comes from the view).
#[derive(Clone, Copy)]
struct TableState {
    search: RwSignal<String>,
    sort: RwSignal<MemberSort>,
    descending: RwSignal<bool>,
    offset: RwSignal<i64>,
    limit: RwSignal<i64>,
}

impl TableState {
    fn new() -> TableState {
        let start = MembersQuery::first(None);
        TableState {
            search: RwSignal::new(start.search),
            sort: RwSignal::new(start.sort),
            descending: RwSignal::new(start.descending),
            offset: RwSignal::new(start.offset),
            limit: RwSignal::new(start.limit),
        }
    }

    /// The query for `folder`; reading it subscribes to every part.
    fn query(&self, folder: Option<String>) -> MembersQuery {
        MembersQuery {
            search: self.search.get(),
            folder,
            sort: self.sort.get(),
            descending: self.descending.get(),
            offset: self.offset.get(),
            limit: self.limit.get(),
        }
    }

    /// A header click: the same column flips the order, another sorts by it ascending.
    fn sort_by(&self, key: MemberSort) {
        if self.sort.get_untracked() == key {
            self.descending.update(|d| *d = !*d);
        } else {
            self.sort.set(key);
            self.descending.set(false);
        }
        self.offset.set(0);
    }
}

/// A table of members with sortable headers and server-side paging; with `searchable`, a search
/// box. It reads its page again after the console's dialog changed a number.
#[component]
pub fn MemberTable(
    folder: Signal<Option<String>>,
    searchable: bool,
    /// The first page, when the server rendered it.
    initial: Option<MemberPage>,
    dialogs: PhoneDialogs,
) -> impl IntoView {
    let state = TableState::new();
    let page = load(
        move || (state.query(folder.get()), dialogs.changed()),
        initial,
        |(query, _)| query.fetch(),
    );
    view! {
        {searchable.then(|| view! { <SearchBox state/> })}
        {move || match page.get() {
            None => view! { <p class="muted">{tr!("loading")}</p> }.into_any(),
            Some(Ok(page)) => view! { <MembersPage page state dialogs/> }.into_any(),
            Some(Err(error)) => view! { <p class="alert" role="alert">{error.localized()}</p> }.into_any(),
        }}
    }
}

/// Search by display name, account id or phone; a search starts again from the first page.
#[component]
fn SearchBox(state: TableState) -> impl IntoView {
    let typed = RwSignal::new(state.search.get_untracked());
    view! {
        <form
            class="rd-search"
            role="search"
            on:submit=move |ev| {
                ev.prevent_default();
                state.search.set(typed.get_untracked());
                state.offset.set(0);
            }
        >
            <label for="rd-search" class="sr-only">{tr!("rd-search-label")}</label>
            <input
                id="rd-search"
                type="search"
                maxlength="64"
                placeholder=tr!("rd-search-hint")
                bind:value=typed
            />
            <button type="submit" class="secondary">{tr!("rd-search")}</button>
        </form>
    }
}

/// One page of members and the pager under it.
#[component]
fn MembersPage(page: MemberPage, state: TableState, dialogs: PhoneDialogs) -> impl IntoView {
    let empty = page.members.is_empty();
    view! {
        <div class="rd-table-wrap">
            <table class="table rd-members">
                <thead>
                    <tr>
                        <SortHeader label=tr!("rd-col-name") key=MemberSort::DisplayName state/>
                        <SortHeader label=tr!("overview-account-id") key=MemberSort::AccountId state/>
                        <th scope="col">{tr!("rd-col-type")}</th>
                        <th scope="col">{tr!("rd-col-folder")}</th>
                        <th scope="col">{tr!("security-phone")}</th>
                        <th scope="col">{tr!("appeal-col-status")}</th>
                        <SortHeader label=tr!("rd-col-joined") key=MemberSort::JoinedAt state/>
                        <th scope="col">{tr!("ram-actions")}</th>
                    </tr>
                </thead>
                <tbody>
                    {page
                        .members
                        .iter()
                        .cloned()
                        .map(|member| view! { <MemberRow member dialogs/> })
                        .collect_view()}
                </tbody>
            </table>
            {empty.then(|| view! { <p class="muted rd-empty">{tr!("rd-none-found")}</p> })}
        </div>
        <Pager page offset=state.offset limit=state.limit/>
    }
}

#[component]
fn SortHeader(label: String, key: MemberSort, state: TableState) -> impl IntoView {
    let order = move || (state.sort.get() == key).then(|| state.descending.get());
    let aria_sort = move || match order() {
        None => "none",
        Some(false) => "ascending",
        Some(true) => "descending",
    };
    let arrow = move || match order() {
        None => "",
        Some(false) => " ▲",
        Some(true) => " ▼",
    };
    view! {
        <th scope="col" aria-sort=aria_sort>
            <button type="button" class="rd-sort" on:click=move |_| state.sort_by(key)>
                {label}
                <span aria-hidden="true">{arrow}</span>
            </button>
        </th>
    }
}

#[component]
fn MemberRow(member: MemberView, dialogs: PhoneDialogs) -> impl IntoView {
    let href = format!("/resource-directory/members/{}", member.account_id);
    let joined = member
        .joined_at
        .get(..10)
        .unwrap_or(&member.joined_at)
        .to_string();
    view! {
        // Each cell names its column (`data-label`): at phone width the rows become cards that
        // show the names, since the header row no longer sits above them.
        <tr>
            <td data-label=tr!("rd-col-name")>{member.display_name.clone()}</td>
            <td data-label=tr!("overview-account-id")>
                <a href=href>{member.account_id.clone()}</a>
            </td>
            <td data-label=tr!("rd-col-type")>{member.member_type.localized()}</td>
            <td data-label=tr!("rd-col-folder")>{member.folder_name.clone()}</td>
            <td data-label=tr!("security-phone")>{member.masked_phone.clone().unwrap_or_else(|| tr!("security-not-bound"))}</td>
            <td data-label=tr!("appeal-col-status")>{status_label(&member.status)}</td>
            <td data-label=tr!("rd-col-joined")>{joined}</td>
            <td data-label=tr!("ram-actions")>
                <ActionsMenu member dialogs/>
            </td>
        </tr>
    }
}

/// The row's **Actions** menu, holding **Bind Mobile Phone Number** (which opens the Modify
/// dialog for a member that already has a number).
#[component]
fn ActionsMenu(member: MemberView, dialogs: PhoneDialogs) -> impl IntoView {
    let open = RwSignal::new(false);
    let button = NodeRef::<leptos::html::Button>::new();
    let menu_id = format!("rd-actions-{}", member.account_id);
    let menu = {
        let menu_id = menu_id.clone();
        move || {
            open.get().then(|| {
                let member = member.clone();
                view! {
                    <div class="rd-menu" role="menu" id=menu_id.clone() aria-label=tr!("ram-actions")>
                        <button
                            type="button"
                            role="menuitem"
                            on:click=move |_| {
                                // The menu goes away: the dialog gives the focus back to its button.
                                if let Some(button) = button.get_untracked() {
                                    let _ = button.focus();
                                }
                                open.set(false);
                                dialogs.open(member.clone());
                            }
                        >
                            {tr!("rd-bind-phone")}
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
                node_ref=button
                aria-haspopup="menu"
                aria-controls=menu_id
                aria-expanded=move || open.get().to_string()
                on:click=move |_| open.update(|o| *o = !*o)
            >
                {tr!("ram-actions")}
            </button>
            {menu}
        </div>
    }
}

/// Where this page sits among all, the previous and next page, and the page size.
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
            <span class="muted">{tr!("rd-range", first = first, last = last, total = format!("{}{more}", page.total))}</span>
            <button
                type="button"
                class="secondary"
                aria-label=tr!("rd-previous")
                disabled=!has_previous
                on:click=move |_| offset.update(|o| *o = (*o - size).max(0))
            >
                "‹"
            </button>
            <span>{tr!("rd-page", current = current, pages = format!("{pages}{more}"))}</span>
            <button
                type="button"
                class="secondary"
                aria-label=tr!("rd-next")
                disabled=!has_next
                on:click=move |_| offset.update(|o| *o += size)
            >
                "›"
            </button>
            <label for="rd-page-size">{tr!("rd-page-size")}</label>
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
