//! The outbox worker sends through the real senders: retries, backoff, once per message.

use super::*;

#[tokio::test]
async fn sms_is_delivered_once_with_a_valid_signature() {
    let (app, stand_ins) = spawn_against(0, 0, deliver).await;

    let ids = enqueue(
        &app,
        &[
            Msg::sms_code(
                "+8613800138000",
                "482913",
                "Your verification code is 482913. It expires in 5 minutes.",
            ),
            Msg {
                channel: Channel::Sms,
                to: "+447700900123",
                subject: "",
                body: "The phone number of your account was changed.",
                template: Template::PhoneChangedNotice,
                code: None,
            },
        ],
    )
    .await;
    wait_sent(&app, &ids).await;
    // A few more worker cycles: nothing is sent again.
    settle().await;

    let requests = stand_ins.provider.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    for request in &requests {
        assert!(
            request.signature_ok,
            "the provider could not verify the signature: {request:?}"
        );
        assert!(request.answered_ok);
        assert_eq!(request.get("AccessKeyId"), Some(KEY_ID));
        assert_eq!(request.get("Action"), Some("SendSms"));
        assert_eq!(request.get("Version"), Some("2017-05-25"));
        assert_eq!(request.get("Format"), Some("JSON"));
        assert_eq!(request.get("RegionId"), Some("cn-hangzhou"));
        assert_eq!(request.get("SignName"), Some(SIGN_NAME));
        assert_eq!(request.get("SignatureMethod"), Some("HMAC-SHA1"));
        assert_eq!(request.get("SignatureVersion"), Some("1.0"));
        assert!(
            request.get("SignatureNonce").is_some_and(|n| n.len() >= 16),
            "{request:?}"
        );
        let timestamp = request.get("Timestamp").unwrap();
        assert!(is_api_timestamp(timestamp), "{timestamp}");
    }
    // A fresh nonce per request.
    assert_ne!(
        requests[0].get("SignatureNonce"),
        requests[1].get("SignatureNonce")
    );

    let code = request_for(&requests, ids[0]);
    assert_eq!(code.get("PhoneNumbers"), Some("+8613800138000"));
    assert_eq!(code.get("TemplateCode"), Some(CODE_TEMPLATE));
    let param = code.template_param();
    assert_eq!(param, serde_json::json!({ "code": "482913" }));

    let notice = request_for(&requests, ids[1]);
    assert_eq!(notice.get("PhoneNumbers"), Some("+447700900123"));
    assert_eq!(notice.get("TemplateCode"), Some(NOTICE_TEMPLATE));
    let param = notice.template_param();
    assert_eq!(
        param,
        serde_json::json!({ "content": "The phone number of your account was changed." })
    );

    for &id in &ids {
        assert_sent_once(&app, id).await;
    }
    assert!(stand_ins.sink.mails().is_empty(), "no email was queued");

    stand_ins.stop_with(app).await;
}

