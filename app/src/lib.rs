//! The console: pages, server functions and domain types, shared by the server and the browser.
#![recursion_limit = "256"]

pub mod api;
pub mod components;
pub mod domain;
pub mod error;
pub mod i18n;
pub mod model;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod ssr;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{SsrMode, path};

use crate::pages::appeal_status::AppealStatusPage;
use crate::pages::forgot_password::ForgotPasswordPage;
use crate::pages::layout::Layout;
use crate::pages::login::LoginPage;
use crate::pages::not_found::NotFound;
use crate::pages::operator_appeals::OperatorAppealsPage;
use crate::pages::overview::OverviewPage;
use crate::pages::ram_users::RamUsersPage;
use crate::pages::resource_directory::{ManagementPage, MemberDetailsPage};
use crate::pages::security::SecurityPage;
use crate::pages::sso::{SsoSettingsPage, SsoSignInPage};
use crate::pages::undo::UndoPage;

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    ssr_security::provide_nonce_and_policy(options.reload_port);
    // The page's language, worked out once for all its parts (`i18n::locale` reads it).
    #[cfg(feature = "ssr")]
    let locale = {
        let locale = use_context::<http::request::Parts>()
            .map(|parts| i18n::of_request(&parts))
            .unwrap_or_default();
        provide_context(locale);
        locale
    };
    #[cfg(not(feature = "ssr"))]
    let locale = i18n::locale();
    view! {
        <!DOCTYPE html>
        <html lang=locale.tag()>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options islands=true/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/console.css"/>
        <Title text="Account Center"/>
        <Router>
            <Routes fallback=NotFound>
                // Async: a page is sent whole once its data is read (a millisecond or two), so it
                // needs no script to fill in streamed parts, works without JavaScript, and a
                // signed-out visitor gets a real redirect.
                <Route path=path!("/login") view=LoginPage ssr=SsrMode::Async/>
                <Route path=path!("/forgot-password") view=ForgotPasswordPage ssr=SsrMode::Async/>
                <Route path=path!("/login/sso") view=SsoSignInPage ssr=SsrMode::Async/>
                <Route path=path!("/undo/:token") view=UndoPage ssr=SsrMode::Async/>
                <ParentRoute path=path!("") view=Layout ssr=SsrMode::Async>
                    <Route path=path!("/") view=OverviewPage ssr=SsrMode::Async/>
                    <Route path=path!("/overview") view=OverviewPage ssr=SsrMode::Async/>
                    <Route path=path!("/security") view=SecurityPage ssr=SsrMode::Async/>
                    <Route path=path!("/ram/users") view=RamUsersPage ssr=SsrMode::Async/>
                    <Route path=path!("/ram/sso") view=SsoSettingsPage ssr=SsrMode::Async/>
                    <Route path=path!("/appeals/:reference") view=AppealStatusPage ssr=SsrMode::Async/>
                    <Route path=path!("/operator/appeals") view=OperatorAppealsPage ssr=SsrMode::Async/>
                    <Route path=path!("/resource-directory/management") view=ManagementPage ssr=SsrMode::Async/>
                    <Route
                        path=path!("/resource-directory/members/:account_id")
                        view=MemberDetailsPage
                        ssr=SsrMode::Async
                    />
                </ParentRoute>
            </Routes>
        </Router>
    }
}

#[cfg(feature = "ssr")]
mod ssr_security {
    use leptos::nonce::{provide_nonce, use_nonce};
    use leptos::prelude::*;

    /// A fresh nonce per page, and a Content-Security-Policy that allows only scripts carrying it.
    pub fn provide_nonce_and_policy(reload_port: u32) {
        provide_nonce();
        let nonce = use_nonce().map(|n| n.to_string()).unwrap_or_default();
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            let dev = use_context::<crate::ssr::Services>()
                .map(|s| s.config.is_development())
                .unwrap_or(false);
            let reload = if dev {
                format!(" ws://127.0.0.1:{reload_port} ws://localhost:{reload_port}")
            } else {
                String::new()
            };
            let policy = format!(
                "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; \
                 img-src 'self' data:; connect-src 'self'{reload}; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"
            );
            if let Ok(value) = http::HeaderValue::from_str(&policy) {
                response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
            }
        }
    }
}
