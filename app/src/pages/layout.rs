//! The console's frame: header with the principal and Sign out, left navigation, and the page.
//! Rendered on the server; navigation links are plain page loads.

use crate::api::auth::{SignOut, get_me};
use crate::components::{LanguageSwitch, hard_navigate};
use crate::error::AppError;
use crate::model::Me;
use crate::tr;
use leptos::prelude::*;
use leptos_router::components::{A, Outlet, Redirect};

#[component]
pub fn Layout() -> impl IntoView {
    let me = Resource::new(|| (), |_| get_me());
    view! {
        <Suspense fallback=|| view! { <div class="loading">{tr!("loading")}</div> }>
            {move || Suspend::new(async move {
                match me.await {
                    Ok(me) => view! { <Chrome me/> }.into_any(),
                    Err(AppError::NotSignedIn) => view! { <Redirect path="/login"/> }.into_any(),
                    Err(error) => view! { <p class="alert" role="alert">{error.localized()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Chrome(me: Me) -> impl IntoView {
    provide_context(me.clone());
    let can_manage = me.can_manage_directory;
    let is_owner = me.is_owner();
    let is_operator = me.is_operator;
    view! {
        <crate::components::LocalTimes/>
        <header class="topbar">
            <a class="brand" href="/overview">{tr!("brand")}</a>
            <div class="who">
                <Show when=move || is_operator>
                    <a class="operator-link" href="/operator/appeals">{tr!("nav-appeal-queue")}</a>
                </Show>
                <span class="principal">{me.name.clone()}</span>
                <span class="badge">{me.kind.localized()}</span>
                <HeaderActions roles=me.switchable_roles.clone()/>
            </div>
        </header>
        <div class="frame">
            <nav class="sidenav" aria-label=tr!("nav-main")>
                <A href="/overview">{tr!("nav-overview")}</A>
                <A href="/security">{tr!("nav-security")}</A>
                <Show when=move || is_owner>
                    <A href="/ram/users">{tr!("nav-ram-users")}</A>
                    <A href="/ram/sso">{tr!("nav-sso")}</A>
                </Show>
                <Show when=move || can_manage>
                    <div class="navgroup">
                        <span class="navhead">{tr!("nav-resource-directory")}</span>
                        <A href="/resource-directory/management">{tr!("nav-management")}</A>
                    </div>
                </Show>
            </nav>
            <main class="content">
                <Outlet/>
            </main>
        </div>
    }
}

/// Switch Role (for a RAM user with roles to switch to) and Sign out: the header's island.
#[island]
fn HeaderActions(roles: Vec<String>) -> impl IntoView {
    crate::components::mark_hydrated();
    let sign_out = ServerAction::<SignOut>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = sign_out.value().get() {
            hard_navigate("/login");
        }
    });
    view! {
        <SwitchRole roles/>
        <LanguageSwitch/>
        <ActionForm action=sign_out attr:class="inline">
            <button type="submit" class="link">{tr!("sign-out")}</button>
        </ActionForm>
    }
}

#[component]
fn SwitchRole(roles: Vec<String>) -> impl IntoView {
    let switch = ServerAction::<crate::api::auth::SwitchRole>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = switch.value().get() {
            hard_navigate("/overview");
        }
    });
    (!roles.is_empty()).then(|| {
        view! {
            <ActionForm action=switch attr:class="inline">
                <label class="sr-only" for="switch-role">{tr!("switch-role-label")}</label>
                <select id="switch-role" name="role">
                    {roles.iter().map(|r| view! { <option value=r.clone()>{r.clone()}</option> }).collect_view()}
                </select>
                <button type="submit" class="link">{tr!("switch-role")}</button>
            </ActionForm>
        }
    })
}
