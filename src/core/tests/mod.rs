//! `crate::core::Client` over real HTTP, against a scripted raw HTTP/1.1 server on 127.0.0.1.
//!
//! - `server`: the test server (it can hang, hang up, cut bodies short, trickle bytes).
//! - `requests`: what the client sends, and that a customer comes back exactly as sent.
//! - `statuses`: non-2xx answers become `Error::Status` with every `{code, message}` kept.
//! - `retries`: what is retried, how often, and how long the client waits (`Retry-After` …).
//! - `bodies`: 2xx bodies that are not a customer, oversized, cut off, slow or compressed.
//! - `config`: building a client, keeping the key secret, closing.
//! - `pacing`: the rate limiter and connection reuse, seen from the server.
//! - `throttling`: a 429 reaches the limiter; the rate limit backend setting; a budget shared
//!   through a file by clients of one key; a failing backend never fails a call.
//! - `runtime`: blocking calls that poll for a fast answer before sleeping, and stop when it
//!   does not pay.
//! - `proptests`: property tests of the parsers (error bodies, headers, ids, tags): no panics.
//! - `search`: finding customers: the pager against the sandbox and the scripted server.
//!
//! Every helper that unpacks an error also checks that the API key is not in its text.

mod bodies;
mod bulk;
mod config;
mod pacing;
mod proptests;
mod requests;
mod retries;
mod runtime;
mod search;
mod server;
mod statuses;
mod sync;
mod throttling;

use std::time::Duration;

use crate::core::config::DEFAULT_MAX_RESPONSE_BYTES;
use crate::core::{Client, ClientConfig, CustomerId, Error, StatusError, Tag};
use server::TestServer;

/// Long enough that `Debug` shows its last four characters, and easy to spot in any text.
const KEY: &str = "hc-secret-key-0123456789abcdef";

/// The documented example customer id.
const ID: u64 = 1568834;

/// A config for `server`: no rate limit, two retries, a timeout long enough for slow CI but
/// short enough that a hang fails the test rather than the CI job.
fn config(server: &TestServer) -> ClientConfig {
    ClientConfig {
        api_key: KEY.to_string(),
        base_url: server.base_url(),
        timeout: Duration::from_secs(5),
        max_retries: 2,
        rate_limit: None,
        rate_limit_backend: None,
        allow_insecure_http: false,
        max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
    }
}

fn client(server: &TestServer) -> Client {
    Client::new(config(server)).expect("a valid config")
}

fn client_with(server: &TestServer, change: impl FnOnce(&mut ClientConfig)) -> Client {
    let mut config = config(server);
    change(&mut config);
    Client::new(config).expect("a valid config")
}

fn customer_id() -> CustomerId {
    CustomerId::new(ID).unwrap()
}

fn tag(name: &str) -> Tag {
    Tag {
        name: name.to_string(),
        color: None,
    }
}

fn lead() -> Vec<Tag> {
    vec![tag("Lead")]
}

/// Panics unless the API key is absent from the error's Display and Debug text.
fn assert_no_key(error: &Error) {
    let shown = error.to_string();
    let debug = format!("{error:?}");
    assert!(!shown.contains(KEY), "the key leaked into Display: {shown}");
    assert!(!debug.contains(KEY), "the key leaked into Debug: {debug}");
}

fn expect_status<T: std::fmt::Debug>(result: crate::core::Result<T>) -> Box<StatusError> {
    match result {
        Err(Error::Status(e)) => {
            assert_no_key(&Error::Status(e.clone()));
            e
        }
        other => panic!("expected Error::Status, got {other:?}"),
    }
}

/// The error of a failed call, checked for the key.
fn expect_error<T: std::fmt::Debug>(result: crate::core::Result<T>) -> Error {
    let error = result.expect_err("the call should fail");
    assert_no_key(&error);
    error
}
