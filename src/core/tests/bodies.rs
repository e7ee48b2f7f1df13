//! Bodies that are not a customer: not a JSON object, too large, cut off, slow, compressed.
//! None of them may panic; a 2xx that is not one JSON object is `Error::ResponseValidation`.

use std::time::Duration;

use super::server::{Action, Reply, TestServer};
use super::*;

/// Answer a GET with `status` and `body`; expect a ResponseValidation error after one attempt
/// (an unusable body is not retried), and return its message.
async fn unusable(status: u16, body: impl Into<Vec<u8>>) -> String {
    let server = TestServer::start().await;
    server.push(Action::respond(
        status,
        &[("Content-Type", "application/json")],
        body,
    ));
    let error = expect_error(client(&server).get_customer(customer_id()).await);
    assert_eq!(server.request_count(), 1, "an unusable body was retried");
    match error {
        Error::ResponseValidation {
            status: got,
            message,
            attempts,
            ..
        } => {
            assert_eq!(got, status);
            assert_eq!(attempts, 1);
            message
        }
        other => panic!("expected Error::ResponseValidation, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_array_is_refused() {
    let message = unusable(200, r#"[{"id":1}]"#).await;
    assert!(message.contains("an array"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_string_is_refused() {
    let message = unusable(200, r#""ok""#).await;
    assert!(message.contains("a string"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_null_is_refused() {
    let message = unusable(200, "null").await;
    assert!(message.contains("null"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_number_is_refused() {
    let message = unusable(200, "123456789012345678901234567890").await;
    assert!(message.contains("a number"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_json_is_refused() {
    let message = unusable(200, r#"{"id":1,"#).await;
    assert!(message.contains("not valid JSON"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_followed_by_trailing_garbage_is_refused() {
    let message = unusable(200, r#"{"id":1} {"id":2}"#).await;
    assert!(message.contains("not valid JSON"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_body_is_refused() {
    let message = unusable(200, "").await;
    assert!(message.contains("empty"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whitespace_only_body_is_refused() {
    let message = unusable(201, " \r\n\t ").await;
    assert!(message.contains("empty"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_is_refused() {
    let mut body = br#"{"name":""#.to_vec();
    body.extend_from_slice(&[0xff, 0xfe, 0xc3]);
    body.extend_from_slice(br#""}"#);
    let message = unusable(200, body).await;
    assert!(message.contains("not valid JSON"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_nested_100_000_deep_is_refused_without_overflowing_the_stack() {
    let depth = 100_000;
    let body = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let message = unusable(200, body).await;
    assert!(message.contains("not valid JSON"), "{message}");

    let objects = format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
    let message = unusable(200, objects).await;
    assert!(message.contains("not valid JSON"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unusable_body_is_kept_in_the_error() {
    let server = TestServer::start().await;
    server.push(Action::json(200, r#"["not","a","customer"]"#));
    let error = expect_error(client(&server).get_customer(customer_id()).await);

    match &error {
        Error::ResponseValidation { body, .. } => assert_eq!(body, r#"["not","a","customer"]"#),
        other => panic!("expected Error::ResponseValidation, got {other:?}"),
    }
    let text = error.to_string();
    assert!(
        text.starts_with("HTTP 200 with an unusable body: "),
        "{text}"
    );
    assert!(text.ends_with("(1 attempt)"), "{text}");
}

/// A customer padded with spaces to exactly `len` bytes.
fn padded_customer(len: usize) -> Vec<u8> {
    let mut body = br#"{"id":1}"#.to_vec();
    body.resize(len, b' ');
    body
}

fn small_cap(server: &TestServer) -> Client {
    client_with(server, |c| c.max_response_bytes = 1024)
}

fn assert_too_large(error: Error) {
    match error {
        Error::ResponseValidation {
            message, attempts, ..
        } => {
            assert_eq!(attempts, 1);
            assert!(message.contains("1024"), "{message}");
            assert!(message.contains("max_response_bytes"), "{message}");
        }
        other => panic!("expected Error::ResponseValidation, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_max_response_bytes_is_refused() {
    let server = TestServer::start().await;
    server.push(Action::json(
        200,
        &String::from_utf8(padded_customer(1025)).unwrap(),
    ));
    let error = expect_error(small_cap(&server).get_customer(customer_id()).await);

    assert_too_large(error);
    assert_eq!(server.request_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_of_exactly_max_response_bytes_is_accepted() {
    let server = TestServer::start().await;
    server.push(Action::json(
        200,
        &String::from_utf8(padded_customer(1024)).unwrap(),
    ));
    let customer = small_cap(&server)
        .get_customer(customer_id())
        .await
        .unwrap();

    assert_eq!(customer.fields().unwrap()["id"].as_u64(), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_without_content_length_is_refused() {
    // Framed by closing the connection, so the client only learns the size by reading.
    let mut raw =
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n".to_vec();
    raw.extend_from_slice(&padded_customer(64 * 1024));
    let server = TestServer::start().await;
    server.push(Action::Raw(raw));
    let error = expect_error(small_cap(&server).get_customer(customer_id()).await);

    assert_too_large(error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_body_over_the_limit_is_refused() {
    let mut raw =
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    let chunk = padded_customer(600);
    for _ in 0..2 {
        raw.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        raw.extend_from_slice(&chunk);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    let server = TestServer::start().await;
    server.push(Action::Raw(raw));
    let error = expect_error(small_cap(&server).get_customer(customer_id()).await);

    assert_too_large(error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_customer_is_reassembled() {
    let raw = concat!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        "7\r\n{\"id\":7\r\n",
        "d\r\n,\"name\":\"Ch\"}\r\n",
        "0\r\n\r\n"
    );
    let server = TestServer::start().await;
    server.push(Action::Raw(raw.as_bytes().to_vec()));
    let customer = client(&server).get_customer(customer_id()).await.unwrap();

    assert_eq!(customer.fields().unwrap()["id"].as_u64(), Some(7));
    assert_eq!(customer.fields().unwrap()["name"], "Ch");
}

fn from_hex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// `gzip.compress(b'{"id":7,"name":"Zipped"}', mtime=0)` (Python).
const GZIP_CUSTOMER: &str =
    "1f8b0800000000000203ab56ca4c51b232d751ca4bcc4d55b2528aca2c28484d51aa05001ec62b7518000000";

/// `gzip.compress(b'{"id":7,"pad":"' + b'x' * 100000 + b'"}', mtime=0)`: 153 bytes that expand
/// to 100,018.
const GZIP_BOMB: &str = concat!(
    "1f8b0800000000000203edc5a10940210005c05d5eb67f701bc1f29b511077d7310c77e556fe9efa958c76cf04",
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "00000000000000000000000000009e957d006213a294b1860100"
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gzip_encoded_customer_is_decoded() {
    let server = TestServer::start().await;
    server.push(Action::respond(
        200,
        &[
            ("Content-Type", "application/json"),
            ("Content-Encoding", "gzip"),
        ],
        from_hex(GZIP_CUSTOMER),
    ));
    let customer = client(&server).get_customer(customer_id()).await.unwrap();

    assert_eq!(customer.fields().unwrap()["name"], "Zipped");
    let accept_encoding = server.requests()[0]
        .header("accept-encoding")
        .unwrap_or_default()
        .to_string();
    assert!(accept_encoding.contains("gzip"), "{accept_encoding:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_limit_applies_to_the_decompressed_body() {
    let bomb = from_hex(GZIP_BOMB);
    assert!(bomb.len() < 1024);
    let server = TestServer::start().await;
    server.push(Action::respond(
        200,
        &[
            ("Content-Type", "application/json"),
            ("Content-Encoding", "gzip"),
        ],
        bomb,
    ));
    let error = expect_error(small_cap(&server).get_customer(customer_id()).await);

    assert_too_large(error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_body_is_a_connection_error() {
    let server = TestServer::start().await;
    server.set_default(Action::truncated(200, 500, r#"{"id":1568834,"na"#));
    let error = expect_error(
        client_with(&server, |c| c.max_retries = 0)
            .remove_tags(customer_id(), lead())
            .await,
    );

    match &error {
        Error::Connection { message, attempts } => {
            assert_eq!(*attempts, 1);
            assert!(message.contains("reading the response"), "{message}");
        }
        other => panic!("expected Error::Connection, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_body_is_retried() {
    let server = TestServer::start().await;
    server.push(Action::truncated(200, 500, r#"{"id":1568834,"na"#));
    let customer = client(&server)
        .remove_tags(customer_id(), lead())
        .await
        .unwrap();

    assert_eq!(customer.attempts, 2);
    assert_eq!(server.request_count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_answer_within_the_timeout_is_reassembled() {
    let server = TestServer::start().await;
    server.push(Action::trickle(
        Reply::new(
            200,
            &[("Content-Type", "application/json")],
            r#"{"id":9,"name":"Slow but whole"}"#,
        ),
        7,
        Duration::from_millis(5),
    ));
    let customer = client(&server).get_customer(customer_id()).await.unwrap();

    assert_eq!(customer.attempts, 1);
    assert_eq!(customer.fields().unwrap()["name"], "Slow but whole");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_trickled_past_the_timeout_is_a_timeout() {
    // 100-byte pieces a second apart: the first carries the head (about 80 bytes) and the
    // start of the body, the rest of the body would take 2 s more, against a 300 ms timeout
    // that bounds the whole attempt.
    let server = TestServer::start().await;
    let body = String::from_utf8(padded_customer(200)).unwrap();
    server.push(Action::trickle(
        Reply::new(200, &[("Content-Type", "application/json")], body),
        100,
        Duration::from_secs(1),
    ));
    let error = expect_error(
        client_with(&server, |c| {
            c.timeout = Duration::from_millis(300);
            c.max_retries = 0;
        })
        .get_customer(customer_id())
        .await,
    );

    assert!(
        matches!(error, Error::Timeout { attempts: 1, .. }),
        "{error:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_error_body_is_still_a_status_error() {
    // A proxy's 503 page larger than the cap: the status alone should decide the class, and a
    // 503 should be retried.
    let server = TestServer::start().await;
    server.set_default(Action::respond(
        503,
        &[("Content-Type", "text/html")],
        format!("<html>{}</html>", "x".repeat(4096)),
    ));
    let error = expect_error(
        client_with(&server, |c| {
            c.max_response_bytes = 1024;
            c.max_retries = 1;
        })
        .get_customer(customer_id())
        .await,
    );

    match error {
        Error::Status(e) => {
            assert_eq!(e.status, 503);
            assert_eq!(e.attempts, 2);
        }
        other => panic!("expected Error::Status, got {other:?}"),
    }
    assert_eq!(server.request_count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_that_is_not_http_is_a_connection_error() {
    let server = TestServer::start().await;
    server.set_default(Action::Raw(b"SSH-2.0-OpenSSH_9.6\r\n".to_vec()));
    let error = expect_error(
        client_with(&server, |c| c.max_retries = 1)
            .get_customer(customer_id())
            .await,
    );

    assert!(
        matches!(error, Error::Connection { attempts: 2, .. }),
        "{error:?}"
    );
    assert_eq!(server.request_count(), 2);
}
