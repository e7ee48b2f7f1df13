//! The sandbox over real HTTP: a reqwest client (or a raw socket where HTTP details matter)
//! against a sandbox on the test's own runtime.
//!
//! - `customers`: get, list, create, tag and untag, and the customers a sandbox starts with.
//! - `search`: `POST /customers/search` filters: every field, operator and comparison.
//! - `paging`: sort, order, offset, limit, total, the caps, and ties in the sort value.
//! - `generated`: generated accounts, the same for the same seed.
//! - `errors`: auth and HelpCrunch's error shape for every kind of bad request.
//! - `rate_limit`: the server's sliding-window limit.
//! - `faults`: injected statuses, latency, dropped and cut-off answers.
//! - `concurrency`: state stays consistent under concurrent requests.
//! - `lifecycle`: the request log, connections, start and shutdown.
//! - `raw`: a raw HTTP/1.1 connection, for what a client library hides.

mod concurrency;
mod customers;
mod errors;
mod faults;
mod generated;
mod lifecycle;
mod paging;
mod rate_limit;
mod raw;
mod search;

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::{json, Map, Value};

use super::data::DEMO_CUSTOMERS;
use super::*;

const KEY: &str = "test-key-123";

struct Api {
    sb: Sandbox,
    http: reqwest::Client,
}

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    fn ids(&self) -> Vec<u64> {
        ids(&self.json()["data"])
    }
}

fn ids(list: &Value) -> Vec<u64> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_u64().unwrap())
        .collect()
}

fn client() -> reqwest::Client {
    // No retries of its own: each test sees exactly what the sandbox did.
    reqwest::Client::builder()
        .retry(reqwest::retry::never())
        .build()
        .unwrap()
}

impl Api {
    fn start(config: SandboxConfig) -> Api {
        let sb = Sandbox::start(config, &tokio::runtime::Handle::current()).unwrap();
        Api { sb, http: client() }
    }

    fn demo() -> Api {
        Api::start(SandboxConfig::new(KEY))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sb.base_url())
    }

    fn request(&self, method: Method, path: &str, body: Option<Value>) -> reqwest::RequestBuilder {
        let mut req = self
            .http
            .request(method, self.url(path))
            .header("Authorization", format!("Bearer {KEY}"));
        if let Some(body) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(serde_json::to_vec(&body).unwrap());
        }
        req
    }

    /// The request is built at once, so the future borrows neither `self` nor `path`.
    fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> impl Future<Output = Answer> {
        send(self.request(method, path, body))
    }

    fn get(&self, path: &str) -> impl Future<Output = Answer> {
        self.call(Method::GET, path, None)
    }

    fn search(&self, body: Value) -> impl Future<Output = Answer> {
        self.call(Method::POST, "/customers/search", Some(body))
    }

    /// A sandbox holding `customers` (a JSON array of objects).
    fn with(customers: Value) -> Api {
        Api::start(SandboxConfig {
            customers: Customers::Given(maps(customers)),
            ..SandboxConfig::new(KEY)
        })
    }
}

fn maps(customers: Value) -> Vec<Map<String, Value>> {
    match customers {
        Value::Array(items) => items
            .into_iter()
            .map(|c| match c {
                Value::Object(map) => map,
                other => panic!("not an object: {other}"),
            })
            .collect(),
        other => panic!("not an array: {other}"),
    }
}

/// One search filter, as the wire has it.
fn filter(field: &str, operator: &str, value: Value) -> Value {
    json!({"field": field, "operator": operator, "value": value})
}

async fn send(req: reqwest::RequestBuilder) -> Answer {
    let resp = req.send().await.expect("an answer");
    Answer {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: resp.bytes().await.expect("a whole body"),
    }
}

fn demo(index: usize) -> Value {
    let all: Value = serde_json::from_str(DEMO_CUSTOMERS).unwrap();
    all[index].clone()
}

fn tags_of(customer: &Value) -> Vec<(String, String)> {
    customer["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_owned(),
                t["color"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, c)| (n.to_string(), c.to_string()))
        .collect()
}

/// HelpCrunch's two-element error body.
fn error_body(code: &str, message: &str) -> Value {
    json!({"errors": [
        {"code": "invalid_request", "message": "Invalid request"},
        {"code": code, "message": message},
    ]})
}

fn customer_not_found() -> Value {
    json!({"errors": [{"code": "entity_not_found", "message": "Customer not found"}]})
}

/// Waits for a condition the test cannot await directly; fails rather than hang.
async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    for _ in 0..10_000 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("never happened: {what}");
}
