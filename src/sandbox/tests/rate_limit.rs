//! The server's rate limit: a strict sliding window over the whole server.

use super::*;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_and_search_count_against_the_limit_and_are_logged() {
    let api = Api::start(SandboxConfig {
        rate_limit: Some(4),
        ..SandboxConfig::new(KEY)
    });
    let vip = json!({"filter": [filter("customers.tagsData", "=", json!("vip"))]});
    let statuses = [
        api.search(vip.clone()).await.status,
        api.get("/customers?limit=2").await.status,
        api.search(json!({"filter": {}})).await.status, // a 400 counts too
        api.get("/customers/542335").await.status,
        api.search(vip.clone()).await.status,
        api.get("/customers?offset=2").await.status,
    ];
    assert_eq!(statuses, [200, 200, 400, 200, 429, 429]);
    let log: Vec<(String, String, u16)> = api
        .sb
        .requests()
        .into_iter()
        .map(|r| (r.method, r.path, r.status))
        .collect();
    let entry = |m: &str, p: &str, s: u16| (m.to_owned(), p.to_owned(), s);
    assert_eq!(
        log,
        [
            entry("POST", "/v1/customers/search", 200),
            entry("GET", "/v1/customers", 200),
            entry("POST", "/v1/customers/search", 400),
            entry("GET", "/v1/customers/542335", 200),
            entry("POST", "/v1/customers/search", 429),
            entry("GET", "/v1/customers", 429),
        ]
    );
    assert_eq!(api.sb.status_count(429), 2);
}
