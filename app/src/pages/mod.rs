//! One file per page or dialog.

pub mod change_phone;
pub mod forgot_password;
pub mod identity;
pub mod layout;
pub mod login;
pub mod not_found;
pub mod overview;
pub mod resource_directory;
pub mod security;

/// A route whose page code the browser fetches only when the route is first shown: the build
/// (`cargo leptos … --split`) moves the page's view into a WASM chunk of its own, so a visitor
/// of the Overview never downloads the Security Settings or Resource Management code.
macro_rules! lazy_page {
    ($(#[$doc:meta])* $route:ident => $page:path) => {
        $(#[$doc])*
        pub struct $route;

        #[leptos_router::lazy_route]
        impl leptos_router::LazyRoute for $route {
            fn data() -> Self {
                $route
            }

            fn view(_this: Self) -> leptos::prelude::AnyView {
                leptos::prelude::IntoAny::into_any($page())
            }
        }
    };
}

lazy_page!(
    /// Security Settings, with the phone change flow, TOTP, appeals and the security log.
    SecurityRoute => security::SecurityPage
);
lazy_page!(
    /// Resource Directory > Management, for directory administrators only.
    ManagementRoute => resource_directory::ManagementPage
);
lazy_page!(
    /// One member's details in the Resource Directory.
    MemberDetailsRoute => resource_directory::MemberDetailsPage
);
lazy_page!(
    /// Password recovery, used rarely.
    ForgotPasswordRoute => forgot_password::ForgotPasswordPage
);
