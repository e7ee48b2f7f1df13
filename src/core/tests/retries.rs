//! What is retried and how often, and how long the client waits before trying again.
//!
//! Waits are measured on the server, between request arrivals, with loose lower bounds only.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use super::server::{Action, TestServer};
use super::*;
use crate::core::client::{AttemptEvent, Observer};
use crate::core::Operation;

/// The time between the arrivals of the first and second request.
fn first_gap(server: &TestServer) -> Duration {
    let requests = server.requests();
    assert!(requests.len() >= 2, "only {} requests", requests.len());
    requests[1].at - requests[0].at
}

/// `status` once, then a customer: the call succeeds on the second attempt.
async fn assert_retried_once(status: u16) {
    let server = TestServer::start().await;
    server.push(Action::json(
        status,
        r#"{"errors":[{"code":"x","message":"try again"}]}"#,
    ));
    let customer = client(&server)
        .remove_tags(customer_id(), lead())
        .await
        .unwrap_or_else(|e| panic!("{status} should have been retried: {e}"));
    assert_eq!(customer.attempts, 2, "{status}");
    assert_eq!(server.request_count(), 2, "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_then_a_customer_succeeds_on_the_second_attempt() {
    let server = TestServer::start().await;
    server.push(Action::status(503));
    let customer = client(&server)
        .remove_tags(customer_id(), lead())
        .await
        .unwrap();

    assert_eq!(customer.attempts, 2);
    assert_eq!(customer.fields().unwrap()["name"], "Ada");
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].body, requests[1].body);
    assert_eq!(requests[1].method, "DELETE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_server_hints_the_retry_waits_for_the_backoff() {
    let server = TestServer::start().await;
    server.push(Action::status(503));
    client(&server).get_customer(customer_id()).await.unwrap();

    // The first backoff is 0.5 s less up to a quarter of jitter.
    let gap = first_gap(&server);
    assert!(gap >= Duration::from_millis(350), "{gap:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persistent_503_gives_up_after_max_retries_plus_one_attempts() {
    let server = TestServer::start().await;
    server.set_default(Action::status(503));
    let error = expect_status(
        client_with(&server, |c| c.max_retries = 2)
            .remove_tags(customer_id(), lead())
            .await,
    );

    assert_eq!(error.status, 503);
    assert_eq!(error.attempts, 3);
    assert_eq!(server.request_count(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_max_retries_makes_exactly_one_attempt() {
    let server = TestServer::start().await;
    server.set_default(Action::status(503));
    let error = expect_status(
        client_with(&server, |c| c.max_retries = 0)
            .get_customer(customer_id())
            .await,
    );

    assert_eq!(error.attempts, 1);
    assert_eq!(server.request_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_errors_are_never_retried() {
    for status in [400, 401, 403, 404, 413, 422] {
        let server = TestServer::start().await;
        server.set_default(Action::json(
            status,
            r#"{"errors":[{"code":"x","message":"no"}]}"#,
        ));
        let error = expect_status(
            client_with(&server, |c| c.max_retries = 3)
                .remove_tags(customer_id(), lead())
                .await,
        );
        assert_eq!(error.status, status);
        assert_eq!(error.attempts, 1, "{status}");
        assert_eq!(server.request_count(), 1, "{status} was retried");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_408_request_timeout_is_retried() {
    assert_retried_once(408).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_409_conflict_is_retried() {
    assert_retried_once(409).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_without_hints_is_retried() {
    assert_retried_once(429).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_internal_server_error_is_retried() {
    assert_retried_once(500).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_closed_without_an_answer_is_retried() {
    let server = TestServer::start().await;
    server.push(Action::Close);
    let customer = client(&server)
        .remove_tags(customer_id(), lead())
        .await
        .unwrap();

    assert_eq!(customer.attempts, 2);
    assert_eq!(server.request_count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_closed_every_time_end_in_a_connection_error() {
    let server = TestServer::start().await;
    server.set_default(Action::Close);
    let error = expect_error(
        client_with(&server, |c| c.max_retries = 1)
            .remove_tags(customer_id(), lead())
            .await,
    );

    match &error {
        Error::Connection { message, attempts } => {
            assert_eq!(*attempts, 2);
            assert!(message.contains("DELETE"), "{message}");
            assert!(message.contains("/customers/1568834/tags"), "{message}");
        }
        other => panic!("expected a connection error, got {other:?}"),
    }
    assert_eq!(server.request_count(), 2);
    let text = error.to_string();
    assert!(text.starts_with("connection error: "), "{text}");
    assert!(text.ends_with("(2 attempts)"), "{text}");
    assert!(!text.contains('\n'), "{text:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_is_a_connection_error() {
    // Bind a port, then free it: nothing listens there any more.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let client = Client::new(ClientConfig {
        api_key: KEY.into(),
        base_url: format!("http://127.0.0.1:{port}/v1"),
        timeout: Duration::from_secs(2),
        max_retries: 0,
        rate_limit: None,
        rate_limit_backend: None,
        allow_insecure_http: false,
        max_response_bytes: 1024,
    })
    .unwrap();
    let error = expect_error(client.get_customer(customer_id()).await);

    match error {
        Error::Connection { message, attempts } => {
            assert_eq!(attempts, 1);
            assert!(message.contains("could not connect"), "{message}");
        }
        other => panic!("expected a connection error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_gives_a_timeout() {
    let server = TestServer::start().await;
    server.set_default(Action::Hang);
    let started = Instant::now();
    let error = expect_error(
        client_with(&server, |c| {
            c.timeout = Duration::from_millis(200);
            c.max_retries = 0;
        })
        .get_customer(customer_id())
        .await,
    );

    match error {
        Error::Timeout { timeout, attempts } => {
            assert_eq!(timeout, Duration::from_millis(200));
            assert_eq!(attempts, 1);
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(started.elapsed() >= Duration::from_millis(190));
    assert_eq!(server.request_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_is_retried() {
    let server = TestServer::start().await;
    server.set_default(Action::Hang);
    let error = expect_error(
        client_with(&server, |c| {
            c.timeout = Duration::from_millis(200);
            c.max_retries = 1;
        })
        .remove_tags(customer_id(), lead())
        .await,
    );

    assert!(
        matches!(error, Error::Timeout { attempts: 2, .. }),
        "{error:?}"
    );
    assert_eq!(server.request_count(), 2);
    let text = error.to_string();
    assert!(text.contains("0.2 s timeout"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_then_an_answer_succeeds() {
    let server = TestServer::start().await;
    server.push(Action::Hang);
    let customer = client_with(&server, |c| c.timeout = Duration::from_millis(200))
        .get_customer(customer_id())
        .await
        .unwrap();

    assert_eq!(customer.attempts, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_delayed_within_the_timeout_is_accepted() {
    let server = TestServer::start().await;
    server.push(Action::delayed(
        Duration::from_millis(150),
        Action::json(200, r#"{"id":5}"#),
    ));
    let customer = client_with(&server, |c| c.timeout = Duration::from_secs(3))
        .get_customer(customer_id())
        .await
        .unwrap();

    assert_eq!(customer.attempts, 1);
    assert_eq!(customer.fields().unwrap()["id"].as_u64(), Some(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_delayed_past_the_timeout_is_a_timeout() {
    let server = TestServer::start().await;
    server.push(Action::delayed(
        Duration::from_secs(3),
        Action::json(200, r#"{"id":5}"#),
    ));
    let error = expect_error(
        client_with(&server, |c| {
            c.timeout = Duration::from_millis(200);
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
async fn retry_after_in_seconds_is_honoured() {
    let server = TestServer::start().await;
    server.push(Action::respond(429, &[("Retry-After", "1")], Vec::new()));
    let customer = client(&server)
        .remove_tags(customer_id(), lead())
        .await
        .unwrap();

    assert_eq!(customer.attempts, 2);
    let gap = first_gap(&server);
    assert!(gap >= Duration::from_millis(900), "{gap:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_ms_is_honoured() {
    let server = TestServer::start().await;
    server.push(Action::respond(
        429,
        &[("retry-after-ms", "100")],
        Vec::new(),
    ));
    let customer = client(&server).get_customer(customer_id()).await.unwrap();

    assert_eq!(customer.attempts, 2);
    let gap = first_gap(&server);
    assert!(gap >= Duration::from_millis(90), "{gap:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_ms_wins_over_retry_after() {
    let server = TestServer::start().await;
    server.push(Action::respond(
        429,
        &[("Retry-After", "20"), ("retry-after-ms", "100")],
        Vec::new(),
    ));
    client(&server).get_customer(customer_id()).await.unwrap();

    let gap = first_gap(&server);
    assert!(gap < Duration::from_secs(10), "{gap:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_as_an_http_date_is_honoured() {
    let server = TestServer::start().await;
    // Dates have whole seconds: two seconds ahead is at least one second ahead once rounded.
    let when = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(2));
    server.push(Action::respond(503, &[("Retry-After", &when)], Vec::new()));
    client(&server).get_customer(customer_id()).await.unwrap();

    let gap = first_gap(&server);
    assert!(gap >= Duration::from_millis(900), "{gap:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_ratelimit_reset_in_seconds_is_honoured() {
    let server = TestServer::start().await;
    server.push(Action::respond(
        429,
        &[("X-RateLimit-Reset", "1")],
        Vec::new(),
    ));
    client(&server).get_customer(customer_id()).await.unwrap();

    let gap = first_gap(&server);
    assert!(gap >= Duration::from_millis(900), "{gap:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_past_the_cap_fails_at_once_with_retry_after_set() {
    let server = TestServer::start().await;
    server.set_default(Action::json(
        429,
        r#"{"errors":[{"code":"too_many_requests","message":"Too many requests"}]}"#,
    ));
    server.push(Action::respond(
        429,
        &[("Retry-After", "120")],
        r#"{"errors":[{"code":"too_many_requests","message":"Too many requests"}]}"#,
    ));
    let started = Instant::now();
    let error = expect_status(client(&server).remove_tags(customer_id(), lead()).await);

    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(error.status, 429);
    assert_eq!(error.attempts, 1);
    assert_eq!(error.retry_after, Some(Duration::from_secs(120)));
    assert_eq!(server.request_count(), 1);
    let text = error.to_string();
    assert!(text.contains("retry after 120.0 s"), "{text}");
    assert!(text.contains("Too many requests"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_on_the_last_attempt_is_reported() {
    let server = TestServer::start().await;
    server.push(Action::respond(429, &[("Retry-After", "1")], Vec::new()));
    let error = expect_status(
        client_with(&server, |c| c.max_retries = 0)
            .get_customer(customer_id())
            .await,
    );

    assert_eq!(error.attempts, 1);
    assert_eq!(error.retry_after, Some(Duration::from_secs(1)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_retry_after_values_fall_back_to_the_backoff() {
    for garbage in ["abc", "-1", "", "1,5", "NaN"] {
        let server = TestServer::start().await;
        server.push(Action::respond(
            429,
            &[("Retry-After", garbage)],
            Vec::new(),
        ));
        let customer = client(&server)
            .get_customer(customer_id())
            .await
            .unwrap_or_else(|e| panic!("Retry-After {garbage:?}: {e}"));

        assert_eq!(customer.attempts, 2, "{garbage:?}");
        let gap = first_gap(&server);
        assert!(gap >= Duration::from_millis(350), "{garbage:?}: {gap:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_zero_falls_back_to_the_backoff() {
    let server = TestServer::start().await;
    server.push(Action::respond(503, &[("Retry-After", "0")], Vec::new()));
    client(&server).get_customer(customer_id()).await.unwrap();

    let gap = first_gap(&server);
    assert!(gap >= Duration::from_millis(350), "{gap:?}");
}

/// What an observer is told about one attempt: (attempt, status, had a transport error,
/// retry planned).
type Heard = (u32, Option<u16>, bool, bool);

#[derive(Default)]
struct Recorder(Mutex<Vec<Heard>>);

impl Observer for Recorder {
    fn on_attempt(&self, event: &AttemptEvent<'_>) {
        self.0.lock().unwrap().push((
            event.attempt,
            event.status,
            event.error.is_some(),
            event.retry_in.is_some(),
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_observer_hears_of_every_attempt() {
    let server = TestServer::start().await;
    server.push(Action::status(503));
    server.push(Action::Close);
    let recorder = Arc::new(Recorder::default());
    client(&server)
        .call(
            Operation::RemoveTags(customer_id(), lead()),
            Some(recorder.clone()),
        )
        .await
        .unwrap();

    let events = recorder.0.lock().unwrap().clone();
    assert_eq!(
        events,
        vec![
            (1, Some(503), false, true),
            (2, None, true, true),
            (3, Some(200), false, false),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_observer_hears_the_real_success_status() {
    let server = TestServer::start().await;
    server.push(Action::json(201, r#"{"id":1}"#));
    let recorder = Arc::new(Recorder::default());
    client(&server)
        .call(
            Operation::AddTags(customer_id(), lead()),
            Some(recorder.clone()),
        )
        .await
        .unwrap();

    let events = recorder.0.lock().unwrap().clone();
    assert_eq!(events, vec![(1, Some(201), false, false)]);
}
