//! Non-2xx answers become `Error::Status`: the class comes from the status, every
//! `{code, message}` pair is kept in order, and the message reads well on one line.

use super::server::{Action, TestServer};
use super::*;
use crate::core::ErrorDetail;

fn detail(code: &str, message: &str) -> ErrorDetail {
    ErrorDetail {
        code: code.into(),
        message: message.into(),
    }
}

/// A client that makes one attempt only, so retryable statuses come back at once.
fn one_shot(server: &TestServer) -> Client {
    client_with(server, |c| c.max_retries = 0)
}

const TWO_ELEMENTS: &str = r#"{"errors":[{"code":"invalid_request","message":"Invalid request"},{"code":"not_found","message":"Chat not found"}]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_non_2xx_status_is_a_status_error_with_that_status() {
    let server = TestServer::start().await;
    let client = one_shot(&server);
    let statuses = [
        400, 401, 403, 404, 405, 408, 409, 413, 418, 422, 429, 500, 501, 502, 503, 504, 599,
    ];
    for status in statuses {
        server.push(Action::json(
            status,
            r#"{"errors":[{"code":"x","message":"y"}]}"#,
        ));
        let error = expect_status(client.get_customer(customer_id()).await);
        assert_eq!(error.status, status);
        assert_eq!(error.attempts, 1, "{status}");
        assert_eq!(error.method, "GET");
        assert_eq!(error.path, "/customers/1568834");
        assert_eq!(error.errors, vec![detail("x", "y")], "{status}");
    }
    assert_eq!(server.request_count(), statuses.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generic_plus_detail_body_keeps_both_pairs_in_order() {
    let server = TestServer::start().await;
    server.push(Action::json(404, TWO_ELEMENTS));
    let error = expect_status(client(&server).remove_tags(customer_id(), lead()).await);

    assert_eq!(error.status, 404);
    assert_eq!(
        error.errors,
        vec![
            detail("invalid_request", "Invalid request"),
            detail("not_found", "Chat not found"),
        ]
    );
    assert_eq!(error.body, TWO_ELEMENTS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_element_body_is_kept() {
    let server = TestServer::start().await;
    server.push(Action::json(
        404,
        r#"{"errors":[{"code":"entity_not_found","message":"Customer not found"}]}"#,
    ));
    let error = expect_status(client(&server).get_customer(customer_id()).await);

    assert_eq!(
        error.errors,
        vec![detail("entity_not_found", "Customer not found")]
    );
    let text = error.to_string();
    assert!(text.contains("Customer not found"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_validation_body_keeps_the_field_path_codes() {
    let server = TestServer::start().await;
    server.push(Action::json(
        400,
        r#"{"errors":[{"code":"invalid_request","message":"Invalid request"},{"code":"tags[0].name","message":"This value should not be blank."},{"code":"tags[1].color","message":"This value is not a valid color."}]}"#,
    ));
    let error = expect_status(client(&server).add_tags(customer_id(), lead()).await);

    assert_eq!(error.status, 400);
    assert_eq!(
        error.errors,
        vec![
            detail("invalid_request", "Invalid request"),
            detail("tags[0].name", "This value should not be blank."),
            detail("tags[1].color", "This value is not a valid color."),
        ]
    );
    let text = error.to_string();
    assert!(
        text.contains("This value should not be blank.; This value is not a valid color."),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_html_502_from_a_proxy_has_no_details_but_keeps_the_body() {
    let html = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
    let server = TestServer::start().await;
    server.push(Action::respond(502, &[("Content-Type", "text/html")], html));
    let error = expect_status(one_shot(&server).get_customer(customer_id()).await);

    assert_eq!(error.status, 502);
    assert!(error.errors.is_empty());
    assert_eq!(error.body, html);
    let text = error.to_string();
    assert!(!text.contains('\n') && !text.contains('\r'), "{text:?}");
    assert!(text.contains("HTTP 502 Bad Gateway"), "{text}");
    assert!(text.contains("<title>502 Bad Gateway</title>"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_error_body_has_no_details() {
    let server = TestServer::start().await;
    server.push(Action::status(404));
    let error = expect_status(client(&server).get_customer(customer_id()).await);

    assert_eq!(error.status, 404);
    assert!(error.errors.is_empty());
    assert_eq!(error.body, "");
    assert_eq!(
        error.to_string(),
        "HTTP 404 Not Found from GET /customers/1568834 (1 attempt)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn display_is_one_line_with_status_detail_and_attempts_without_the_generic_message() {
    let server = TestServer::start().await;
    server.push(Action::json(404, TWO_ELEMENTS));
    let error = expect_status(client(&server).remove_tags(customer_id(), lead()).await);

    assert_eq!(
        error.to_string(),
        "HTTP 404 Not Found from DELETE /customers/1568834/tags: Chat not found (1 attempt)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn display_keeps_the_generic_message_when_it_is_the_only_one() {
    let server = TestServer::start().await;
    server.push(Action::json(
        400,
        r#"{"errors":[{"code":"invalid_request","message":"Invalid request"}]}"#,
    ));
    let error = expect_status(client(&server).get_customer(customer_id()).await);

    let text = error.to_string();
    assert!(text.contains(": Invalid request (1 attempt)"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn display_counts_every_attempt() {
    let server = TestServer::start().await;
    server.set_default(Action::json(503, TWO_ELEMENTS));
    let error = expect_status(
        client_with(&server, |c| c.max_retries = 1)
            .get_customer(customer_id())
            .await,
    );

    let text = error.to_string();
    assert!(text.starts_with("HTTP 503 Service Unavailable"), "{text}");
    assert!(text.ends_with("(2 attempts)"), "{text}");
    assert!(!text.contains('\n'), "{text:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_line_error_messages_are_shown_on_one_line() {
    let server = TestServer::start().await;
    server.push(Action::json(
        400,
        r#"{"errors":[{"code":"customer","message":"line one\nline two"}]}"#,
    ));
    let error = expect_status(client(&server).get_customer(customer_id()).await);

    assert_eq!(error.errors[0].message, "line one\nline two");
    let text = error.to_string();
    assert!(!text.contains('\n'), "{text:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_error_keeps_the_response_headers() {
    let server = TestServer::start().await;
    server.push(Action::respond(
        403,
        &[
            ("X-Request-Id", "req-42"),
            ("Content-Type", "application/json"),
        ],
        r#"{"errors":[{"code":"forbidden","message":"Nope"}]}"#,
    ));
    let error = expect_status(client(&server).get_customer(customer_id()).await);

    assert!(
        error
            .headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("x-request-id") && v == "req-42"),
        "{:?}",
        error.headers
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_not_followed() {
    let server = TestServer::start().await;
    server.push(Action::respond(
        302,
        &[("Location", "http://elsewhere/")],
        Vec::new(),
    ));
    let error = expect_status(client(&server).remove_tags(customer_id(), lead()).await);

    assert_eq!(error.status, 302);
    assert_eq!(error.attempts, 1);
    assert_eq!(server.request_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_error_body_shapes_still_give_details() {
    let cases = [
        (
            r#"{"errors":{"code":"unauthorized","message":"Bad key"}}"#,
            vec![detail("unauthorized", "Bad key")],
        ),
        (
            r#"{"errors":["First","Second"]}"#,
            vec![detail("", "First"), detail("", "Second")],
        ),
        (
            r#"{"code":"invalid_token","message":"Token expired"}"#,
            vec![detail("invalid_token", "Token expired")],
        ),
        (
            r#"{"errors":[{"code":7,"message":null},{"message":"Only a message"}]}"#,
            vec![detail("7", ""), detail("", "Only a message")],
        ),
        (r#"{"errors":"just text"}"#, vec![]),
        (r#"[{"code":"x","message":"y"}]"#, vec![]),
    ];
    let server = TestServer::start().await;
    let client = client(&server);
    for (body, expected) in cases {
        server.push(Action::json(401, body));
        let error = expect_status(client.get_customer(customer_id()).await);
        assert_eq!(error.errors, expected, "{body}");
        assert_eq!(error.body, body);
    }
}
