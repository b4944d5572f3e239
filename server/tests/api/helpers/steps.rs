//! The steps every test repeats, typed once: sign in, the identity step by each method, read
//! the latest code, change the number, bind a member. `Steps` needs only a way to call a server
//! function and to read the outbox; the in-process `TestApp` has both, and so does one
//! instance of a two-process `Cluster` (`cluster.via(i)`, whose requests alternate between the
//! instances starting at `i`). Each step that can be refused returns the `Reply`, so a test
//! asserts the answer with `.ok()` or `.err()`; the composite steps (`identity_by_sms`,
//! `bind_member` …) expect success and panic with the server's answer otherwise.

use super::{PASSWORD, Reply};
use app::error::AppError;
use app::model::{CodeSent, MemberView};

/// How the owner proves identity (SPEC 4): the `method` field of the identity step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Sms,
    Email,
    Totp,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Sms => "sms",
            Method::Email => "email",
            Method::Totp => "totp",
        }
    }
}

/// The number as the server stores it: a number typed without `+` is a mainland China number.
pub fn e164(number: &str) -> String {
    if number.starts_with('+') {
        number.to_string()
    } else {
        format!("+86{number}")
    }
}

/// Something that answers server-function calls and keeps an outbox the test can read.
#[allow(async_fn_in_trait)]
pub trait Steps {
    /// One server-function call, as the page makes it (a same-origin form POST).
    async fn call(&self, endpoint: &str, form: &[(&str, &str)], token: Option<&str>) -> Reply;

    /// The newest code queued for `to` (a number in E.164 or an email address).
    async fn latest_code(&self, to: &str) -> Option<String>;

    /// The newest code queued for `to`, which must be there.
    async fn code_for(&self, to: &str) -> String {
        self.latest_code(to)
            .await
            .unwrap_or_else(|| panic!("a code for {to} in the outbox"))
    }

    /// The sign-in request itself: `password` for `account`, from session `token` if any.
    async fn sign_in_with(&self, account: &str, password: &str, token: Option<&str>) -> Reply {
        let form = [("account", account), ("password", password)];
        self.call("sign_in", &form, token).await
    }

    /// Signs in with the demo password and returns the session token.
    async fn signed_in(&self, account: &str) -> String {
        let reply = self.sign_in_with(account, PASSWORD, None).await;
        assert!(
            reply.status < 300,
            "sign-in of {account} failed: {}",
            reply.body
        );
        reply.session_token().expect("a session cookie")
    }

    /// Signs in again from the browser that holds session `token`: the new session's token.
    async fn signed_in_from(&self, token: &str, account: &str) -> String {
        let reply = self.sign_in_with(account, PASSWORD, Some(token)).await;
        assert!(
            reply.status < 300,
            "sign-in of {account} failed: {}",
            reply.body
        );
        reply.session_token().expect("a session cookie")
    }

    /// Who session `token` is (the `me` call every page makes first).
    async fn me(&self, token: &str) -> Reply {
        self.call("me", &[], Some(token)).await
    }

    // -- the identity step (SPEC 4) -----------------------------------------------------------

    /// What the identity step offers the owner of session `token`.
    async fn identity_options(&self, token: &str) -> Reply {
        self.call("identity_options", &[], Some(token)).await
    }

    async fn send_identity_code(&self, token: &str, method: Method) -> Reply {
        let form = [("method", method.as_str())];
        self.call("send_identity_code", &form, Some(token)).await
    }

    async fn verify_identity(&self, token: &str, method: Method, code: &str) -> Reply {
        let form = [("method", method.as_str()), ("code", code)];
        self.call("verify_identity", &form, Some(token)).await
    }

    /// Sends an identity code by `method` (SMS or email) and reads it from `to`'s outbox.
    async fn identity_code(&self, token: &str, method: Method, to: &str) -> String {
        let _: CodeSent = self.send_identity_code(token, method).await.ok();
        self.code_for(to).await
    }

    /// The whole identity step by a code sent to `to` by `method`: the session then holds
    /// a change ticket.
    async fn identity_by(&self, token: &str, method: Method, to: &str) {
        let code = self.identity_code(token, method, to).await;
        let _: i64 = self.verify_identity(token, method, &code).await.ok();
    }

    /// The identity step by an SMS to the original number `phone`.
    async fn identity_by_sms(&self, token: &str, phone: &str) {
        self.identity_by(token, Method::Sms, phone).await
    }

    /// The identity step by an email to `email`.
    async fn identity_by_email(&self, token: &str, email: &str) {
        self.identity_by(token, Method::Email, email).await
    }

    /// The identity step by an authenticator code.
    async fn identity_by_totp(&self, token: &str, code: &str) {
        let _: i64 = self.verify_identity(token, Method::Totp, code).await.ok();
    }

    /// Signs `account` in and passes the identity step by SMS to `phone`: the token holds a ticket.
    async fn verified_by_sms(&self, account: &str, phone: &str) -> String {
        let token = self.signed_in(account).await;
        self.identity_by_sms(&token, phone).await;
        token
    }

    // -- the new number (SPEC 4) --------------------------------------------------------------

    async fn check_new_phone(&self, token: &str, number: &str) -> Reply {
        let form = [("number", number)];
        self.call("check_new_phone", &form, Some(token)).await
    }

    async fn send_new_phone_code(&self, token: &str, number: &str) -> Reply {
        let form = [("number", number)];
        self.call("send_new_phone_code", &form, Some(token)).await
    }

    async fn confirm_phone_change(&self, token: &str, number: &str, code: &str) -> Reply {
        let form = [("number", number), ("code", code)];
        self.call("confirm_phone_change", &form, Some(token)).await
    }

