//! State stays consistent under concurrent requests.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_tagging_leaves_consistent_state() {
    let customers = (1..=51)
        .map(|id| json!({"id": id, "name": format!("c{id}"), "tags": []}))
        .map(|v| v.as_object().unwrap().clone())
        .collect();
    let api = std::sync::Arc::new(Api::start(SandboxConfig {
        customers: Customers::Given(customers),
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searches_page_consistently_while_customers_are_tagged() {
    const N: u64 = 400;
    let customers: Vec<Value> = (1..=N)
        .map(|id| json!({"id": id, "firstSeen": id * 10, "tags": [{"name": "keep", "color": "#111111"}]}))
        .collect();
    let api = std::sync::Arc::new(Api::with(Value::Array(customers)));
    let names = |c: &Value| -> Vec<String> { tags_of(c).into_iter().map(|t| t.0).collect() };

    let mut taggers = tokio::task::JoinSet::new();
    for k in 0..4u64 {
        let api = api.clone();
        taggers.spawn(async move {
            for id in (1..=N).filter(|id| id % 4 == k) {
                for (method, tag) in [
                    (Method::PUT, "churn".to_owned()),
                    (Method::DELETE, "churn".to_owned()),
                    (Method::PUT, format!("t{k}")),
                ] {
                    let body = json!({"tags": [{"name": tag}]});
                    let req = api.request(method, &format!("/customers/{id}/tags"), Some(body));
                    assert_eq!(send(req).await.status, 200);
                }
            }
        });
    }

    let page = |tag: &str, offset: usize| {
        api.search(json!({
            "filter": [filter("customers.tagsData", "=", json!([{"name": tag}]))],
            "sort": "customers.firstSeen", "offset": offset, "limit": 7,
        }))
    };
    let mut scans = 0;
    while scans < 3 || !taggers.is_empty() {
        // "keep" never changes: every scan sees every customer once, in order.
        let mut seen = Vec::new();
        for offset in (0..N as usize).step_by(7) {
            let a = page("keep", offset).await;
            assert_eq!(a.json()["total"], N);
            for c in a.json()["data"].as_array().unwrap() {
                assert!(names(c).contains(&"keep".to_owned()));
            }
            seen.extend(a.ids());
            // Each answer is one consistent state: whoever it lists as carrying "churn"
            // carries it in the JSON it sends.
            let churn = page("churn", 0).await.json();
            for c in churn["data"].as_array().unwrap() {
                assert!(names(c).contains(&"churn".to_owned()), "{c}");
            }
            while let Some(done) = taggers.try_join_next() {
                done.expect("a tagger's requests all succeed");
            }
        }
        assert_eq!(seen, (1..=N).collect::<Vec<_>>());
        scans += 1;
    }
    for id in 1..=N {
        let c = Value::Object(api.sb.customer(id).unwrap());
        assert_eq!(
            names(&c),
            ["keep".to_owned(), format!("t{}", id % 4)],
            "{id}"
        );
    }
    assert_eq!(page("churn", 0).await.json()["total"], 0);
}