#[tokio::test]
async fn a_failing_sms_provider_is_retried_until_it_recovers() {
    // Requests 0 and 2 get HTTP 500, request 1 gets Code != OK, then the provider recovers.
    let (app, stand_ins) = spawn_against(3, 0, deliver).await;

    let ids = enqueue(
        &app,
        &[
            Msg::sms_code(
                "+8613800138001",
                "907311",
                "Your verification code is 907311.",
            ),
            Msg::sms_code(
                "+8613800138002",
                "118604",
                "Your verification code is 118604.",
            ),
        ],
    )
    .await;

    // Both first attempts fail; the retries wait for the backoff, which only the clock ends.
    wait_failures(&app, &ids, 2).await;
    settle().await;
    assert_eq!(
        stand_ins.provider.requests().len(),
        2,
        "no retry before the backoff has passed"
    );
    for &id in &ids {
        let r = row(&app, id).await;
        assert_eq!(r.status, "pending");
        assert!(r.next_attempt_at > app.services.now_ms(), "{r:?}");
    }

    wait_sent_through_retries(&app, &ids).await;
    settle().await;

    let requests = stand_ins.provider.requests();
    assert!(requests.iter().all(|r| r.signature_ok), "{requests:?}");
    assert_eq!(requests.iter().filter(|r| !r.answered_ok).count(), 3);
    let mut total_attempts = 0;
    for (&id, code) in ids.iter().zip(["907311", "118604"]) {
        let sent: Vec<&SmsRequest> = requests.iter().filter(|r| r.out_id() == id).collect();
        assert_eq!(
            sent.iter().filter(|r| r.answered_ok).count(),
            1,
            "exactly one delivery of {id}"
        );
        assert!(
            sent.last().unwrap().answered_ok,
            "nothing is sent after the delivery of {id}"
        );
        for r in &sent {
            // Every retry sends the same message with a fresh signature.
            let param = r.template_param();
            assert_eq!(param, serde_json::json!({ "code": code }));
        }

        let recorded = attempts(&app, id).await;
        assert_eq!(
            recorded.len(),
            sent.len(),
            "one recorded attempt per request for {id}: {recorded:?}"
        );
        assert_eq!(recorded.last().unwrap(), &(1, None));
        let failures: Vec<&str> = recorded
            .iter()
            .filter(|(ok, _)| *ok == 0)
            .map(|(_, e)| e.as_deref().unwrap())
            .collect();
        assert_eq!(failures.len(), sent.len() - 1);
        for error in failures {
            assert!(
                error == "sms provider answered HTTP 500"
                    || error == "sms provider refused: isv.BUSINESS_LIMIT_CONTROL",
                "{error}"
            );
            assert!(!error.contains(code));
        }

        let r = row(&app, id).await;
        assert_eq!(r.status, "sent");
        assert_eq!(r.attempts as usize, sent.len());
        total_attempts += sent.len();
    }
    assert_eq!(
        total_attempts,
        requests.len(),
        "no request the outbox does not know of"
    );

    stand_ins.stop_with(app).await;
}

#[tokio::test]
async fn email_is_delivered_through_smtp() {
    let (app, stand_ins) = spawn_against(0, 0, deliver).await;

    let ids = enqueue(
        &app,
        &[Msg::email_code(
            "ada@example.test",
            "Your verification code",
            "550271",
            "Your verification code is 550271.\nIt expires in 5 minutes.",
        )],
    )
    .await;
    wait_sent(&app, &ids).await;
    settle().await;

    let mails = stand_ins.sink.mails();
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mail = &mails[0];
    assert!(mail.accepted);
    assert_eq!(mail.mail_from, "<no-reply@example.test>");
    assert_eq!(mail.rcpt_to, vec!["<ada@example.test>".to_string()]);
    assert_eq!(mail.header("To").as_deref(), Some("ada@example.test"));
    assert_eq!(
        mail.header("From").as_deref(),
        Some("\"Account Center\" <no-reply@example.test>")
    );
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("Your verification code")
    );
    assert_eq!(
        mail.header("Message-ID"),
        Some(format!("<outbox-{}@example.test>", ids[0]))
    );
    assert!(
        mail.header("Content-Type")
            .is_some_and(|v| v.starts_with("text/plain")),
        "{mail:?}"
    );
    assert!(mail.header("Date").is_some());
    assert_eq!(
        mail.body(),
        "Your verification code is 550271.\nIt expires in 5 minutes."
    );

    assert_sent_once(&app, ids[0]).await;
    assert!(
        stand_ins.provider.requests().is_empty(),
        "no SMS was queued"
    );

    stand_ins.stop_with(app).await;
}

