//! State stays consistent under concurrent requests.

use super::*;

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
