//! English and Simplified Chinese (issue 14, item 1): the language of a page comes from the
//! owner's setting, else the switcher's cookie, else `Accept-Language`; the switcher remembers
//! the choice on the account, and the codes and notices the owner gets follow it.

use crate::common;
use common::Steps;

use app::error::AppError;
use app::ssr::seed::ALICE_ID;
use common::fixtures::{ALICE_EMAIL, ALICE_PHONE, NEW_CN};
use common::{TestApp, spawn};

/// A page fetched with the given request headers, as text.
async fn page_with(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> String {
    let mut request = app.http.get(app.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap().text().await.unwrap()
}

async fn language_of(app: &TestApp, account_id: &str) -> Option<String> {
    let (language,): (Option<String>,) =
        sqlx::query_as("SELECT language FROM accounts WHERE id = $1")
            .bind(account_id)
            .fetch_one(&app.services.db.pool)
            .await
            .unwrap();
    language
}

#[tokio::test]
async fn a_page_speaks_the_language_the_browser_asks_for_and_the_cookie_wins() {
    let app = spawn().await;
    let zh = page_with(
        &app,
        "/login",
        &[("Accept-Language", "zh-CN,zh;q=0.9,en;q=0.8")],
    )
    .await;
    assert!(zh.contains(r#"<html lang="zh-CN""#), "{zh}");
    assert!(zh.contains("忘记密码？") && !zh.contains("Forgot password?"));
    // The switcher offers the other language, by its own name.
    assert!(zh.contains(">English<"));

    let en = page_with(&app, "/login", &[("Accept-Language", "en-US,en;q=0.9")]).await;
    assert!(en.contains(r#"<html lang="en""#) && en.contains("Forgot password?"));
    assert!(en.contains(">中文<"));

    // Traditional Chinese is not served as Simplified: English, the default.
    let tw = page_with(&app, "/login", &[("Accept-Language", "zh-TW")]).await;
    assert!(tw.contains(r#"<html lang="en""#));

    // The switcher's cookie comes before Accept-Language.
    let chosen = page_with(
        &app,
        "/login",
        &[("Accept-Language", "zh-CN"), ("Cookie", "console_lang=en")],
    )
    .await;
    assert!(chosen.contains(r#"<html lang="en""#) && chosen.contains("Forgot password?"));

    // A refusal the server renders is in the page's language too.
    let refused = page_with(
        &app,
        "/login/sso?error=Sso.InvalidState",
        &[("Accept-Language", "zh-CN")],
    )
    .await;
    assert!(refused.contains("该登录请求无效或已过期"), "{refused}");
    app.stop().await;
}

#[tokio::test]
async fn the_switch_is_kept_on_the_account_and_the_owners_codes_and_notices_follow_it() {
    let app = spawn().await;
    let token = app.sign_in(ALICE_EMAIL).await;
    assert_eq!(language_of(&app, ALICE_ID).await, None);

    let switched = app
        .call("set_language", &[("language", "zh-CN")], Some(&token))
        .await;
    assert!(switched.status < 400, "{}", switched.body);
    assert_eq!(language_of(&app, ALICE_ID).await.as_deref(), Some("zh-CN"));

    // Another browser, which asks for English and has no cookie: the owner's setting wins.
    let page = page_with(
        &app,
        "/security",
        &[
            ("Accept-Language", "en-US"),
            ("Cookie", &format!("__Host-session={token}")),
        ],
    )
    .await;
    assert!(
        page.contains(r#"<html lang="zh-CN""#) && page.contains("安全设置"),
        "{page}"
    );

    // The identity code by SMS, and the notice of the change, are written in Chinese.
    app.identity_by_sms(&token, ALICE_PHONE).await;
    let code_sms = app.bodies_to(ALICE_PHONE).await.remove(0);
    assert!(code_sms.contains("您的验证码为"), "{code_sms}");
    assert!(code_sms.contains("修改手机号码前验证身份"), "{code_sms}");
    app.change_number(&token, NEW_CN).await.unwrap();
    let notice = app.bodies_to(ALICE_EMAIL).await.remove(0);
    assert!(notice.contains("的手机号码已变更为"), "{notice}");
    // It still carries its undo link.
    assert!(notice.contains(app::ssr::undo::PATH), "{notice}");
    let new_code: Vec<String> = app.bodies_to(NEW_CN).await;
    assert!(
        new_code
            .iter()
            .any(|b| b.contains("将此手机号码绑定到您的账号"))
    );
    app.stop().await;
}

#[tokio::test]
async fn a_language_the_console_does_not_serve_is_refused_and_nothing_is_kept() {
    let app = spawn().await;
    let token = app.sign_in(ALICE_EMAIL).await;
    for bad in ["fr", "zh-TW", "", "en'--", &"x".repeat(300)] {
        let refused = app
            .call("set_language", &[("language", bad)], Some(&token))
            .await;
        assert!(
            matches!(refused.err(), AppError::InvalidInput(_)),
            "{bad:?}: {}",
            refused.body
        );
        assert_eq!(refused.err().to_string(), "Choose English or 中文.");
    }
    assert_eq!(language_of(&app, ALICE_ID).await, None);
    // Signed out, the switch is only the browser's: it answers, and no account changes.
    let anonymous = app
        .call("set_language", &[("language", "zh-CN")], None)
        .await;
    assert!(anonymous.status < 400, "{}", anonymous.body);
    assert_eq!(language_of(&app, ALICE_ID).await, None);
    app.stop().await;
}
