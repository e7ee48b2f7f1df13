//! List and search pages: sort and order, offset and limit, `total`, the configurable caps,
//! and customers whose sort values are equal.

use std::collections::{BTreeSet, HashSet};

use super::*;

/// Ids 1..=12. firstSeen: 1-4 share 100, 9-11 share 500, the others fall as the id rises
/// (5: 1500 … 12: 800). lastSeen rises with the id, except on 12, which has none.
fn ties() -> Value {
    let mut customers = Vec::new();
    for id in 1..=12u64 {
        let first_seen = match id {
            1..=4 => 100,
            9..=11 => 500,
            _ => 2000 - 100 * id,
        };
        let mut c = json!({"id": id, "firstSeen": first_seen.to_string(), "tags": []});
        if id != 12 {
            c["lastSeen"] = json!(1000 + id);
        }
        customers.push(c);
    }
    Value::Array(customers)
}

fn sorted_search(sort: &str, order: &str, offset: usize, limit: usize) -> Value {
    json!({"filter": [filter("customers.id", ">", json!(0))], "sort": sort, "order": order,
           "offset": offset, "limit": limit})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_and_search_sort_by_first_or_last_seen_with_ties_in_id_order() {
    let api = Api::with(ties());
    let by_first = [1, 2, 3, 4, 9, 10, 11, 12, 8, 7, 6, 5];
    let by_first_desc: Vec<u64> = by_first.iter().rev().copied().collect();
    let by_last = [12, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
    for (sort, order, expected) in [
        ("customers.firstSeen", "asc", by_first.to_vec()),
        ("customers.firstSeen", "desc", by_first_desc),
        ("customers.lastSeen", "asc", by_last.to_vec()),
    ] {
        let list = api
            .get(&format!("/customers?sort={sort}&order={order}&limit=100"))
            .await;
        assert_eq!(list.ids(), expected, "list {sort} {order}");
        let search = api.search(sorted_search(sort, order, 0, 100)).await;
        assert_eq!(search.ids(), expected, "search {sort} {order}");
        // Page by page, the same order, with the total on every page.
        let mut paged = Vec::new();
        for offset in (0..12).step_by(5) {
            let page = api.search(sorted_search(sort, order, offset, 5)).await;
            assert_eq!(page.json()["total"], 12);
            paged.extend(page.ids());
        }
        assert_eq!(paged, expected, "paged {sort} {order}");
    }
    let default = api.get("/customers?order=desc").await;
    assert_eq!(default.ids(), (1..=12).rev().collect::<Vec<_>>());
    let filtered = api
        .search(json!({"filter": [filter("customers.id", "<=", json!(9))],
                       "sort": "customers.firstSeen", "offset": 3, "limit": 3}))
        .await;
    assert_eq!(
        (filtered.ids(), filtered.json()["total"].clone()),
        (vec![4, 9, 8], json!(9))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ties_keep_one_order_unless_asked_to_shuffle() {
    let stable = Api::with(ties());
    let first = stable
        .search(sorted_search("customers.firstSeen", "asc", 0, 100))
        .await
        .ids();
    for _ in 0..10 {
        let again = stable
            .search(sorted_search("customers.firstSeen", "asc", 0, 100))
            .await;
        assert_eq!(again.ids(), first);
    }

    let shuffled = Api::start(SandboxConfig {
        customers: Customers::Given(maps(ties())),
        unstable_ties: true,
        ..SandboxConfig::new(KEY)
    });
    let first_seen = |id: u64| -> u64 {
        match id {
            1..=4 => 100,
            9..=11 => 500,
            _ => 2000 - 100 * id,
        }
    };
    let mut tie_orders = HashSet::new();
    for i in 0..20 {
        let a = if i % 2 == 0 {
            shuffled
                .search(sorted_search("customers.firstSeen", "asc", 0, 100))
                .await
        } else {
            shuffled
                .get("/customers?sort=customers.firstSeen&limit=100")
                .await
        };
        let ids = a.ids();
        // Every customer, once, with the sort values in order: only ties move.
        assert_eq!(ids.iter().copied().collect::<BTreeSet<_>>().len(), 12);
        let keys: Vec<u64> = ids.iter().map(|&id| first_seen(id)).collect();
        assert!(keys.is_sorted(), "{ids:?}");
        assert_eq!(
            &ids[7..],
            [12, 8, 7, 6, 5],
            "customers without ties stay put"
        );
        assert_eq!(
            ids[4..7].iter().copied().collect::<BTreeSet<_>>(),
            [9, 10, 11].into()
        );
        tie_orders.insert(ids[..4].to_vec());
    }
    // Four tied customers have 24 orders; twenty requests drawing one order each would all
    // draw the same with a probability of 24^-19.
    assert!(tie_orders.len() > 1, "{tie_orders:?}");

    // Paging by offset through a run of ties then skips some customers and repeats others,
    // as it may against a real database: the worst case a client must survive.
    let mut broken = 0;
    for _ in 0..10 {
        let mut seen = Vec::new();
        for offset in [0, 2] {
            let page = shuffled
                .search(sorted_search("customers.firstSeen", "asc", offset, 2))
                .await;
            seen.extend(page.ids());
        }
        assert!(seen.iter().all(|id| (1..=4).contains(id)));
        if seen.iter().copied().collect::<BTreeSet<_>>().len() < 4 {
            broken += 1;
        }
    }
    // Each scan pages correctly with a probability of 1/6.
    assert!(broken > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caps_are_off_by_default_and_answer_400s_past_them_when_set() {
    let many: Vec<Value> = (0..150)
        .map(|i| filter("customers.id", "!=", json!(1000 + i)))
        .collect();
    let uncapped = Api::with(Value::Array(
        (1..=300).map(|id| json!({"id": id})).collect(),
    ));
    let a = uncapped.search(json!({"filter": many, "limit": 250})).await;
    assert_eq!((a.status, a.ids().len()), (200, 250));
    assert_eq!(a.json()["total"], 300);
    assert_eq!(uncapped.get("/customers?limit=1000").await.ids().len(), 300);
    assert_eq!(uncapped.get("/customers").await.ids().len(), 100);

    let capped = Api::start(SandboxConfig {
        customers: Customers::Given(maps(Value::Array(
            (1..=300).map(|id| json!({"id": id})).collect(),
        ))),
        max_page_size: Some(50),
        max_filters: Some(10),
        ..SandboxConfig::new(KEY)
    });
    let at_caps = capped
        .search(json!({"filter": &many[..10], "limit": 50}))
        .await;
    assert_eq!((at_caps.status, at_caps.ids().len()), (200, 50));
    let over = capped.search(json!({"filter": &many[..11]})).await;
    assert_eq!(over.status, 400);
    assert_eq!(
        over.json(),
        error_body(
            "filter",
            "This collection should contain 10 elements or less."
        )
    );
    let too_big = capped
        .search(json!({"filter": &many[..1], "limit": 51}))
        .await;
    assert_eq!(
        too_big.json(),
        error_body("limit", "This value should be less than or equal to 50.")
    );
    let list = capped.get("/customers?limit=51").await;
    assert_eq!(
        (list.status, list.json()),
        (
            400,
            error_body("limit", "This value should be less than or equal to 50.")
        )
    );
    // Without a limit, a page is as large as the cap allows.
    assert_eq!(
        capped.get("/customers").await.ids(),
        (1..=50).collect::<Vec<_>>()
    );

    let zero = Sandbox::start(
        SandboxConfig {
            max_filters: Some(0),
            ..SandboxConfig::new(KEY)
        },
        &tokio::runtime::Handle::current(),
    );
    let err = zero.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert_eq!(err.to_string(), "max_filters must be at least 1");
}
