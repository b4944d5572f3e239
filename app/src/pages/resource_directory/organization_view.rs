//! The Resource Organization View: the folder tree on the left, the selected folder's members
//! on the right.

use super::member_list::MemberTable;
use super::phone_dialog::PhoneDialogs;
use crate::model::{DirectoryView, FolderView, MemberPage};
use crate::tr;
use leptos::prelude::*;
use std::collections::{HashMap, HashSet};

/// The selected folder: its id and name.
type Selected = RwSignal<Option<(String, String)>>;
/// The ids of the collapsed folders.
type Collapsed = RwSignal<HashSet<String>>;

#[component]
pub fn OrganizationView(
    tree: DirectoryView,
    initial: impl Fn() -> Option<MemberPage> + Send + Sync + 'static,
    dialogs: PhoneDialogs,
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
                <h2 id="rd-tree-title">{tr!("rd-folders")}</h2>
                <ul class="rd-tree" role="tree" aria-labelledby="rd-tree-title">
                    {folder_items(&tree.folders, selected, collapsed)}
                </ul>
            </section>
            <section class="card rd-folder-members" aria-labelledby="rd-folder-title">
                <h2 id="rd-folder-title">
                    {move || match selected.get() {
                        Some((_, name)) => tr!("rd-members-of", name = name),
                        None => tr!("rd-members"),
                    }}
                </h2>
                {move || match selected.get() {
                    Some((id, _)) => view! { <MemberTable folder=Signal::stored(Some(id)) searchable=false initial=initial() dialogs/> }.into_any(),
                    None => view! { <p class="muted">{tr!("rd-select-folder")}</p> }.into_any(),
                }}
            </section>
        </div>
    }
}

/// The folders as tree items, in the server's order (parents first, siblings by name). The list
/// is flat, indented by depth: a collapsed folder hides its descendants instead of removing them,
/// so the page the server rendered and the one the browser hydrates have the same nodes.
fn folder_items(
    folders: &[FolderView],
    selected: Selected,
    collapsed: Collapsed,
) -> impl IntoView + use<> {
    let parents: HashMap<String, Option<String>> = folders
        .iter()
        .map(|f| (f.id.clone(), f.parent_id.clone()))
        .collect();
    folders
        .iter()
        .map(|folder| {
            let has_children = folders
                .iter()
                .any(|c| c.parent_id.as_deref() == Some(folder.id.as_str()));
            // Every ancestor, nearest first (bounded: folders nest at most 5 levels).
            let mut ancestors = Vec::new();
            let mut next = folder.parent_id.clone();
            while let Some(parent) = next.filter(|_| ancestors.len() < 16) {
                next = parents.get(&parent).cloned().flatten();
                ancestors.push(parent);
            }
            view! { <FolderItem folder=folder.clone() has_children ancestors selected collapsed/> }
        })
        .collect_view()
}

#[component]
fn FolderItem(
    folder: FolderView,
    has_children: bool,
    ancestors: Vec<String>,
    selected: Selected,
    collapsed: Collapsed,
) -> impl IntoView {
    let id = folder.id.clone();
    let name = folder.name.clone();
    let visible = move || collapsed.with(|c| !ancestors.iter().any(|a| c.contains(a)));
    let is_selected = {
        let id = id.clone();
        move || selected.with(|s| s.as_ref().is_some_and(|(s, _)| *s == id))
    };
    let aria_expanded = {
        let id = id.clone();
        move || has_children.then(|| (!collapsed.with(|c| c.contains(&id))).to_string())
    };
    let select = {
        let name = name.clone();
        let id = id.clone();
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
                {if has_children {
                    view! { <FolderToggle id name=name.clone() collapsed/> }.into_any()
                } else {
                    view! { <span class="rd-toggle-space" aria-hidden="true"></span> }.into_any()
                }}
                <button type="button" class="rd-folder" on:click=select>
                    <span>{name}</span>
                    <span class="rd-count" title=tr!("rd-count-title")>
                        {format!("({})", folder.total_members)}
                    </span>
                </button>
            </div>
        </li>
    }
}

/// Expands or collapses a folder with children.
#[component]
fn FolderToggle(id: String, name: String, collapsed: Collapsed) -> impl IntoView {
    let expanded = {
        let id = id.clone();
        move || !collapsed.with(|c| c.contains(&id))
    };
    let label = {
        let expanded = expanded.clone();
        move || {
            if expanded() {
                tr!("rd-collapse", name = name)
            } else {
                tr!("rd-expand", name = name)
            }
        }
    };
    let toggle = move |_| {
        collapsed.update(|c| {
            if !c.remove(&id) {
                c.insert(id.clone());
            }
        })
    };
    view! {
        <button type="button" class="rd-toggle" aria-label=label on:click=toggle>
            {move || if expanded() { "▾" } else { "▸" }}
        </button>
    }
}
