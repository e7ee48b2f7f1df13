//! The client and its rate limiter: a 429 reaches the limiter, the backend setting is checked
//! and kept secret, a shared budget is shared by clients of one key and not by others, and a
//! backend that fails never fails a call.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::server::{Action, TestServer};
use super::*;
use crate::core::config::DEFAULT_RATE_LIMIT;
use crate::core::rate_limit::{Event, EventSink, FALLBACK_SHARE};
use crate::core::ErrorKind;

/// A file in a directory of its own under the system's temporary directory, removed on drop.
struct TempBudget(PathBuf);

impl TempBudget {
    fn new(name: &str) -> Self {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "helpcrunch-core-{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempBudget(dir)
    }

    fn url(&self) -> String {
        format!("file://{}", self.0.join("budget").display())
    }
}

impl Drop for TempBudget {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Event>>>);

impl Recorder {
    fn sink(&self) -> Option<Arc<dyn EventSink>> {
        let events = self.0.clone();
        Some(Arc::new(move |event: &Event| {
            events.lock().unwrap().push(event.clone())
        }))
    }

    fn events(&self) -> Vec<Event> {
        self.0.lock().unwrap().clone()
    }
}

const RATE: f64 = 600.0;

fn limited(server: &TestServer, key: &str, backend: Option<&str>, events: &Recorder) -> Client {
    let config = ClientConfig {
        api_key: key.to_string(),
        rate_limit: Some(RATE),
        rate_limit_backend: backend.map(str::to_string),
        ..config(server)
    };
    Client::with_events(config, events.sink()).expect("a valid config")
}

fn too_many_requests() -> Action {
    // A short hint keeps the retry quick; the retry policy waits for it, the limiter does not.
    Action::respond(
        429,
        &[("retry-after-ms", "20")],
        r#"{"errors":[{"code":"too_many_requests","message":"Too many requests"}]}"#,
    )
}

fn decreases(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::RateChanged {
                    throttled: true,
                    ..
                }
            )
        })
        .count()
}

fn current(client: &Client) -> f64 {
    client.current_rate_limit().unwrap().expect("a rate limit")
}

