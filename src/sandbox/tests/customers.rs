//! Get, list, create, tag and untag, and the customers a sandbox starts with.

use super::*;

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
            customers: Customers::Given(dup),
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
        customers: Customers::Given(customers.clone()),
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

/// A file in the temporary directory, removed when dropped.
struct TempFile(std::path::PathBuf);

impl TempFile {
    fn new(name: &str, content: &[u8]) -> TempFile {
        let path =
            std::env::temp_dir().join(format!("helpcrunch-sandbox-{}-{name}", std::process::id()));
        std::fs::write(&path, content).unwrap();
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn start_from(file: &TempFile) -> std::io::Result<Api> {
    let config = SandboxConfig {
        customers: Customers::File(file.0.clone()),
        ..SandboxConfig::new(KEY)
    };
    Sandbox::start(config, &tokio::runtime::Handle::current()).map(|sb| Api { sb, http: client() })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_load_from_a_json_array_or_json_lines() {
    let customers: Value = serde_json::from_str(
        r##"[{"id": 3, "name": "Three", "big": 12345678901234567890123,
             "tags": [{"name": "x", "color": "#010203"}]},
            {"name": "No id", "email": "n@example.com"},
            {"id": 1, "firstSeen": "1600000000"}]"##,
    )
    .unwrap();
    let array = TempFile::new(
        "array.json",
        &serde_json::to_vec_pretty(&customers).unwrap(),
    );
    let lines: String = customers
        .as_array()
        .unwrap()
        .iter()
        .map(|c| format!("{c}\n\n"))
        .collect();
    let jsonl = TempFile::new("lines.jsonl", format!("\u{feff}{lines}").as_bytes());
    for file in [&array, &jsonl] {
        let api = start_from(file).unwrap();
        assert_eq!(api.get("/customers").await.ids(), [1, 3, 4], "{:?}", file.0);
        assert_eq!(
            api.get("/customers/4").await.json(),
            json!({"id": 4, "name": "No id", "email": "n@example.com"})
        );
        let three = api.get("/customers/3").await;
        assert!(String::from_utf8_lossy(&three.body).contains("12345678901234567890123"));
        // The file's tags are the account's: their colour stands.
        let tagged = api
            .call(
                Method::PUT,
                "/customers/1/tags",
                Some(json!({"tags": [{"name": "x"}]})),
            )
            .await;
        assert_eq!(tags_of(&tagged.json()), pairs(&[("x", "#010203")]));
    }
    let empty = TempFile::new("empty.jsonl", b"  \n");
    assert_eq!(start_from(&empty).unwrap().sb.customer_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_customer_file_is_refused_with_where_and_why() {
    for (name, content, says) in [
        ("scalar.json", &b"42"[..], "expected a JSON array"),
        ("bad-item.json", b"[{\"id\": 1},\n 7]", "line 2"),
        ("bad-line.jsonl", b"{\"id\": 1}\n{\"id\": 2", "line 2"),
        (
            "dup.jsonl",
            b"{\"id\": 1}\n{\"id\": 1}",
            "two customers have id 1",
        ),
        (
            "bad-id.json",
            b"[{\"id\": 1}, {\"id\": -5}]",
            "customer 2: customer id must be",
        ),
        ("trailing.json", b"[{\"id\": 1}] x", "trailing"),
    ] {
        let file = TempFile::new(name, content);
        let err = start_from(&file).err().expect(name);
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "{name}: {err}");
        let text = err.to_string();
        assert!(text.contains(says) && text.contains(name), "{name}: {text}");
    }
    let missing = TempFile::new("gone.json", b"[]");
    let path = missing.0.clone();
    drop(missing);
    let config = SandboxConfig {
        customers: Customers::File(path),
        ..SandboxConfig::new(KEY)
    };
    let err = Sandbox::start(config, &tokio::runtime::Handle::current()).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    assert!(err.to_string().contains("gone.json"), "{err}");
}
