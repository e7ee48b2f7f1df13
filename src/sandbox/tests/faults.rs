//! Injected faults: statuses, latency, dropped and cut-off answers.

use super::raw::{header_value, RawConn};
use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_faults_answer_in_front_of_the_api() {
    let api = Api::start(SandboxConfig {
        rate_limit: Some(3),
        ..SandboxConfig::new(KEY)
    });
    api.sb.fail_next(Fault::status_retry_after(429, "2"), 1);
    api.sb.fail_next(Fault::status(503), 1);
    api.sb.fail_next(
        Fault::Status {
            status: 502,
            retry_after: None,
            body: Some(b"<html><body>502 Bad Gateway</body></html>".to_vec()),
            content_type: Some("text/html".into()),
            headers: vec![
                ("retry-after-ms".into(), "1500".into()),
                ("X-RateLimit-Reset".into(), "1700000000".into()),
                ("bad name".into(), "skipped".into()),
            ],
        },
        1,
    );
    api.sb.fail_next(
        Fault::Status {
            status: 500,
            retry_after: Some("Wed, 21 Oct 2015 07:28:00 GMT".into()),
            body: Some(Vec::new()),
            content_type: None,
            headers: Vec::new(),
        },
        1,
    );
    assert_eq!(api.sb.pending_faults(), 4);
    let tag = json!({"tags": [{"name": "NeverApplied"}]});

    let a = api
        .call(Method::PUT, "/customers/542335/tags", Some(tag.clone()))
        .await;
    assert_eq!((a.status, a.header("retry-after")), (429, Some("2")));
    assert_eq!(
        a.json(),
        error_body("too_many_requests", "Too many requests")
    );

    let a = api
        .call(Method::PUT, "/customers/542335/tags", Some(tag.clone()))
        .await;
    assert_eq!(a.status, 503);
    assert_eq!(a.header("content-type"), Some("application/json"));
    assert_eq!(
        a.json(),
        error_body("service_unavailable", "Service unavailable")
    );

    let a = api
        .call(Method::PUT, "/customers/542335/tags", Some(tag.clone()))
        .await;
    assert_eq!(a.status, 502);
    assert_eq!(a.header("content-type"), Some("text/html"));
    assert_eq!(a.header("retry-after-ms"), Some("1500"));
    assert_eq!(a.header("x-ratelimit-reset"), Some("1700000000"));
    assert_eq!(&a.body[..], b"<html><body>502 Bad Gateway</body></html>");

    let a = api.get("/customers/542335").await;
    assert_eq!(a.status, 500);
    assert_eq!(
        a.header("retry-after"),
        Some("Wed, 21 Oct 2015 07:28:00 GMT")
    );
    assert_eq!((a.header("content-type"), a.body.len()), (None, 0));

    // None of them touched the customer or used up the rate limit (3 a minute).
    assert_eq!(api.sb.customer(542335).map(Value::Object), Some(demo(0)));
    let statuses = [
        api.get("/customers/542335").await.status,
        api.get("/customers/542335").await.status,
        api.get("/customers/542335").await.status,
        api.get("/customers/542335").await.status,
    ];
    assert_eq!(statuses, [200, 200, 200, 429]);
    assert_eq!(api.sb.pending_faults(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_delays_one_request_without_holding_up_others() {
    let api = Api::demo();
    // A short delay: answered normally.
    api.sb
        .fail_next(Fault::Latency(Duration::from_millis(5)), 1);
    let a = api.get("/customers/542335").await;
    assert_eq!((a.status, a.json()), (200, demo(0)));

    // A delay no test outlives, on one path: other requests go on meanwhile.
    api.sb.fail_next_matching(
        Fault::Latency(Duration::from_secs(3600)),
        1,
        FaultMatch {
            method: Some("DELETE".into()),
            path_prefix: Some("/v1/customers/542335/".into()),
        },
    );
    let slow = tokio::spawn(
        api.request(
            Method::DELETE,
            "/customers/542335/tags",
            Some(json!({"tags": [{"name": "vip"}]})),
        )
        .send(),
    );
    eventually("the slow request drew its fault", || {
        api.sb.pending_faults() == 0
    })
    .await;
    for id in [542336, 542337, 542338] {
        assert_eq!(api.get(&format!("/customers/{id}")).await.status, 200);
    }
    let fresh = client();
    let other = send(
        fresh
            .get(api.url("/customers/542335"))
            .header("Authorization", format!("Bearer {KEY}")),
    )
    .await;
    assert_eq!(
        other.json()["tags"],
        demo(0)["tags"],
        "the untag has not run yet"
    );
    assert!(!slow.is_finished());
    api.sb.shutdown();
    assert!(
        slow.await.unwrap().is_err(),
        "shutdown closes in-flight requests"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_connection_answers_nothing_and_changes_nothing() {
    let api = Api::demo();
    api.sb.fail_next(Fault::DropConnection, 1);
    let result = api
        .request(
            Method::PUT,
            "/customers/542335/tags",
            Some(json!({"tags": [{"name": "Ghost"}]})),
        )
        .send()
        .await;
    assert!(result.is_err(), "{result:?}");
    assert_eq!(api.sb.customer(542335).map(Value::Object), Some(demo(0)));
    let log = api.sb.requests();
    assert_eq!(log.last().map(|r| r.status), Some(0));
    assert_eq!(api.sb.status_count(0), 1);
    assert_eq!(api.get("/customers/542335").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_after_processing_applies_the_change_but_answers_nothing() {
    let api = Api::demo();
    api.sb.fail_next(Fault::DropAfterProcessing, 1);
    let result = api
        .request(
            Method::PUT,
            "/customers/542335/tags",
            Some(json!({"tags": [{"name": "Ghost"}]})),
        )
        .send()
        .await;
    assert!(result.is_err(), "{result:?}");
    let tags = tags_of(&Value::Object(api.sb.customer(542335).unwrap()));
    assert_eq!(
        tags.last(),
        Some(&("Ghost".to_owned(), "#c377e0".to_owned()))
    );
    assert_eq!(api.sb.requests().last().map(|r| r.status), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_json_is_a_200_labelled_json_that_does_not_parse() {
    let api = Api::demo();
    api.sb.fail_next(Fault::NotJson, 1);
    let a = api
        .call(
            Method::DELETE,
            "/customers/542335/tags",
            Some(json!({"tags": [{"name": "vip"}]})),
        )
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.header("content-type"), Some("application/json"));
    assert!(serde_json::from_slice::<Value>(&a.body).is_err());
    assert_eq!(api.sb.customer(542335).map(Value::Object), Some(demo(0)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_sends_half_the_body_then_closes() {
    let api = Api::demo();
    api.sb.fail_next(Fault::Truncated, 1);
    let resp = api
        .request(
            Method::PUT,
            "/customers/542335/tags",
            Some(json!({"tags": [{"name": "Cut"}]})),
        )
        .send()
        .await
        .expect("the headers arrive");
    assert_eq!(resp.status().as_u16(), 200);
    assert!(resp.bytes().await.is_err(), "the body is cut short");
    // The API did handle it.
    let tags = tags_of(&Value::Object(api.sb.customer(542335).unwrap()));
    assert_eq!(tags.last().map(|t| t.0.as_str()), Some("Cut"));

    // On the wire: the declared length, half of it, then the end of the connection.
    api.sb.fail_next(Fault::Truncated, 1);
    let mut raw = RawConn::open(&api.sb).await;
    raw.send("GET /v1/customers/542336 HTTP/1.1").await;
    let (head, rest) = raw.read_head().await;
    let declared: usize = header_value(&head, "content-length")
        .unwrap()
        .parse()
        .unwrap();
    let body = raw.read_to_end(rest).await;
    let full = serde_json::to_vec(&demo(1)).unwrap();
    assert_eq!(declared, full.len());
    assert_eq!(body, full[..full.len() / 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_queue_in_order_match_selectively_and_spare_the_health_path() {
    let api = Api::demo();
    api.sb.fail_next(Fault::status(500), 2);
    api.sb.fail_next(Fault::NotJson, 1);
    let health = format!("http://{}{HEALTH_PATH}", api.sb.addr());
    let h = send(api.http.get(&health)).await;
    assert_eq!((h.status, h.json()), (200, json!({"status": "ok"})));
    assert_eq!(api.sb.pending_faults(), 3);
    let mut seen = Vec::new();
    for _ in 0..4 {
        let a = api.get("/customers/542335").await;
        seen.push((a.status, serde_json::from_slice::<Value>(&a.body).is_ok()));
    }
    assert_eq!(seen, [(500, true), (500, true), (200, false), (200, true)]);

    api.sb.fail_next_matching(
        Fault::status(503),
        1,
        FaultMatch {
            method: Some("delete".into()),
            path_prefix: None,
        },
    );
    assert_eq!(api.get("/customers/542335").await.status, 200);
    let untag = json!({"tags": [{"name": "vip"}]});
    let a = api
        .call(
            Method::DELETE,
            "/customers/542335/tags",
            Some(untag.clone()),
        )
        .await;
    assert_eq!(a.status, 503);
    let a = api
        .call(Method::DELETE, "/customers/542335/tags", Some(untag))
        .await;
    assert_eq!(a.status, 200);

    api.sb.fail_next(Fault::DropConnection, 3);
    api.sb.clear_faults();
    assert_eq!(api.sb.pending_faults(), 0);
    assert_eq!(api.get("/customers/542335").await.status, 200);
}
