//! Finding customers over HTTP: the pager against the sandbox (requests counted by the server,
//! paging while the caller untags, ties in any order, the caps) and against the scripted server
//! (the wire format, errors on a later page, stopping mid-scan).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::server::{Action, TestServer};
use super::*;
use crate::core::paging::{EXTRA_REQUESTS, MAX_DROPPED_PAGES};
use crate::core::query::{Filter, Match, Query};
use crate::core::runtime;
use crate::core::search::{Pager, SearchOptions};
use crate::sandbox::{Customers, Sandbox, SandboxConfig};

fn start(change: impl FnOnce(&mut SandboxConfig)) -> Sandbox {
    let mut config = SandboxConfig::new(KEY);
    change(&mut config);
    Sandbox::start(config, &runtime::handle()).expect("the sandbox starts")
}

fn generated(count: usize) -> impl FnOnce(&mut SandboxConfig) {
    move |config| config.customers = Customers::Generated { count, seed: 1 }
}

fn sandbox_client(sb: &Sandbox) -> Client {
    let mut config = ClientConfig::new(KEY);
    config.base_url = sb.base_url();
    config.rate_limit = None;
    config.timeout = Duration::from_secs(10);
    Client::new(config).unwrap()
}

fn leads() -> Arc<Query> {
    Arc::new(Query::new(
        vec![Filter::new("tagsData", "=", "Lead").unwrap()],
        Match::All,
    ))
}

fn options(page_size: u64) -> SearchOptions {
    SearchOptions {
        page_size,
        limit: None,
    }
}

/// Every id the pager hands out, in order.
async fn ids(pager: &mut Pager) -> Vec<u64> {
    let mut all = Vec::new();
    while let Some(page) = pager.next_page().await.unwrap() {
        all.extend(page.ids().map(CustomerId::get));
    }
    all
}

fn assert_once(ids: &[u64]) -> HashSet<u64> {
    let set: HashSet<u64> = ids.iter().copied().collect();
    assert_eq!(set.len(), ids.len(), "a customer was handed out twice");
    set
}

