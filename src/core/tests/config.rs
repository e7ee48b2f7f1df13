//! Building a client (what is refused, and that the key is never shown), and closing it.

use std::time::Duration;

use super::server::{Action, TestServer};
use super::*;
use crate::core::ErrorKind;

fn config_for(base_url: &str) -> ClientConfig {
    ClientConfig {
        api_key: KEY.into(),
        base_url: base_url.into(),
        timeout: Duration::from_secs(5),
        max_retries: 0,
        rate_limit: None,
        rate_limit_backend: None,
        allow_insecure_http: false,
        max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
    }
}

/// The Configuration error's text, checked for the key.
fn configuration_error(config: ClientConfig) -> String {
    match Client::new(config) {
        Err(error) if error.kind() == ErrorKind::Configuration => {
            assert_no_key(&error);
            error.to_string()
        }
        other => panic!("expected Error::Configuration, got {other:?}"),
    }
}

#[test]
fn an_empty_api_key_names_the_environment_variable() {
    for key in ["", "   ", "\t\n"] {
        let message = configuration_error(ClientConfig {
            api_key: key.into(),
            ..config_for("https://api.helpcrunch.com/v1")
        });
        assert!(message.contains("HELPCRUNCH_API_KEY"), "{key:?}: {message}");
    }
}

#[test]
fn plain_http_to_a_remote_host_is_refused() {
    for url in [
        "http://example.com",
        "http://api.helpcrunch.com/v1",
        "http://localhost.example.com/v1",
        "http://127.0.0.1.nip.io/v1",
        "http://10.0.0.1:8080/v1",
    ] {
        let message = configuration_error(config_for(url));
        assert!(message.contains("allow_insecure_http"), "{url}: {message}");
    }
}

#[test]
fn plain_http_to_a_remote_host_is_allowed_when_asked_for() {
    let client = Client::new(ClientConfig {
        allow_insecure_http: true,
        ..config_for("http://example.com")
    })
    .unwrap();
    assert_eq!(client.base_url(), "http://example.com");
}

#[test]
fn plain_http_to_this_machine_is_allowed() {
    for url in [
        "http://localhost:8080/v1",
        "http://LocalHost:8080/v1",
        "http://127.0.0.1:8080/v1",
        "http://127.5.6.7:8080/v1",
        "http://[::1]:8080/v1",
    ] {
        let client = Client::new(config_for(url)).unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(client.base_url(), url.to_ascii_lowercase());
    }
}

#[test]
fn other_schemes_and_non_urls_are_refused() {
    for url in [
        "ftp://api.helpcrunch.com/v1",
        "api.helpcrunch.com/v1",
        "",
        "https://",
    ] {
        configuration_error(config_for(url));
    }
}

#[test]
fn a_base_url_with_a_query_or_fragment_is_refused() {
    for url in [
        "https://api.helpcrunch.com/v1?x=1",
        "https://api.helpcrunch.com/v1#top",
    ] {
        configuration_error(config_for(url));
    }
}

#[test]
fn credentials_in_the_base_url_are_refused_without_being_echoed() {
    let message = configuration_error(config_for("https://alice:hunter2@api.helpcrunch.com/v1"));
    assert!(!message.contains("hunter2"), "{message}");
    assert!(!message.contains("alice"), "{message}");
}

#[test]
fn an_api_key_with_a_newline_is_refused_without_being_echoed() {
    let key = "hc-secret-key-0123456789\nX-Injected: 1";
    let message = configuration_error(ClientConfig {
        api_key: key.into(),
        ..config_for("https://api.helpcrunch.com/v1")
    });
    assert!(!message.contains("hc-secret-key"), "{message}");
    assert!(!message.contains("X-Injected"), "{message}");
    assert!(message.contains("api_key"), "{message}");
}

#[test]
fn a_zero_timeout_is_refused() {
    configuration_error(ClientConfig {
        timeout: Duration::ZERO,
        ..config_for("https://api.helpcrunch.com/v1")
    });
}

#[test]
fn a_rate_limit_that_is_not_a_positive_number_is_refused() {
    for rate in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let message = configuration_error(ClientConfig {
            rate_limit: Some(rate),
            ..config_for("https://api.helpcrunch.com/v1")
        });
        assert!(message.contains("rate_limit"), "{rate}: {message}");
    }
}

#[test]
fn debug_output_never_contains_the_key() {
    for key in [KEY, "short-key", "0123456789abcdef"] {
        let config = ClientConfig {
            api_key: key.into(),
            ..config_for("https://api.helpcrunch.com/v1")
        };
        let shown = format!("{config:?} {config:#?}");
        assert!(!shown.contains(key), "{shown}");
        let client = Client::new(config).unwrap();
        let shown = format!("{client:?} {client:#?}");
        assert!(!shown.contains(key), "{shown}");
        assert!(shown.contains("api.helpcrunch.com"), "{shown}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_client_refuses_calls_without_sending_anything() {
    let server = TestServer::start().await;
    let client = client(&server);
    client.close();

    assert!(client.is_closed());
    let error = expect_error(client.remove_tags(customer_id(), lead()).await);
    assert!(matches!(error, Error::Closed), "{error:?}");
    assert_eq!(error.attempts(), 0);
    assert_eq!(server.request_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_one_clone_closes_them_all() {
    let server = TestServer::start().await;
    let client = client(&server);
    let clone = client.clone();
    client.get_customer(customer_id()).await.unwrap();
    clone.close();

    let error = expect_error(client.get_customer(customer_id()).await);
    assert!(matches!(error, Error::Closed), "{error:?}");
    assert_eq!(server.request_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_while_a_call_waits_to_retry_ends_it_with_closed() {
    let server = TestServer::start().await;
    server.set_default(Action::status(503));
    let client = client_with(&server, |c| c.max_retries = 5);
    let call = tokio::spawn({
        let client = client.clone();
        async move { client.get_customer(customer_id()).await }
    });
    server.wait_for_requests(1).await;
    client.close();

    let error = expect_error(call.await.unwrap());
    assert!(matches!(error, Error::Closed), "{error:?}");
    assert_eq!(server.request_count(), 1);
}

#[test]
fn an_api_key_with_control_characters_is_refused_without_being_echoed() {
    for key in ["hc-secret-key\u{0}0123456789", "hc-secret-key\r0123456789"] {
        let message = configuration_error(ClientConfig {
            api_key: key.into(),
            ..config_for("https://api.helpcrunch.com/v1")
        });
        assert!(!message.contains("hc-secret"), "{message}");
    }
}

#[test]
fn an_api_key_with_non_ascii_characters_is_refused_without_being_echoed() {
    // A non-breaking space or a Cyrillic letter picked up by copy and paste: HelpCrunch keys are
    // ASCII, so such a key can only earn a 401 later; it should be refused here, clearly.
    for key in ["hc-secret-key\u{a0}0123456789", "hc-secret-ключ-0123456789"] {
        let message = configuration_error(ClientConfig {
            api_key: key.into(),
            ..config_for("https://api.helpcrunch.com/v1")
        });
        assert!(!message.contains("hc-secret"), "{message}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_timeout_does_not_overflow() {
    let server = TestServer::start().await;
    let client = client_with(&server, |c| c.timeout = Duration::MAX);

    let customer = client.get_customer(customer_id()).await.unwrap();
    assert_eq!(customer.attempts, 1);
}