#[tokio::test]
async fn a_deferred_email_is_retried_with_the_same_message_id() {
    let (app, stand_ins) = spawn_against(0, 1, deliver).await;

    let ids = enqueue(
        &app,
        &[Msg {
            channel: Channel::Email,
            to: "grace@example.test",
            subject: "",
            body: "Your password was changed.",
            template: Template::Notice,
            code: None,
        }],
    )
    .await;
    wait_failures(&app, &ids, 1).await;
    wait_sent_through_retries(&app, &ids).await;
    settle().await;

    let mails = stand_ins.sink.mails();
    assert_eq!(mails.len(), 2, "{mails:?}");
    assert!(!mails[0].accepted && mails[1].accepted);
    let id = format!("<outbox-{}@example.test>", ids[0]);
    assert_eq!(mails[0].header("Message-ID"), Some(id.clone()));
    assert_eq!(mails[1].header("Message-ID"), Some(id));
    // No subject given: the default one.
    assert_eq!(
        mails[1].header("Subject").as_deref(),
        Some("Account Center")
    );
    assert_eq!(mails[1].body(), "Your password was changed.");

    assert_eq!(
        attempts(&app, ids[0]).await,
        vec![
            (0, Some("smtp deferred the message (451)".to_string())),
            (1, None)
        ]
    );
    let r = row(&app, ids[0]).await;
    assert_eq!((r.status.as_str(), r.attempts), ("sent", 2), "{r:?}");

    stand_ins.stop_with(app).await;
}

#[tokio::test]
async fn the_development_outbox_keeps_messages_without_network_calls() {
    // Delivery off (the development default), even though providers are configured.
    let (app, stand_ins) = spawn_against(0, 0, |_| {}).await;
    assert!(!app.services.config.deliver && app.services.config.dev_outbox);

    let ids = sent_a_code_each_way(
        &app,
        ("+8613800138009", "730512"),
        ("lin@example.test", "264408"),
    )
    .await;
    settle().await;

    assert!(
        stand_ins.provider.requests().is_empty(),
        "no SMS request in development"
    );
    assert_eq!(
        stand_ins.sink.connections.load(Ordering::SeqCst),
        0,
        "no SMTP connection in development"
    );
    for &id in &ids {
        let r = row(&app, id).await;
        assert_eq!(r.status, "sent");
        assert!(
            r.code.is_some() && r.body.starts_with("Your verification code is "),
            "{r:?}"
        );
        assert_eq!(attempts(&app, id).await, vec![(1, None)]);
    }

    let items: Vec<serde_json::Value> = app.get_json("/dev/outbox.json", None).await;
    let sms = listed(&items, "+8613800138009");
    assert_eq!(sms["channel"], "sms");
    assert_eq!(sms["body"], "Your verification code is 730512.");
    assert_eq!(sms["code"], "730512");
    assert!(
        sms["created_at"].as_str().is_some_and(|t| t.contains('T')),
        "{sms}"
    );
    let email = listed(&items, "lin@example.test");
    assert_eq!(email["channel"], "email");
    assert_eq!(email["body"], "Your verification code is 264408.");
    assert_eq!(email["code"], "264408");

    let only: Vec<serde_json::Value> = app
        .get_json("/dev/outbox.json?to=lin@example.test", None)
        .await;
    assert_eq!(only.len(), 1);
    assert_eq!(only[0]["code"], "264408");

    stand_ins.stop_with(app).await;
}

#[tokio::test]
async fn production_style_delivery_erases_the_body_once_sent() {
    let (app, stand_ins) = spawn_against(0, 0, |c| {
        c.deliver = true;
        c.dev_outbox = false;
    })
    .await;

    let ids = sent_a_code_each_way(
        &app,
        ("+8613800138010", "391827"),
        ("erin@example.test", "604513"),
    )
    .await;

    // The code reached the recipient…
    let requests = stand_ins.provider.requests();
    assert_eq!(requests.len(), 1);
    assert!(requests[0].get("TemplateParam").unwrap().contains("391827"));
    let mails = stand_ins.sink.mails();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].body().contains("604513"));
    // …and is no longer stored.
    for &id in &ids {
        let r = row(&app, id).await;
        assert_eq!(r.status, "sent");
        assert_eq!(r.code, None, "{r:?}");
        assert_eq!(r.body, "[delivered]");
        assert!(r.last_error.is_none());
    }
    // Without the development outbox its pages are not served.
    assert_eq!(
        app.get("/dev/outbox.json", None).await.status().as_u16(),
        404
    );

    stand_ins.stop_with(app).await;
}