/// Customers `1..=n` with `firstSeen` in runs of `run` equal values, all tagged Lead.
fn tied_customers(n: u64, run: u64) -> Customers {
    Customers::Given(
        (1..=n)
            .map(|id| {
                let customer = json!({
                    "id": id,
                    "email": format!("c{id}@example.com"),
                    "firstSeen": (1_600_000_000 + (id - 1) / run).to_string(),
                    "tags": [{"name": "Lead", "color": "#c57de0"}],
                });
                match customer {
                    Value::Object(map) => map,
                    _ => unreachable!(),
                }
            })
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_scan_sends_one_request_per_page() {
    let sb = start(generated(2_345));
    let client = sandbox_client(&sb);
    let total = client.count_customers(&leads(), None).await.unwrap();
    assert_eq!(sb.request_count(), 1, "a count is one request");
    assert!(total > 300, "{total} leads");

    sb.clear_requests();
    let mut pager = client.search(leads(), options(100), None);
    let found = ids(&mut pager).await;
    assert_eq!(assert_once(&found).len() as u64, total);
    assert_eq!(sb.request_count(), total.div_ceil(100));
    assert_eq!(pager.total(), Some(total));

    sb.clear_requests();
    let mut pager = client.search(Arc::new(Query::everyone()), options(100), None);
    assert_eq!(assert_once(&ids(&mut pager).await).len(), 2_345);
    assert_eq!(sb.request_count(), 24);
    assert!(sb.requests().iter().all(|r| r.path == "/v1/customers"));
}

fn search_requests(sb: &Sandbox) -> u64 {
    sb.requests()
        .iter()
        .filter(|r| r.path == "/v1/customers/search")
        .count() as u64
}

/// Untags every customer as it is handed out; returns the ids found and the page requests.
/// `in_turn`: before changing a page's customers, wait until the server has answered the page
/// fetched ahead (as it has when a rate limiter spaces the requests out); otherwise the untag
/// calls race it.
async fn untag_all(
    sb: &Sandbox,
    client: &Client,
    page_size: u64,
    in_turn: bool,
) -> (Vec<u64>, u64) {
    let mut pager = client.search(leads(), options(page_size), None);
    let mut found = Vec::new();
    while let Some(page) = pager.next_page().await.unwrap() {
        if in_turn {
            let started = pager.stats().requests;
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            while search_requests(sb) < started {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the page ahead never came"
                );
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        for id in page.ids() {
            client.remove_tags(id, lead()).await.unwrap();
            found.push(id.get());
        }
    }
    let pages = search_requests(sb);
    assert_eq!(pages, pager.stats().requests);
    (found, pages)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untagging_every_customer_found_misses_none() {
    // The untag calls race the page fetched ahead, and often win.
    let sb = start(generated(3_000));
    let client = sandbox_client(&sb);
    let total = client.count_customers(&leads(), None).await.unwrap();
    sb.clear_requests();
    let (found, _) = untag_all(&sb, &client, 100, false).await;
    assert_eq!(assert_once(&found).len() as u64, total);
    assert_eq!(client.count_customers(&leads(), None).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untagging_every_customer_found_costs_one_request_more() {
    let sb = start(generated(5_000));
    let client = sandbox_client(&sb);
    let total = client.count_customers(&leads(), None).await.unwrap();
    sb.clear_requests();
    let (found, pages) = untag_all(&sb, &client, 100, true).await;
    assert_eq!(assert_once(&found).len() as u64, total);
    // The page fetched ahead before the first untag calls is asked for again once they are
    // seen; after that each page re-reads three customers, which these 1,426 leads absorb.
    assert_eq!(pages, total.div_ceil(100) + 1, "{total} leads");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ties_in_a_fresh_order_on_every_request_are_read_whole() {
    let sb = start(|c| {
        c.customers = tied_customers(1_500, 7);
        c.unstable_ties = true;
    });
    let client = sandbox_client(&sb);
    // Read-only, then untagging each: every customer once either way.
    let mut pager = client.search(Arc::new(Query::everyone()), options(50), None);
    assert_eq!(assert_once(&ids(&mut pager).await).len(), 1_500);
    assert_eq!(pager.stats().paging.unchecked_tie_runs, 0);

    let mut pager = client.search(leads(), options(50), None);
    let mut found = Vec::new();
    while let Some(page) = pager.next_page().await.unwrap() {
        for id in page.ids() {
            client.remove_tags(id, lead()).await.unwrap();
            found.push(id.get());
        }
    }
    assert_eq!(assert_once(&found).len(), 1_500);
    assert_eq!(pager.stats().paging.unchecked_tie_runs, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_created_during_the_scan_shift_nobody_out() {
    let sb = start(|c| c.customers = tied_customers(1_000, 1));
    let client = sandbox_client(&sb);
    let create = |first_seen: u64| {
        let url = format!("{}/customers", sb.base_url());
        async move {
            let body = json!({"firstSeen": first_seen.to_string(), "tags": [{"name": "Lead"}]});
            reqwest::Client::new()
                .post(url)
                .bearer_auth(KEY)
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await
                .unwrap()
                .error_for_status()
                .unwrap();
        }
    };
    let mut pager = client.search(leads(), options(100), None);
    let mut found = Vec::new();
    let mut page_no = 0;
    while let Some(page) = pager.next_page().await.unwrap() {
        found.extend(page.ids().map(CustomerId::get));
        page_no += 1;
        // A new customer (at the end) and an old one starting to match (in the middle,
        // before what was read), after every page.
        create(1_700_000_000 + page_no).await;
        create(1_600_000_000 + page_no * 10).await;
    }
    let found = assert_once(&found);
    assert!(
        (1..=1_000).all(|id| found.contains(&id)),
        "an original was skipped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capped_page_size_becomes_the_size_the_server_states() {
    let sb = start(|c| {
        c.customers = tied_customers(500, 1);
        c.max_page_size = Some(30);
    });
    let client = sandbox_client(&sb);
    let mut pager = client.search(leads(), options(100), None);
    assert_eq!(assert_once(&ids(&mut pager).await).len(), 500);
    assert_eq!(pager.stats().page_size, 30);
    // 100 refused ("less than or equal to 30"), then 17 pages of 30.
    assert_eq!(sb.status_count(400), 1);
    assert_eq!(sb.request_count(), 18);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_filters_is_the_servers_400_naming_filter() {
    let sb = start(|c| c.max_filters = Some(2));
    let client = sandbox_client(&sb);
    let filters = ["a@x.com", "b@x.com", "c@x.com"]
        .map(|e| Filter::new("email", "=", e).unwrap())
        .to_vec();
    let mut pager = client.search(
        Arc::new(Query::new(filters, Match::Any)),
        options(100),
        None,
    );
    let error = expect_status(pager.next_page().await);
    assert_eq!(error.status, 400);
    assert!(error.errors.iter().any(|d| d.code == "filter"), "{error}");
    assert!(
        pager.next_page().await.unwrap().is_none(),
        "an error ends the scan"
    );
    assert_eq!(sb.request_count(), 1);
}

fn page_body(ids: std::ops::Range<u64>, total: u64) -> String {
    let data: Vec<Value> = ids
        .map(|id| json!({"id": id, "firstSeen": (1_600_000_000 + id).to_string()}))
        .collect();
    json!({"data": data, "total": total}).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_sent_as_documented() {
    let server = TestServer::start().await;
    server.push(Action::json(200, &page_body(1..3, 2)));
    server.push(Action::json(200, &page_body(1..3, 2)));
    let client = client(&server);
    let query = Arc::new(Query::new(
        vec![
            Filter::new("email", "=", "ann@example.com").unwrap(),
            Filter::new("customers.tagsData", "=", "Lead").unwrap(),
        ],
        Match::Any,
    ));
    let mut pager = client.search(query, options(100), None);
    assert_eq!(ids(&mut pager).await, [1, 2]);
    let mut pager = client.search(Arc::new(Query::everyone()), options(100), None);
    assert_eq!(ids(&mut pager).await, [1, 2]);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        (requests[0].method.as_str(), requests[0].path.as_str()),
        ("POST", "/v1/customers/search")
    );
    let body: Map<String, Value> = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(
        Value::Object(body),
        json!({"filter": [
            {"field": "customers.email", "operator": "=", "value": "ann@example.com"},
            {"field": "customers.tagsData", "operator": "=", "value": [{"name": "Lead"}]}],
            "comparison": "OR", "limit": 100, "offset": 0,
            "sort": "customers.firstSeen", "order": "asc"})
    );
    assert_eq!(requests[1].method, "GET");
    assert_eq!(
        requests[1].path,
        "/v1/customers?offset=0&limit=100&sort=customers.firstSeen&order=asc"
    );
    assert!(requests[1].body.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_on_page_seven_is_the_servers_with_its_field_path() {
    let server = TestServer::start().await;
    for page in 0..6 {
        server.push(Action::json(
            200,
            &page_body(page * 10 + 1..page * 10 + 11, 100),
        ));
    }
    server.push(Action::json(
        400,
        r#"{"errors":[{"code":"invalid_request","message":"Invalid request"},{"code":"filter[0].value","message":"This value should be of type string."}]}"#,
    ));
    let client = client(&server);
    let mut pager = client.search(leads(), options(10), None);
    for _ in 0..6 {
        assert_eq!(pager.next_page().await.unwrap().unwrap().len(), 10);
    }
    let error = expect_status(pager.next_page().await);
    assert_eq!(error.status, 400);
    assert_eq!(error.errors[1].code, "filter[0].value");
    assert!(
        error.to_string().contains("should be of type string"),
        "{error}"
    );
    assert_eq!(server.request_count(), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_is_not_a_page_is_a_validation_error() {
    for (body, says) in [
        (r#"{"id": 1}"#, "no 'data'"),
        (r#"[1, 2]"#, "got an array"),
        (r#"{"data": {}, "total": 1}"#, "not a list of customers"),
        (
            r#"{"data": [1], "total": 1}"#,
            "data[0] is not a customer object",
        ),
        (
            r#"{"data": [{"name": "x"}], "total": 1}"#,
            "data[0] has no positive integer 'id'",
        ),
        (r#"{"data": [], "total": -1}"#, "not a count"),
        (r#"{"data": [], "total": "#, "not valid JSON"),
    ] {
        let server = TestServer::start().await;
        server.push(Action::json(200, body));
        let mut pager = client(&server).search(leads(), options(10), None);
        match expect_error(pager.next_page().await) {
            Error::ResponseValidation { message, .. } => {
                assert!(message.contains(says), "{body}: {message}")
            }
            other => panic!("{body}: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_mid_scan_drops_the_page_fetched_ahead_and_sends_nothing_more() {
    let server = TestServer::start().await;
    server.push(Action::json(200, &page_body(1..11, 100)));
    server.push(Action::delayed(
        Duration::from_secs(30),
        Action::json(200, &page_body(11..21, 100)),
    ));
    let client = client(&server);
    let mut pager = client.search(leads(), options(10), None);
    assert_eq!(pager.next_page().await.unwrap().unwrap().len(), 10);
    // The next page was asked for as the first was handed over.
    server.wait_for_requests(2).await;
    let stopper = pager.stopper();
    stopper.stop();
    assert!(pager.next_page().await.unwrap().is_none());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(server.request_count(), 2);
    drop(pager);
}

/// A page of customers `ids` (keys rising with the id), with `total` as the server counts.
fn page_of(ids: std::ops::Range<u64>, total: u64) -> Action {
    Action::json(200, &page_body(ids, total))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_answering_the_same_page_for_ever_is_left_within_the_bound() {
    // Every answer is the first page, with a total of 10^12: the scan must not walk the
    // trillion offsets, nor loop inside one `next_page`.
    let server = TestServer::start().await;
    server.set_default(page_of(1..6, 1_000_000_000_000));
    let mut pager = client(&server).search(leads(), options(5), None);
    assert_eq!(ids(&mut pager).await, [1, 2, 3, 4, 5]);
    let stats = pager.stats();
    assert!(stats.paging.total_disagrees);
    assert!(stats.requests <= 1 + EXTRA_REQUESTS, "{stats:?}");
    assert_eq!(server.request_count() as u64, stats.requests);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_total_it_does_not_serve_up_to_ends_the_scan() {
    // The issue's case: 23 customers and a total of 28, then nothing, wherever asked; the
    // pages before were the whole set.
    let server = TestServer::start().await;
    for start in [1, 6, 11, 16] {
        server.push(page_of(start..start + 5, 28));
    }
    server.push(page_of(21..24, 28));
    server.set_default(page_of(1..1, 28));
    let mut pager = client(&server).search(leads(), options(5), None);
    assert_eq!(ids(&mut pager).await, (1..24).collect::<Vec<_>>());
    let stats = pager.stats();
    assert!(stats.paging.total_disagrees);
    assert_eq!(stats.page_size, 5, "one short page shrinks nothing");
    // However the server answers the re-reads, the pages dropped in a row are bounded.
    assert!(
        stats.requests <= 5 + u64::from(MAX_DROPPED_PAGES) + 1,
        "{stats:?}"
    );
    assert!(pager.next_page().await.unwrap().is_none());
    assert_eq!(server.request_count() as u64, stats.requests);
}
