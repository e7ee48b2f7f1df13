//! Generated accounts: the same seed gives the same account, a different seed another, and
//! list and search serve them like any other.

use super::*;

fn generated(count: usize, seed: u64) -> Api {
    Api::start(SandboxConfig {
        customers: Customers::Generated { count, seed },
        ..SandboxConfig::new(KEY)
    })
}

/// FNV-1a over every customer's JSON as served, in id order.
async fn fingerprint(api: &Api) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut offset = 0;
    loop {
        let page = api
            .get(&format!("/customers?offset={offset}&limit=100"))
            .await;
        let data = page.json()["data"].as_array().unwrap().clone();
        if data.is_empty() {
            return hash;
        }
        for c in &data {
            for byte in serde_json::to_vec(c).unwrap() {
                hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
            }
        }
        offset += data.len();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_gives_the_same_account_and_another_seed_another() {
    let one = generated(1000, 1);
    let again = generated(1000, 1);
    let other = generated(1000, 2);
    let all = one.get("/customers?limit=1000").await;
    assert_eq!(all.json()["total"], 1000);
    assert_eq!(all.ids(), (1..=1000).collect::<Vec<_>>());
    assert_eq!(again.get("/customers?limit=1000").await.body, all.body);
    let theirs = other.get("/customers?limit=1000").await;
    assert_eq!(theirs.ids(), all.ids());
    assert_ne!(theirs.body, all.body);
    // A larger account starts with the smaller one's customers' names: customers do not
    // depend on how many come after them... except firstSeen, spread over the same years.
    let bigger = generated(2000, 1);
    let a = one.get("/customers/7").await.json();
    let b = bigger.get("/customers/7").await.json();
    assert_eq!(
        (a["name"].clone(), a["email"].clone()),
        (b["name"].clone(), b["email"].clone())
    );
    assert_eq!(
        generated(0, 1).get("/customers").await.json(),
        json!({"data": [], "total": 0})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_1_gives_this_account_on_every_machine() {
    // Pinned: a change here changes every user's generated accounts, so it must be on
    // purpose (and said in the changelog).
    let api = generated(3000, 1);
    let first = api.get("/customers/1").await;
    assert_eq!(
        String::from_utf8_lossy(&first.body),
        r##"{"id":1,"name":"Tomás Smith","email":"tomas.smith1@post.example.org","userId":"usr_e9fd6049d65af21e","company":null,"phone":null,"firstSeen":"1420225342","lastSeen":"1420225342","location":{"regionCode":"BE","countryCode":"DE","city":"Berlin"},"device":null,"unsubscribed":false,"blocked":false,"source":"https://example.com/account/billing","referer":"https://www.bing.com/","lastPage":"https://example.com/docs/getting-started","locale":"de","createdFrom":"widget","integrationId":null,"notes":null,"tags":[{"name":"Lead","color":"#c57de0"}],"customData":{}}"##
    );
    assert_eq!(fingerprint(&api).await, 5284183199397269990);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_customers_are_searchable_by_what_they_hold() {
    let api = generated(3000, 5);
    let customers: Vec<Value> = api.sb.customers().into_iter().map(Value::Object).collect();
    let sample = customers
        .iter()
        .find(|c| !c["email"].is_null() && !c["userId"].is_null() && !c["location"].is_null())
        .unwrap();
    for (field, value) in [
        ("customers.email", sample["email"].clone()),
        ("customers.userId", sample["userId"].clone()),
    ] {
        let a = api
            .search(json!({"filter": [filter(field, "=", value)]}))
            .await;
        assert_eq!(a.ids(), [sample["id"].as_u64().unwrap()], "{field}");
    }
    // Every tag search agrees with what the customers carry.
    for (tag, colour, _) in super::super::generate::TAGS {
        let holders: Vec<u64> = customers
            .iter()
            .filter(|c| tags_of(c).contains(&(tag.to_owned(), colour.to_owned())))
            .map(|c| c["id"].as_u64().unwrap())
            .collect();
        assert!(!holders.is_empty(), "{tag}");
        let a = api
            .search(
                json!({"filter": [filter("customers.tagsData", "=", json!([{"name": tag}]))],
                           "limit": 3000}),
            )
            .await;
        assert_eq!(a.ids(), holders, "{tag}");
    }
    // firstSeen has ties, so sorting by it is where unstable paging shows.
    let sorted = api
        .get("/customers?sort=customers.firstSeen&limit=3000")
        .await
        .json();
    let seen: Vec<u64> = sorted["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["firstSeen"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(seen.is_sorted());
    assert!(seen.windows(2).filter(|w| w[0] == w[1]).count() > 100);
    // Tagging a generated customer works as on any other.
    let put = api
        .call(
            Method::PUT,
            "/customers/3/tags",
            Some(json!({"tags": [{"name": "vip"}]})),
        )
        .await;
    assert_eq!(
        put.json()["tags"].as_array().unwrap().last().unwrap()["color"],
        "#ff0000"
    );
}

#[test]
fn too_many_generated_customers_are_refused_before_any_work() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = Sandbox::start(
        SandboxConfig {
            customers: Customers::Generated {
                count: MAX_GENERATED + 1,
                seed: 1,
            },
            ..SandboxConfig::new(KEY)
        },
        rt.handle(),
    )
    .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("at most 10000000"), "{err}");
}
