//! RAM users (owner only): each user's AccessKeys, created (the secret shown once), disabled,
//! enabled and deleted; with the time and address each key last signed a request.

use crate::api::access_keys::{
    AccessKeyView, NewAccessKey, RamUserKeys, create_access_key, delete_access_key, ram_users,
    set_access_key_active,
};
use crate::tr;
use leptos::prelude::*;

#[component]
pub fn RamUsersPage() -> impl IntoView {
    let users = Resource::new(|| (), |_| ram_users());
    view! {
        <h1>{tr!("nav-ram-users")}</h1>
        <p class="muted">
            {tr!("ram-intro")}
        </p>
        <Suspense fallback=|| view! { <p class="muted">{tr!("loading")}</p> }>
            {move || Suspend::new(async move {
                match users.await {
                    Ok(users) => view! { <RamUsersTable users/> }.into_any(),
                    Err(e) => view! { <p class="alert" role="alert">{e.localized()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The users and their keys; every action reloads the list from the server.
#[island(lazy)]
fn RamUsersTable(users: Vec<RamUserKeys>) -> impl IntoView {
    crate::components::mark_hydrated();
    let users = RwSignal::new(users);
    let created = RwSignal::new(None::<NewAccessKey>);
    let error = RwSignal::new(None::<String>);
    let reload = move || {
        leptos::task::spawn_local(async move {
            match ram_users().await {
                Ok(fresh) => users.set(fresh),
                Err(e) => error.set(Some(e.localized())),
            }
        });
    };
    let create = move |user_id: i64| {
        error.set(None);
        leptos::task::spawn_local(async move {
            match create_access_key(user_id).await {
                Ok(key) => created.set(Some(key)),
                Err(e) => error.set(Some(e.localized())),
            }
            reload();
        });
    };
    let set_active = move |key_id: String, active: bool| {
        error.set(None);
        leptos::task::spawn_local(async move {
            if let Err(e) = set_access_key_active(key_id, active).await {
                error.set(Some(e.localized()));
            }
            reload();
        });
    };
    let delete = move |key_id: String| {
        error.set(None);
        leptos::task::spawn_local(async move {
            if let Err(e) = delete_access_key(key_id).await {
                error.set(Some(e.localized()));
            }
            reload();
        });
    };
    view! {
        {move || error.get().map(|e| view! { <p class="alert" role="alert">{e}</p> })}
        {move || created.get().map(|key| view! {
            <CreatedKey created=key on_saved=Callback::new(move |_| created.set(None))/>
        })}
        <For each=move || users.get() key=|u| (u.user_id, u.keys.clone()) let:user>
            <section class="card" aria-label=tr!("ram-user-label", name = user.login_name)>
                <h2>{user.login_name.clone()}</h2>
                <p class="muted">
                    {if user.policies.is_empty() { tr!("ram-no-policies") } else { user.policies.join(", ") }}
                </p>
                <table class="members">
                    <thead>
                        <tr><th>{tr!("ram-key-id")}</th><th>{tr!("appeal-col-status")}</th><th>{tr!("ram-created")}</th><th>{tr!("ram-last-used")}</th><th>{tr!("ram-actions")}</th></tr>
                    </thead>
                    <tbody>
                        {user.keys.iter().map(|k| view! {
                            <KeyRow access_key=k.clone() set_active=Callback::new(move |(id, on)| set_active(id, on))
                                delete=Callback::new(delete)/>
                        }).collect_view()}
                    </tbody>
                </table>
                {
                    let user_id = user.user_id;
                    let full = user.keys.len() >= 2;
                    view! {
                        <button type="button" disabled=full on:click=move |_| create(user_id)>{tr!("ram-create")}</button>
                    }
                }
            </section>
        </For>
    }
}

/// The notice of a key just created: the only time its secret is shown.
#[component]
fn CreatedKey(created: NewAccessKey, on_saved: Callback<()>) -> impl IntoView {
    let key = created;
    view! {
        <section class="card notice" role="status" aria-labelledby="new-key">
            <h2 id="new-key">{tr!("ram-created-for", name = key.login_name)}</h2>
            <p>{tr!("ram-save-secret")}</p>
            <dl class="facts">
                <dt>{tr!("ram-key-id")}</dt>
                <dd><code class="access-key-id">{key.id.clone()}</code></dd>
                <dt>{tr!("ram-key-secret")}</dt>
                <dd><code class="access-key-secret">{key.secret.clone()}</code></dd>
            </dl>
            <button type="button" on:click=move |_| on_saved.run(())>{tr!("ram-saved-it")}</button>
        </section>
    }
}

/// One key: its state, when and from where it last signed a request, and its actions.
#[component]
fn KeyRow(
    access_key: AccessKeyView,
    set_active: Callback<(String, bool)>,
    delete: Callback<String>,
) -> impl IntoView {
    let key = access_key;
    let (id_toggle, id_delete) = (key.id.clone(), key.id.clone());
    let active = key.active;
    let last_used = match (&key.last_used_at, &key.last_used_ip) {
        (Some(at), Some(ip)) => tr!("ram-used-from", at = at, ip = ip),
        (Some(at), None) => at.clone(),
        _ => tr!("ram-never"),
    };
    view! {
        <tr>
            <td><code>{key.id.clone()}</code></td>
            <td>{if active { tr!("ram-active") } else { tr!("ram-disabled") }}</td>
            <td><crate::components::LocalTime at=key.created_at.clone()/></td>
            <td>{last_used}</td>
            <td>
                <button type="button" class="link" on:click=move |_| set_active.run((id_toggle.clone(), !active))>
                    {if active { tr!("ram-disable") } else { tr!("ram-enable") }}
                </button>
                <button type="button" class="link danger" on:click=move |_| delete.run(id_delete.clone())>{tr!("ram-delete")}</button>
            </td>
        </tr>
    }
}