/// Lowered by one decrease (0.7 of it), read a moment later while it climbs back: above the
/// lowered rate, well under the configured one.
fn assert_lowered_once(rate: f64) {
    assert!((RATE * 0.7..RATE * 0.8).contains(&rate), "{rate}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_lowers_the_rate_once_and_the_retry_succeeds() {
    let server = TestServer::start().await;
    let events = Recorder::default();
    let client = limited(&server, KEY, None, &events);
    assert_eq!(current(&client), RATE);

    server.push(too_many_requests());
    let customer = client.remove_tags(customer_id(), lead()).await.unwrap();

    assert_eq!(customer.attempts, 2);
    assert_lowered_once(current(&client));
    assert_eq!(decreases(&events.events()), 1, "{:?}", events.events());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_on_the_last_attempt_is_reported_too() {
    let server = TestServer::start().await;
    let events = Recorder::default();
    let config = ClientConfig {
        max_retries: 0,
        rate_limit: Some(RATE),
        ..config(&server)
    };
    let client = Client::with_events(config, events.sink()).unwrap();
    server.push(too_many_requests());

    let error = expect_error(client.get_customer(customer_id()).await);
    assert!(
        matches!(&error, Error::Status(s) if s.status == 429),
        "{error:?}"
    );
    assert_lowered_once(current(&client));
    assert_eq!(decreases(&events.events()), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuses_other_than_429_leave_the_rate_alone() {
    let server = TestServer::start().await;
    let events = Recorder::default();
    let client = limited(&server, KEY, None, &events);
    for status in [503, 500, 408] {
        server.push(Action::respond(status, &[("retry-after-ms", "10")], "{}"));
    }
    client.get_customer(customer_id()).await.unwrap_err();
    client.get_customer(customer_id()).await.unwrap();

    assert_eq!(current(&client), RATE);
    assert_eq!(events.events(), []);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_of_one_key_on_one_file_share_what_a_429_taught() {
    let server = TestServer::start().await;
    let budget = TempBudget::new("share");
    let (first_events, second_events) = (Recorder::default(), Recorder::default());
    // Two clients stand for two processes: nothing in common but the file.
    let first = limited(&server, KEY, Some(&budget.url()), &first_events);
    let second = limited(&server, KEY, Some(&budget.url()), &second_events);
    let other_account = limited(
        &server,
        "hc-another-account-key-0000",
        Some(&budget.url()),
        &Recorder::default(),
    );

    server.push(too_many_requests());
    first.get_customer(customer_id()).await.unwrap();
    assert_lowered_once(current(&first));

    // The second learns it with its next request, from the budget, without a 429 of its own.
    second.get_customer(customer_id()).await.unwrap();
    assert_lowered_once(current(&second));
    assert_eq!(decreases(&second_events.events()), 0);
    assert!(
        second_events
            .events()
            .iter()
            .any(|e| matches!(e, Event::RateChanged { throttled: false, per_minute, .. } if *per_minute < RATE)),
        "{:?}",
        second_events.events()
    );

    // Another account's budget in the same file is its own.
    other_account.get_customer(customer_id()).await.unwrap();
    assert_eq!(current(&other_account), RATE);

    let text = std::fs::read_to_string(budget.0.join("budget")).unwrap();
    assert!(!text.contains(KEY), "{text}");
    assert_eq!(
        text.lines().count(),
        3,
        "a header and one line per account: {text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_that_fails_never_fails_a_call() {
    let server = TestServer::start().await;
    let events = Recorder::default();
    let dir = TempBudget::new("missing");
    // A directory that does not exist: the file cannot be made.
    let url = format!("file://{}", dir.0.join("gone").join("budget").display());
    let client = limited(&server, KEY, Some(&url), &events);

    for _ in 0..3 {
        client.get_customer(customer_id()).await.unwrap();
    }

    let seen = events.events();
    let lost = seen
        .iter()
        .filter(|e| matches!(e, Event::BackendLost { .. }))
        .count();
    assert_eq!(lost, 1, "{seen:?}");
    assert_eq!(current(&client), RATE * FALLBACK_SHARE);
}

#[test]
fn a_shared_backend_without_a_rate_limit_is_refused() {
    let budget = TempBudget::new("no-rate");
    let error = Client::new(ClientConfig {
        rate_limit: None,
        rate_limit_backend: Some(budget.url()),
        ..ClientConfig::new(KEY)
    })
    .unwrap_err();
    let message = error.to_string();
    assert!(message.contains("rate_limit_backend"), "{message}");
    assert!(message.contains("rate_limit is None"), "{message}");
}

#[test]
fn a_bad_backend_is_refused_before_anything_is_sent() {
    for bad in ["", "localhost:6379", "redis://", "file:///tmp/"] {
        let error = Client::new(ClientConfig {
            rate_limit_backend: Some(bad.to_string()),
            ..ClientConfig::new(KEY)
        })
        .unwrap_err();
        assert!(
            error.kind() == ErrorKind::Configuration,
            "{bad:?}: {error:?}"
        );
        assert!(
            error.to_string().starts_with("rate_limit_backend"),
            "{error}"
        );
    }
}

#[test]
fn a_redis_password_is_never_shown() {
    let config = ClientConfig {
        rate_limit_backend: Some("redis://:hunter2-pw@127.0.0.1:6379/0".into()),
        ..ClientConfig::new(KEY)
    };
    let client = Client::new(config.clone()).unwrap();
    let shown = [
        format!("{config:?}"),
        format!("{client:?}"),
        client.rate_limit_backend().unwrap().describe(),
    ];
    for text in shown {
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("redis://:***@127.0.0.1:6379/0"), "{text}");
    }
}

#[test]
fn the_local_budget_is_no_backend_and_no_rate_has_no_current_rate() {
    let client = Client::new(ClientConfig::new(KEY)).unwrap();
    assert!(client.rate_limit_backend().is_none());
    assert_eq!(
        client.current_rate_limit().unwrap(),
        Some(DEFAULT_RATE_LIMIT)
    );
    let unlimited = Client::new(ClientConfig {
        rate_limit: None,
        ..ClientConfig::new(KEY)
    })
    .unwrap();
    assert_eq!(unlimited.current_rate_limit().unwrap(), None);
}