    /// With a ticket in the session: sends a code to `number` (as typed), reads it and confirms.
    /// The confirmed number, or the first refusal.
    async fn change_number(&self, token: &str, number: &str) -> Result<String, AppError> {
        let sent = self.send_new_phone_code(token, number).await;
        if sent.status >= 400 {
            return Err(sent.err());
        }
        let code = self.code_for(&e164(number)).await;
        let reply = self.confirm_phone_change(token, number, &code).await;
        if reply.status >= 400 {
            Err(reply.err())
        } else {
            Ok(reply.ok())
        }
    }

    /// As `change_number`, for a test that goes on in the same session: a phone change rotates
    /// the session token (issue 11), so this answers the new one.
    async fn change_number_keeping_session(&self, token: &str, number: &str) -> String {
        let _: app::model::CodeSent = self.send_new_phone_code(token, number).await.ok();
        let code = self.code_for(&e164(number)).await;
        let reply = self.confirm_phone_change(token, number, &code).await;
        let _: String = reply.ok();
        reply.session_token().expect("a rotated session token")
    }

    // -- appeals (SPEC 4) ---------------------------------------------------------------------

    /// Appeal step 1: a code to the contact address `contact`.
    async fn send_appeal_code(&self, token: &str, contact: &str) -> Reply {
        let form = [("contact_email", contact)];
        self.call("send_appeal_code", &form, Some(token)).await
    }

    /// Appeal step 1 and the code as the contact's inbox shows it.
    async fn appeal_code(&self, token: &str, contact: &str) -> String {
        let _: CodeSent = self.send_appeal_code(token, contact).await.ok();
        self.code_for(contact).await
    }

    /// Appeal step 2: an appeal for `new_phone` (as typed), with the code sent to `contact`.
    async fn file_appeal(
        &self,
        token: &str,
        new_phone: &str,
        contact: &str,
        reason: &str,
        code: &str,
    ) -> Reply {
        let form = [
            ("new_phone", new_phone),
            ("contact_email", contact),
            ("reason", reason),
            ("code", code),
        ];
        self.call("file_appeal", &form, Some(token)).await
    }

    /// Appeal steps 1 and 2 for `new_phone` (as typed), with `contact`: the reference.
    async fn filed_appeal(&self, token: &str, new_phone: &str, contact: &str) -> String {
        let code = self.appeal_code(token, contact).await;
        let reason = "Phone lost and the logon email closed";
        self.file_appeal(token, new_phone, contact, reason, &code)
            .await
            .ok()
    }

    // -- deciding appeals (issue 14, item 8) ---------------------------------------------------

    /// The operator's queue of open appeals.
    async fn appeal_queue(&self, token: &str) -> Reply {
        self.call("operator_appeals", &[], Some(token)).await
    }

    async fn ask_appeal_info(&self, token: &str, reference: &str, message: &str) -> Reply {
        let form = [("reference", reference), ("message", message)];
        self.call("appeal_request_info", &form, Some(token)).await
    }

    async fn reject_appeal(&self, token: &str, reference: &str, reason: &str) -> Reply {
        let form = [("reference", reference), ("reason", reason)];
        self.call("appeal_reject", &form, Some(token)).await
    }

    async fn approve_appeal(&self, token: &str, reference: &str) -> Reply {
        self.call("appeal_approve", &[("reference", reference)], Some(token))
            .await
    }

    /// The filer's status page of the appeal.
    async fn appeal_status(&self, token: &str, reference: &str) -> Reply {
        self.call("appeal_status", &[("reference", reference)], Some(token))
            .await
    }

    async fn answer_appeal(&self, token: &str, reference: &str, answer: &str) -> Reply {
        let form = [("reference", reference), ("answer", answer)];
        self.call("appeal_answer", &form, Some(token)).await
    }

    // -- binding a member (SPEC 5) ------------------------------------------------------------

    async fn rd_send_code(&self, token: &str, member: &str, phone: &str) -> Reply {
        let form = [("account_id", member), ("phone", phone)];
        self.call("rd_send_code", &form, Some(token)).await
    }

    async fn rd_bind_phone(&self, token: &str, member: &str, phone: &str, code: &str) -> Reply {
        let form = [("account_id", member), ("phone", phone), ("code", code)];
        self.call("rd_bind_phone", &form, Some(token)).await
    }

    /// Sends a code to `phone` (E.164) for `member` and reads it from the outbox.
    async fn rd_code(&self, token: &str, member: &str, phone: &str) -> String {
        let _: CodeSent = self.rd_send_code(token, member, phone).await.ok();
        self.code_for(phone).await
    }

    /// Sends a code to `phone` (E.164) for `member` and binds it with the code from the outbox.
    async fn bind_member(&self, token: &str, member: &str, phone: &str) -> MemberView {
        self.bind_member_typed(token, member, phone, phone).await
    }

    /// As `bind_member`, with the number typed as `typed` and stored as `e164`.
    async fn bind_member_typed(
        &self,
        token: &str,
        member: &str,
        typed: &str,
        e164: &str,
    ) -> MemberView {
        let _: CodeSent = self.rd_send_code(token, member, typed).await.ok();
        let code = self.code_for(e164).await;
        self.rd_bind_phone(token, member, typed, &code).await.ok()
    }
}

impl Steps for super::TestApp {
    async fn call(&self, endpoint: &str, form: &[(&str, &str)], token: Option<&str>) -> Reply {
        super::TestApp::call(self, endpoint, form, token).await
    }

    async fn latest_code(&self, to: &str) -> Option<String> {
        super::TestApp::latest_code(self, to).await
    }
}
