//! The sandbox over real HTTP: a reqwest client (or a raw socket where HTTP details matter)
//! against a sandbox on the test's own runtime.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::{json, Map, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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

// ---------- routes ----------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_customer_returns_helpcrunchs_example_with_both_tags() {
    let api = Api::demo();
    let a = api.get("/customers/542335").await;
    assert_eq!(a.status, 200);
    assert_eq!(a.header("content-type"), Some("application/json"));
    // Byte for byte: same fields, same order, same numbers.
    assert_eq!(a.body, serde_json::to_vec(&demo(0)).unwrap());
    assert_eq!(
        tags_of(&a.json()),
        pairs(&[("vip", "#ff0000"), ("Lead", "#c57de0")])
    );
    assert_eq!(
        a.json()["customData"]["last_paid_amount"].to_string(),
        "15.99"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_pages_sorts_and_validates() {
    let api = Api::demo();
    let all = api.get("/customers").await;
    assert_eq!(all.status, 200);
    assert_eq!(all.json()["total"], 10);
    assert_eq!(all.ids(), (542335..=542344).collect::<Vec<_>>());
    assert_eq!(
        all.json().as_object().unwrap().keys().collect::<Vec<_>>(),
        ["data", "total"]
    );

    let page = api.get("/customers?offset=3&limit=4").await;
    assert_eq!(page.ids(), [542338, 542339, 542340, 542341]);
    assert_eq!(page.json()["total"], 10);
    let past = api.get("/customers?offset=20&limit=5").await;
    assert_eq!(
        (past.ids(), past.json()["total"].as_u64()),
        (vec![], Some(10))
    );
    let desc = api.get("/customers?limit=2&order=desc").await;
    assert_eq!(desc.ids(), [542344, 542343]);
    // lastSeen is a string on some customers and a number on others; null sorts last here.
    let by_seen = api
        .get("/customers?sort=customers.lastSeen&order=desc")
        .await
        .ids();
    assert_eq!(by_seen[..3], [542344, 542342, 542341]);
    assert_eq!(by_seen[9], 542338);

    let bad = api.get("/customers?offset=x&limit=0").await;
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.json(),
        json!({"errors": [
            {"code": "invalid_request", "message": "Invalid request"},
            {"code": "offset", "message": "This value should be of type integer."},
            {"code": "limit", "message": "This value should be positive."},
        ]})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_assigns_ids_fills_documented_fields_and_keeps_unknown_ones() {
    let api = Api::demo();
    let body = json!({
        "id": 1,
        "name": "Hakim Zarakim",
        "email": "hzarakim@example.com",
        "firstSeen": 1593547200,
        "customData": [{"property": "Subscription status", "value": "Active"}],
        "tags": [{"name": "Lead", "color": "#ccc"}, {"name": "Shiny", "color": "#123456"}, {"name": "Plain"}],
        "zExtra": {"kept": [1, 2.5, "three"]},
    });
    let a = api
        .call(Method::POST, "/customers", Some(body.clone()))
        .await;
    assert_eq!(a.status, 201);
    let c = a.json();
    assert_eq!(c["id"], 542345);
    let keys: Vec<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys[..3], ["id", "name", "email"]);
    assert_eq!(keys.last(), Some(&"zExtra"));
    assert_eq!(c["zExtra"], body["zExtra"]);
    assert_eq!(c["customData"], body["customData"]);
    assert_eq!(c["firstSeen"], 1593547200);
    assert_eq!(c["phone"], Value::Null);
    assert_eq!(c["blocked"], false);
    // Lead is the account's already: its colour stands. New tags take theirs or the default.
    assert_eq!(
        tags_of(&c),
        pairs(&[
            ("Lead", "#c57de0"),
            ("Shiny", "#123456"),
            ("Plain", "#c377e0")
        ])
    );
    assert_eq!(api.get("/customers/542345").await.json(), c);
    assert_eq!(api.sb.customer(542345).map(Value::Object), Some(c));

    let empty = api.call(Method::POST, "/customers", None).await;
    assert_eq!(empty.status, 201);
    assert_eq!(empty.json()["id"], 542346);
    assert_eq!(empty.json()["tags"], json!([]));
    assert_eq!(empty.json()["customData"], json!({}));
    assert_eq!(api.get("/customers").await.json()["total"], 12);

    let bad = api
        .call(
            Method::POST,
            "/customers",
            Some(json!({"name": 5, "tags": [{}]})),
        )
        .await;
    assert_eq!(bad.status, 400);
    let codes: Vec<Value> = bad.json()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].clone())
        .collect();
    assert_eq!(codes, ["invalid_request", "name", "tags[0].name"]);
    let not_object = api.call(Method::POST, "/customers", Some(json!([1]))).await;
    assert_eq!(
        not_object.json(),
        error_body("body", "This value should be of type object.")
    );
    assert_eq!(api.sb.customers().len(), 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tagging_appends_creates_tags_and_never_duplicates() {
    let api = Api::demo();
    let put = |id: u64, tags: Value| {
        api.call(
            Method::PUT,
            &format!("/customers/{id}/tags"),
            Some(json!({ "tags": tags })),
        )
    };

    let a = put(
        542338,
        json!([{"name": "Lead"}, {"name": "Fresh"}, {"name": "Painted", "color": "#0000ff"}, {"name": "Fresh"}]),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(
        tags_of(&a.json()),
        pairs(&[
            ("Lead", "#c57de0"),
            ("Fresh", "#c377e0"),
            ("Painted", "#0000ff")
        ])
    );
    // The whole customer comes back, as GET shows it.
    assert_eq!(a.json(), api.get("/customers/542338").await.json());

    // Names are case sensitive: "lead" is another tag (the account's, #3cb371); "Lead" is
    // already there and stays once.
    let again = put(
        542338,
        json!([{"name": "Lead", "color": "#000000"}, {"name": "lead"}]),
    )
    .await;
    assert_eq!(
        tags_of(&again.json()),
        pairs(&[
            ("Lead", "#c57de0"),
            ("Fresh", "#c377e0"),
            ("Painted", "#0000ff"),
            ("lead", "#3cb371"),
        ])
    );
    // A tag created on one customer keeps its colour on the next.
    let other = put(542336, json!([{"name": "Painted", "color": "#ffffff"}])).await;
    assert_eq!(
        tags_of(&other.json()),
        pairs(&[("Lead", "#c57de0"), ("Painted", "#0000ff")])
    );
    // Tagging with nothing new is a 200 with the customer unchanged.
    let same = put(542336, json!([{"name": "Lead"}])).await;
    assert_eq!((same.status, same.body), (200, other.body));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untagging_removes_and_ignores_tags_the_customer_lacks() {
    let api = Api::demo();
    let delete = |names: &[&str]| {
        let tags: Vec<Value> = names.iter().map(|n| json!({"name": n})).collect();
        api.call(
            Method::DELETE,
            "/customers/542335/tags",
            Some(json!({ "tags": tags })),
        )
    };
    let a = delete(&["vip"]).await;
    assert_eq!(a.status, 200);
    assert_eq!(tags_of(&a.json()), pairs(&[("Lead", "#c57de0")]));
    let mut rest = a.json();
    rest["tags"] = demo(0)["tags"].clone();
    assert_eq!(rest, demo(0), "only the tags changed");

    let noop = delete(&["vip", "LEAD", "never-heard-of"]).await;
    assert_eq!((noop.status, &noop.body), (200, &a.body));
    let last = delete(&["Lead"]).await;
    assert_eq!(last.json()["tags"], json!([]));
    let empty = delete(&["Lead"]).await;
    assert_eq!(
        (empty.status, empty.json()["tags"].clone()),
        (200, json!([]))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_filters_by_tag_email_and_name() {
    let api = Api::demo();
    let search = |filter: Value, extra: Value| {
        let mut body = json!({ "filter": filter });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        api.call(Method::POST, "/customers/search", Some(body))
    };
    let f = |field: &str, op: &str, value: Value| json!({"field": field, "operator": op, "value": value});

    let vip = search(
        json!([f("customers.tagsData", "=", json!("vip"))]),
        json!({"limit": 100, "offset": 0}),
    )
    .await;
    assert_eq!(vip.status, 200);
    assert_eq!(vip.ids(), [542335, 542337, 542340, 542344]);
    assert_eq!(vip.json()["total"], 4);
    let page = search(
        json!([f("customers.tagsData", "=", json!("vip"))]),
        json!({"limit": 2, "offset": 1}),
    )
    .await;
    assert_eq!(
        (page.ids(), page.json()["total"].clone()),
        (vec![542337, 542340], json!(4))
    );

    let both = search(
        json!([f(
            "customers.tagsData",
            "=",
            json!([{"name": "vip"}, {"name": "Lead"}])
        )]),
        json!({}),
    )
    .await;
    assert_eq!(both.ids(), [542335, 542340]);
    let email = search(
        json!([f("customers.email", "=", json!("li.lei@example.cn"))]),
        json!({}),
    )
    .await;
    assert_eq!(email.ids(), [542339]);
    let name = search(
        json!([f("customers.name", "=", json!("Олена Коваленко"))]),
        json!({}),
    )
    .await;
    assert_eq!(name.ids(), [542337]);
    let any = search(
        json!([
            f("customers.tagsData", "=", json!("lead")),
            f("customers.email", "~", json!("EXAMPLE.ORG")),
        ]),
        json!({"comparison": "OR"}),
    )
    .await;
    assert_eq!(any.ids(), [542340, 542342, 542344]);
    let none = search(
        json!([f("customers.email", "=", json!("nobody@example.com"))]),
        json!({}),
    )
    .await;
    assert_eq!(none.json(), json!({"data": [], "total": 0}));

    // Search sees changes at once.
    api.call(
        Method::PUT,
        "/customers/542338/tags",
        Some(json!({"tags": [{"name": "vip"}]})),
    )
    .await;
    let vip = search(
        json!([f("customers.tagsData", "=", json!("vip"))]),
        json!({}),
    )
    .await;
    assert_eq!(vip.ids(), [542335, 542337, 542338, 542340, 542344]);

    let blank = search(json!([f("", "=", json!("x"))]), json!({})).await;
    assert_eq!(blank.status, 400);
    assert_eq!(
        blank.json(),
        error_body("filter[0].field", "This value should not be blank.")
    );
    let missing = api
        .call(Method::POST, "/customers/search", Some(json!({"limit": 1})))
        .await;
    assert_eq!(
        missing.json(),
        error_body("filter", "This value should not be blank.")
    );
}

// ---------- errors ----------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_must_be_exactly_bearer_and_the_key() {
    let api = Api::demo();
    let unauthorized = error_body("unauthorized", "Unauthorized");
    let url = api.url("/customers/542335");
    for header in [
        None,
        Some(String::new()),
        Some(KEY.to_owned()),
        Some(format!("bearer {KEY}")),
        Some(format!("Bearer  {KEY}")),
        Some(format!("Bearer <{KEY}>")),
        Some("Bearer wrong".to_owned()),
    ] {
        let mut req = api.http.get(&url);
        if let Some(h) = &header {
            req = req.header("Authorization", h);
        }
        let a = send(req).await;
        assert_eq!(a.status, 401, "{header:?}");
        assert_eq!(a.header("content-type"), Some("application/json"));
        assert_eq!(a.json(), unauthorized);
    }
    // Auth comes before routing.
    let a = send(api.http.get(api.url("/nowhere"))).await;
    assert_eq!(a.status, 401);
    assert_eq!(api.sb.api_key(), KEY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_has_helpcrunchs_shape() {
    let api = Api::demo();
    let numeric = ("customer", "This value should be of type numeric.");
    let blank = "This value should not be blank.";
    let cases: Vec<(Method, &str, Option<Value>, u16, Value)> = vec![
        (
            Method::GET,
            "/customers/abc",
            None,
            400,
            error_body(numeric.0, numeric.1),
        ),
        (
            Method::GET,
            "/customers/-1",
            None,
            400,
            error_body(numeric.0, numeric.1),
        ),
        (
            Method::GET,
            "/customers/999",
            None,
            404,
            customer_not_found(),
        ),
        (
            Method::GET,
            "/customers/99999999999999999999999",
            None,
            404,
            customer_not_found(),
        ),
        (
            Method::PUT,
            "/customers/999/tags",
            Some(json!({"tags": [{"name": "x"}]})),
            404,
            customer_not_found(),
        ),
        (
            Method::DELETE,
            "/customers/999/tags",
            Some(json!({"tags": [{"name": "x"}]})),
            404,
            customer_not_found(),
        ),
        (
            Method::PUT,
            "/customers/542335/tags",
            Some(json!({})),
            400,
            error_body("tags", blank),
        ),
        (
            Method::PUT,
            "/customers/542335/tags",
            Some(json!({"tags": []})),
            400,
            error_body("tags", blank),
        ),
        (
            Method::PUT,
            "/customers/542335/tags",
            Some(json!({"tags": "Lead"})),
            400,
            error_body("tags", "This value should be of type array."),
        ),
        (
            Method::DELETE,
            "/customers/542335/tags",
            Some(json!({"tags": [{"name": " "}]})),
            400,
            error_body("tags[0].name", blank),
        ),
        (
            Method::PUT,
            "/customers/542335/tags",
            Some(json!({"tags": [{"name": "a", "color": 1}]})),
            400,
            error_body("tags[0].color", "This value should be of type string."),
        ),
        (
            Method::POST,
            "/customers/search",
            Some(
                json!({"filter": [{"field": "customers.email", "operator": "=="
            , "value": "x"}]}),
            ),
            400,
            error_body(
                "filter[0].operator",
                "The value you selected is not a valid choice.",
            ),
        ),
        (
            Method::GET,
            "/chats",
            None,
            404,
            error_body("not_found", "Not found"),
        ),
        (
            Method::GET,
            "/customers/542335/notes",
            None,
            404,
            error_body("not_found", "Not found"),
        ),
        (
            Method::GET,
            "/customers/542335/tags",
            None,
            405,
            error_body("method_not_allowed", "Method not allowed"),
        ),
        (
            Method::DELETE,
            "/customers",
            None,
            405,
            error_body("method_not_allowed", "Method not allowed"),
        ),
        (
            Method::GET,
            "/customers/search",
            None,
            405,
            error_body("method_not_allowed", "Method not allowed"),
        ),
        (
            Method::POST,
            "/customers/542335",
            None,
            405,
            error_body("method_not_allowed", "Method not allowed"),
        ),
    ];
    for (method, path, body, status, expected) in cases {
        let a = api.call(method.clone(), path, body).await;
        assert_eq!(a.status, status, "{method} {path}");
        assert_eq!(
            a.header("content-type"),
            Some("application/json"),
            "{method} {path}"
        );
        assert_eq!(a.json(), expected, "{method} {path}");
    }

    // A bad id and a bad body are reported together, as HelpCrunch's example shows.
    let both = api
        .call(
            Method::PUT,
            "/customers/abc/tags",
            Some(json!({"tags": [{"name": ""}]})),
        )
        .await;
    assert_eq!(
        both.json(),
        json!({"errors": [
            {"code": "invalid_request", "message": "Invalid request"},
            {"code": "customer", "message": "This value should be of type numeric."},
            {"code": "tags[0].name", "message": "This value should not be blank."},
        ]})
    );
    let not_json = send(
        api.request(Method::PUT, "/customers/542335/tags", None)
            .body("{\"tags\": ["),
    )
    .await;
    assert_eq!(
        not_json.json(),
        error_body("body", "This value should be valid JSON.")
    );

    for (method, path, allow) in [
        (Method::GET, "/customers/1/tags", "PUT, DELETE"),
        (Method::PATCH, "/customers", "GET, POST"),
        (Method::PUT, "/customers/search", "POST"),
    ] {
        assert_eq!(
            api.call(method, path, None).await.header("allow"),
            Some(allow)
        );
    }
    // Outside /v1 too, with a key: not found.
    let outside = send(
        api.http
            .get(format!("http://{}/v2/customers", api.sb.addr()))
            .header("Authorization", format!("Bearer {KEY}")),
    )
    .await;
    assert_eq!(outside.status, 404);
}

// ---------- rate limit ----------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_admits_exactly_n_a_minute_and_counts_401s() {
    let api = Api::start(SandboxConfig {
        rate_limit: Some(5),
        ..SandboxConfig::new(KEY)
    });
    let mut statuses = Vec::new();
    for i in 0..7 {
        let a = if i == 1 || i == 3 {
            send(api.http.get(api.url("/customers/542335"))).await // no key
        } else {
            api.get("/customers/542335").await
        };
        if a.status == 429 {
            assert_eq!(
                a.json(),
                error_body("too_many_requests", "Too many requests")
            );
            assert_eq!(a.header("retry-after"), None, "HelpCrunch documents none");
        }
        statuses.push(a.status);
    }
    assert_eq!(statuses, [200, 401, 200, 401, 200, 429, 429]);
    assert_eq!(api.sb.status_count(429), 2);
    // The health path stands outside the limit.
    let health = send(
        api.http
            .get(format!("http://{}{HEALTH_PATH}", api.sb.addr())),
    )
    .await;
    assert_eq!(health.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_holds_under_concurrency() {
    let api = Api::start(SandboxConfig {
        rate_limit: Some(7),
        ..SandboxConfig::new(KEY)
    });
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..30 {
        let req = api.request(Method::GET, "/customers?limit=1", None);
        tasks.spawn(async move { send(req).await.status });
    }
    let statuses = tasks.join_all().await;
    assert_eq!(statuses.iter().filter(|&&s| s == 200).count(), 7);
    assert_eq!(statuses.iter().filter(|&&s| s == 429).count(), 23);
}

// ---------- faults ----------

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

// ---------- concurrency ----------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_tagging_leaves_consistent_state() {
    let customers = (1..=51)
        .map(|id| json!({"id": id, "name": format!("c{id}"), "tags": []}))
        .map(|v| v.as_object().unwrap().clone())
        .collect();
    let api = std::sync::Arc::new(Api::start(SandboxConfig {
        customers: Some(customers),
        ..SandboxConfig::new(KEY)
    }));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 1..=50u64 {
        let api = api.clone();
        tasks.spawn(async move {
            let tag = |id: u64, method: Method, names: &[String]| {
                let tags: Vec<Value> = names.iter().map(|n| json!({"name": n})).collect();
                let req = api.request(
                    method,
                    &format!("/customers/{id}/tags"),
                    Some(json!({ "tags": tags })),
                );
                async move { assert_eq!(send(req).await.status, 200) }
            };
            let mine = format!("x{i}");
            // Its own customer: tag, tag again, untag one of them.
            tag(i, Method::PUT, &["mine".into(), mine.clone()]).await;
            tag(i, Method::PUT, std::slice::from_ref(&mine)).await;
            tag(i, Method::DELETE, &["mine".into()]).await;
            // The shared customer: everyone adds "shared" and its own tag; even ones take
            // theirs off again; everyone removes a tag nobody has.
            tag(51, Method::PUT, &["shared".into(), format!("t{i}")]).await;
            if i % 2 == 0 {
                tag(51, Method::DELETE, &[format!("t{i}")]).await;
            }
            tag(51, Method::DELETE, &["absent".into()]).await;
        });
    }
    tasks.join_all().await;

    for i in 1..=50u64 {
        let c = Value::Object(api.sb.customer(i).unwrap());
        assert_eq!(
            tags_of(&c),
            pairs(&[(&format!("x{i}"), "#c377e0")]),
            "customer {i}"
        );
    }
    let shared = Value::Object(api.sb.customer(51).unwrap());
    let mut names: Vec<String> = tags_of(&shared).into_iter().map(|t| t.0).collect();
    names.sort();
    let mut expected: Vec<String> = (1..=50)
        .filter(|i| i % 2 == 1)
        .map(|i| format!("t{i}"))
        .collect();
    expected.push("shared".into());
    expected.sort();
    assert_eq!(names, expected);
    // What GET serves agrees with what the sandbox holds.
    assert_eq!(api.get("/customers/51").await.json(), shared);
    assert_eq!(api.sb.request_count(), 50 * 5 + 25 + 1);
}

// ---------- log, connections, lifecycle ----------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_log_is_bounded_and_counts_everything() {
    let api = Api::start(SandboxConfig {
        log_capacity: 5,
        ..SandboxConfig::new(KEY)
    });
    api.get("/customers?offset=1&limit=2").await;
    assert_eq!(
        api.sb.requests(),
        [RequestRecord {
            method: "GET".into(),
            path: "/v1/customers".into(),
            status: 200
        }]
    );
    send(
        api.http
            .get(format!("http://{}{HEALTH_PATH}", api.sb.addr())),
    )
    .await;
    assert_eq!(api.sb.request_count(), 1, "health checks are not logged");
    for id in 0..7 {
        api.get(&format!("/customers/{id}")).await;
    }
    let log = api.sb.requests();
    assert_eq!(log.len(), 5);
    let paths: Vec<&str> = log.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/v1/customers/2",
            "/v1/customers/3",
            "/v1/customers/4",
            "/v1/customers/5",
            "/v1/customers/6"
        ]
    );
    assert!(log.iter().all(|r| r.status == 404));
    assert_eq!(api.sb.request_count(), 8);
    assert_eq!((api.sb.status_count(200), api.sb.status_count(404)), (1, 7));
    api.sb.clear_requests();
    assert_eq!((api.sb.request_count(), api.sb.requests().len()), (0, 0));
    assert_eq!(api.sb.status_count(404), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_and_pipelining_share_one_connection() {
    let api = Api::demo();
    let mut raw = RawConn::open(&api.sb).await;
    for id in [542335, 542336] {
        raw.send(&format!("GET /v1/customers/{id} HTTP/1.1")).await;
        let (status, body) = raw.read_response().await;
        assert_eq!(status, 200);
        assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["id"], id);
    }
    // Two requests in one write; two answers, in order.
    let two = format!(
        "{}{}",
        RawConn::request("GET /v1/customers/542337 HTTP/1.1"),
        RawConn::request("GET /v1/customers/x HTTP/1.1")
    );
    raw.stream.write_all(two.as_bytes()).await.unwrap();
    assert_eq!(raw.read_response().await.0, 200);
    assert_eq!(raw.read_response().await.0, 400);
    assert_eq!(api.sb.connection_count(), 1);
    assert_eq!(api.sb.request_count(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_and_last_drop_close_everything() {
    let api = Api::demo();
    let mut raw = RawConn::open(&api.sb).await;
    raw.send("GET /v1/customers/542335 HTTP/1.1").await;
    assert_eq!(raw.read_response().await.0, 200);
    api.sb.shutdown();
    assert_eq!(
        raw.read_to_end(Vec::new()).await,
        b"",
        "the open connection is closed"
    );
    assert!(api
        .http
        .get(api.url("/customers/542335"))
        .send()
        .await
        .is_err());

    // A clone keeps the server up; dropping the last handle stops it.
    let sb = Sandbox::start(SandboxConfig::new(KEY), &tokio::runtime::Handle::current()).unwrap();
    let clone = sb.clone();
    drop(sb);
    let mut raw = RawConn::open(&clone).await;
    raw.send("GET /v1/customers/542335 HTTP/1.1").await;
    assert_eq!(raw.read_response().await.0, 200);
    drop(clone);
    assert_eq!(raw.read_to_end(Vec::new()).await, b"");
}

#[test]
fn starts_from_a_plain_thread_on_a_runtime_owned_elsewhere() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let sb = Sandbox::start(SandboxConfig::new(KEY), rt.handle()).unwrap();
    assert!(sb.base_url().starts_with("http://127.0.0.1:"));
    assert!(sb.base_url().ends_with("/v1"));
    assert_eq!(sb.base_url(), format!("http://{}/v1", sb.addr()));
    let url = format!("{}/customers/542335", sb.base_url());
    let status = rt.block_on(async {
        client()
            .get(url)
            .header("Authorization", format!("Bearer {KEY}"))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, 200);
    assert_eq!(sb.customers().len(), 10);
}

#[test]
fn the_handle_is_send_sync_and_cheap_to_clone() {
    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync::<Sandbox>();
    assert_send_sync::<SandboxConfig>();
    assert_send_sync::<Fault>();
}

#[test]
fn bad_customer_sets_are_refused_at_start() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dup: Vec<Map<String, Value>> = vec![
        json!({"id": 1}).as_object().unwrap().clone(),
        json!({"id": 1}).as_object().unwrap().clone(),
    ];
    let err = Sandbox::start(
        SandboxConfig {
            customers: Some(dup),
            ..SandboxConfig::new(KEY)
        },
        rt.handle(),
    )
    .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_customers_pass_through_untouched() {
    let text = r#"[{"id": 7, "name": "A", "zeta": {"deep": [1, 2.50, 1e400, 12345678901234567890123]},
        "customData": [{"property": "p", "value": 0.30000000000000000001}], "alpha": null},
        {"name": "no id"}]"#;
    let customers: Vec<Map<String, Value>> = serde_json::from_str(text).unwrap();
    let api = Api::start(SandboxConfig {
        customers: Some(customers.clone()),
        ..SandboxConfig::new(KEY)
    });
    let a = api.get("/customers/7").await;
    assert_eq!(a.body, serde_json::to_vec(&customers[0]).unwrap());
    let text = String::from_utf8(a.body.to_vec()).unwrap();
    assert!(text.contains("12345678901234567890123") && text.contains("0.30000000000000000001"));
    // Tagging a customer without a tags field adds one and leaves the rest as it was.
    let tagged = api
        .call(
            Method::PUT,
            "/customers/7/tags",
            Some(json!({"tags": [{"name": "n"}]})),
        )
        .await
        .json();
    let keys: Vec<&str> = tagged
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["id", "name", "zeta", "customData", "alpha", "tags"]);
    assert_eq!(tagged["zeta"], customers[0]["zeta"]);
    assert_eq!(
        api.get("/customers/8").await.json(),
        json!({"id": 8, "name": "no id"})
    );
}

// ---------- a raw HTTP/1.1 connection, for what a client library hides ----------

struct RawConn {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl RawConn {
    async fn open(sb: &Sandbox) -> RawConn {
        RawConn {
            stream: TcpStream::connect(sb.addr()).await.unwrap(),
            buffer: Vec::new(),
        }
    }

    fn request(line: &str) -> String {
        format!("{line}\r\nHost: sandbox\r\nAuthorization: Bearer {KEY}\r\n\r\n")
    }

    async fn send(&mut self, line: &str) {
        self.stream
            .write_all(Self::request(line).as_bytes())
            .await
            .unwrap();
    }

    /// The response head, and whatever followed it in the buffer.
    async fn read_head(&mut self) -> (String, Vec<u8>) {
        loop {
            if let Some(end) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8(self.buffer[..end].to_vec()).unwrap();
                let rest = self.buffer.split_off(end + 4);
                self.buffer.clear();
                return (head, rest);
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "connection closed before a response head");
            self.buffer.extend_from_slice(&chunk[..n]);
        }
    }

    /// One whole response with a Content-Length; bytes after it stay buffered.
    async fn read_response(&mut self) -> (u16, Vec<u8>) {
        let (head, mut rest) = self.read_head().await;
        let status: u16 = head[9..12].parse().unwrap();
        let len: usize = header_value(&head, "content-length")
            .unwrap()
            .parse()
            .unwrap();
        while rest.len() < len {
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "connection closed mid-body");
            rest.extend_from_slice(&chunk[..n]);
        }
        self.buffer = rest.split_off(len);
        (status, rest)
    }

    /// Everything until the server closes the connection (a reset counts as closed).
    async fn read_to_end(&mut self, mut already: Vec<u8>) -> Vec<u8> {
        let mut chunk = [0u8; 4096];
        loop {
            match self.stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return already,
                Ok(n) => already.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

fn header_value<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}
