//! The phone dialog: **Bind Mobile Phone Number** (the member has no number) or **Modify the
//! security phone number**, mounted once per console and opened from any of its rows or pages.

use crate::api::directory::{RdBindPhone, rd_send_code};
use crate::components::CodeEntry;
use crate::error::AppError;
use crate::model::MemberView;
use crate::tr;
use leptos::prelude::*;

/// A console's one phone dialog: which member it is open for, what the last change was, and a
/// counter that ticks after each change so the console reads its data again.
#[derive(Clone, Copy)]
pub struct PhoneDialogs {
    member: RwSignal<Option<MemberView>>,
    notice: RwSignal<Option<String>>,
    changed: RwSignal<u32>,
}

impl PhoneDialogs {
    pub fn new() -> PhoneDialogs {
        PhoneDialogs {
            member: RwSignal::new(None),
            notice: RwSignal::new(None),
            changed: RwSignal::new(0),
        }
    }

    pub fn open(&self, member: MemberView) {
        self.notice.set(None);
        self.member.set(Some(member));
    }

    /// How many numbers this console has bound or modified; reading it subscribes.
    pub fn changed(&self) -> u32 {
        self.changed.get()
    }

    fn close(&self) {
        self.member.set(None);
    }

    fn finish(&self, member: MemberView, modified: bool) {
        self.close();
        let (name, phone) = (member.display_name, member.masked_phone.unwrap_or_default());
        self.notice.set(Some(if modified {
            tr!("rd-modified", name = name, phone = phone)
        } else {
            tr!("rd-bound", name = name, phone = phone)
        }));
        self.changed.update(|n| *n += 1);
    }
}

impl Default for PhoneDialogs {
    fn default() -> Self {
        PhoneDialogs::new()
    }
}

/// Where the dialog opens and its outcome is announced: once in each console.
#[component]
pub fn PhoneDialogHost(dialogs: PhoneDialogs) -> impl IntoView {
    view! {
        {move || dialogs.notice.get().map(|text| view! { <p class="success" role="status">{text}</p> })}
        {move || {
            dialogs
                .member
                .get()
                .map(|member| {
                    let modified = member.masked_phone.is_some();
                    view! {
                        <PhoneDialog
                            member
                            on_close=Callback::new(move |_| dialogs.close())
                            on_done=Callback::new(move |m| dialogs.finish(m, modified))
                        />
                    }
                })
        }}
    }
}

/// The number of the member's region, **Get verification code** with its countdown, the code,
/// and **OK** / **Confirm the modification**.
#[component]
fn PhoneDialog(
    member: MemberView,
    on_close: Callback<()>,
    on_done: Callback<MemberView>,
) -> impl IntoView {
    crate::components::return_focus_on_close();
    let modify = member.masked_phone.is_some();
    let phone = RwSignal::new(String::new());
    let code = RwSignal::new(String::new());
    let error = RwSignal::new(None::<AppError>);
    let bind = ServerAction::<RdBindPhone>::new();
    Effect::new(move |_| match bind.value().get() {
        Some(Ok(member)) => on_done.run(member),
        Some(Err(e)) => error.set(Some(e)),
        None => {}
    });
    let send = {
        let account_id = member.account_id.clone();
        move || rd_send_code(account_id.clone(), phone.get_untracked())
    };
    let submit = {
        let account_id = member.account_id.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            error.set(None);
            bind.dispatch(RdBindPhone {
                account_id: account_id.clone(),
                phone: phone.get_untracked(),
                code: code.get_untracked(),
            });
        }
    };
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
                <h2 id="rd-dialog-title">
                    {if modify { tr!("rd-modify-title") } else { tr!("rd-bind-phone") }}
                </h2>
                <p class="muted">
                    {tr!("rd-dialog-member", name = member.display_name, id = member.account_id)}
                    {member.masked_phone.clone().map(|p| tr!("rd-dialog-current", phone = p))}
                </p>
                <form on:submit=submit>
                    <PhoneField member phone/>
                    <CodeEntry id="rd-code" get_label=tr!("code-get") send code error/>
                    <div class="rd-dialog-actions">
                        <button type="submit" class="primary" disabled=move || bind.pending().get()>
                            {if modify { tr!("rd-confirm-modify") } else { tr!("action-ok") }}
                        </button>
                        <button type="button" class="secondary" on:click=move |_| on_close.run(())>
                            {tr!("action-cancel")}
                        </button>
                    </div>
                </form>
            </div>
        </div>
    }
}

/// The new number, after the member's calling code; focused when the dialog opens.
#[component]
fn PhoneField(member: MemberView, phone: RwSignal<String>) -> impl IntoView {
    let input = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if let Some(input) = input.get() {
            let _ = input.focus();
        }
    });
    let label = if member.masked_phone.is_some() {
        tr!("change-new-number")
    } else {
        tr!("rd-phone-label")
    };
    view! {
        <div class="field">
            <label for="rd-phone">{label}</label>
            <div class="rd-phone-input">
                <span class="rd-prefix" title=tr!("rd-prefix-title")>
                    {format!("+{}", member.calling_code)}
                </span>
                <input
                    id="rd-phone"
                    type="tel"
                    inputmode="tel"
                    autocomplete="off"
                    maxlength="32"
                    required
                    node_ref=input
                    bind:value=phone
                />
            </div>
            <span class="muted rd-hint">
                {tr!("rd-phone-hint", region = member.region)}
            </span>
        </div>
    }
}
