//! Resource Directory > Management: the directory's members and their phone numbers.

use crate::model::Me;
use leptos::prelude::*;

#[component]
pub fn AccessDenied() -> impl IntoView {
    view! {
        <section class="card denied">
            <h1>"Access denied"</h1>
            <p>"You do not have permission to use Resource Management. Ask the account administrator to grant AliyunResourceDirectoryFullAccess."</p>
        </section>
    }
}

#[component]
pub fn ManagementPage() -> impl IntoView {
    let me = expect_context::<Me>();
    if !me.can_manage_directory {
        return view! { <AccessDenied/> }.into_any();
    }
    view! { <h1>"Management"</h1> }.into_any()
}

#[component]
pub fn MemberDetailsPage() -> impl IntoView {
    let me = expect_context::<Me>();
    if !me.can_manage_directory {
        return view! { <AccessDenied/> }.into_any();
    }
    view! { <h1>"Member details"</h1> }.into_any()
}
