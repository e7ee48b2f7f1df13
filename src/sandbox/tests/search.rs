//! `POST /customers/search`: filters, comparison, sort and paging.

use super::*;

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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_with_no_filter_is_answered_like_a_list() {
    let api = Api::demo();
    for paging in [
        "limit=3&offset=2",
        "limit=4&offset=0&sort=customers.lastSeen&order=desc",
        "limit=100&sort=customers.firstSeen&order=asc",
        "offset=8",
    ] {
        let list = api.get(&format!("/customers?{paging}")).await;
        assert_eq!(list.status, 200, "{paging}");
        let mut body = serde_json::Map::new();
        for (key, value) in url::form_urlencoded::parse(paging.as_bytes()) {
            let value = value.parse::<u64>().map_or(json!(value), |n| json!(n));
            body.insert(key.into_owned(), value);
        }
        // No `filter`, a null one, or an empty list (PHP's encoding of "no filters").
        for filter in [None, Some(Value::Null), Some(json!([]))] {
            let mut body = body.clone();
            if let Some(filter) = filter.clone() {
                body.insert("filter".into(), filter);
            }
            let search = api.search(Value::Object(body)).await;
            assert_eq!(search.status, 200, "{paging} {filter:?}");
            assert_eq!(search.json(), list.json(), "{paging} {filter:?}");
        }
    }
    let bad = api
        .search(json!({"filter": {"field": "customers.id"}}))
        .await;
    assert_eq!(
        bad.json(),
        error_body("filter", "This value should be of type array.")
    );
}

/// The docs' table, written out on its own.
fn takes(field: &str) -> &'static [&'static str] {
    match field {
        "customers.tagsData" => &["="],
        "customers.id" | "customers.lastSeen" => &["=", "!=", ">", ">=", "<", "<="],
        _ => &["=", "!=", "~", "!~"],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_a_fields_type_does_not_take_is_a_400_naming_filter_i_operator() {
    let api = Api::demo();
    let choice = "The value you selected is not a valid choice.";
    let mut fields: Vec<String> = TEXT_FIELDS
        .iter()
        .map(|k| format!("customers.{k}"))
        .collect();
    fields.extend(["customers.id", "customers.lastSeen", "customers.tagsData"].map(String::from));
    for field in &fields {
        let value = match takes(field).len() {
            1 => json!([{"name": "vip"}]),
            6 => json!(1603885746),
            _ => json!("x"),
        };
        for op in ["=", "!=", "~", "!~", ">", ">=", "<", "<="] {
            let body = json!({"filter": [
                filter("customers.name", "=", json!("John Doe")),
                filter(field, op, value.clone()),
            ]});
            let a = api.search(body).await;
            if takes(field).contains(&op) {
                assert_eq!(a.status, 200, "{field} {op}");
            } else {
                assert_eq!(a.status, 400, "{field} {op}");
                assert_eq!(
                    a.json(),
                    error_body("filter[1].operator", choice),
                    "{field} {op}"
                );
            }
        }
    }
}

/// The text fields, each at its place in a customer (`location` holds three of them).
const TEXT_FIELDS: [&str; 13] = [
    "name",
    "email",
    "userId",
    "company",
    "phone",
    "countryCode",
    "city",
    "regionCode",
    "telegramId",
    "facebookId",
    "instagramId",
    "viberId",
    "whatsappId",
];

/// Customers 1..=5 whose `field` is "alpha", "Beta", "gamma", null and missing.
fn five_with(field: &str) -> Value {
    let values = [json!("alpha"), json!("Beta"), json!("gamma"), Value::Null];
    let mut customers = Vec::new();
    for id in 1..=5u64 {
        let mut c = json!({"id": id, "location": {}});
        if let Some(v) = values.get(id as usize - 1) {
            if ["countryCode", "city", "regionCode"].contains(&field) {
                c["location"][field] = v.clone();
            } else {
                c[field] = v.clone();
            }
        }
        customers.push(c);
    }
    Value::Array(customers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_text_field_takes_the_text_operators() {
    for key in TEXT_FIELDS {
        let api = Api::with(five_with(key));
        let field = format!("customers.{key}");
        for (op, value, expected) in [
            ("=", "Beta", vec![2]),
            ("=", "beta", vec![]),
            ("!=", "Beta", vec![1, 3, 4, 5]),
            ("~", "ET", vec![2]),
            ("~", "a", vec![1, 2, 3]),
            ("!~", "ET", vec![1, 3, 4, 5]),
        ] {
            let a = api
                .search(json!({"filter": [filter(&field, op, json!(value))]}))
                .await;
            assert_eq!(a.status, 200, "{field} {op} {value}");
            assert_eq!(a.ids(), expected, "{field} {op} {value}");
            assert_eq!(a.json()["total"], expected.len(), "{field} {op} {value}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numeric_fields_compare_as_numbers_whether_sent_as_numbers_or_strings() {
    let api = Api::with(json!([
        {"id": 1, "lastSeen": "100"},
        {"id": 2, "lastSeen": 200},
        {"id": 3, "lastSeen": " 300"},
        {"id": 4, "lastSeen": null},
        {"id": 5},
        {"id": 10, "lastSeen": "not a time"},
    ]));
    for (field, op, value, expected) in [
        ("lastSeen", "=", json!(200), vec![2]),
        ("lastSeen", "=", json!("200"), vec![2]),
        ("lastSeen", "=", json!(2e2), vec![2]),
        ("lastSeen", "!=", json!(200), vec![1, 3, 4, 5, 10]),
        ("lastSeen", ">", json!(150), vec![2, 3]),
        ("lastSeen", ">=", json!("200"), vec![2, 3]),
        ("lastSeen", "<", json!(200), vec![1]),
        ("lastSeen", "<=", json!(200), vec![1, 2]),
        ("id", "=", json!(3), vec![3]),
        ("id", "=", json!("3"), vec![3]),
        ("id", "!=", json!(3), vec![1, 2, 4, 5, 10]),
        ("id", ">", json!(4), vec![5, 10]),
        ("id", ">=", json!(4), vec![4, 5, 10]),
        ("id", "<", json!(2), vec![1]),
        ("id", "<=", json!(2), vec![1, 2]),
    ] {
        let body = json!({"filter": [filter(&format!("customers.{field}"), op, value.clone())]});
        let a = api.search(body).await;
        assert_eq!(a.status, 200, "{field} {op} {value}");
        assert_eq!(a.ids(), expected, "{field} {op} {value}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_filters_need_every_named_tag() {
    let api = Api::demo();
    let tags = |op: &str, value: Value| {
        api.search(json!({"filter": [filter("customers.tagsData", op, value)]}))
    };
    assert_eq!(
        tags("=", json!([{"name": "vip"}, {"name": "Lead"}]))
            .await
            .ids(),
        [542335, 542340]
    );
    // "lead" and "Lead" are two tags.
    assert_eq!(tags("=", json!("lead")).await.ids(), [542340, 542342]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comparison_joins_every_filter_with_and_or_or() {
    let api = Api::demo();
    let filters = json!([
        filter("customers.countryCode", "=", json!("US")),
        filter("customers.tagsData", "=", json!([{"name": "vip"}])),
    ]);
    let and = api
        .search(json!({"filter": filters, "comparison": "AND"}))
        .await;
    assert_eq!(and.ids(), [542344]);
    let default = api.search(json!({"filter": filters})).await;
    assert_eq!(default.ids(), [542344]);
    let or = api
        .search(json!({"filter": filters, "comparison": "or"}))
        .await;
    assert_eq!(or.ids(), [542335, 542336, 542337, 542340, 542344]);
    assert_eq!(or.json()["total"], 5);
    // Many emails at once: several `=` filters joined by OR, as the docs advise.
    let emails = [
        "li.lei@example.cn",
        "grace@example.org",
        "nobody@example.com",
    ];
    let lookup: Vec<Value> = emails
        .iter()
        .map(|e| filter("customers.email", "=", json!(e)))
        .collect();
    let found = api
        .search(json!({"filter": lookup, "comparison": "OR"}))
        .await;
    assert_eq!(found.ids(), [542339, 542344]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_of_the_wrong_type_is_a_400_naming_its_path() {
    let api = Api::demo();
    let numeric = "This value should be of type numeric.";
    let string = "This value should be of type string.";
    let array = "This value should be of type array.";
    for (field, value, message) in [
        ("customers.email", json!(42), string),
        ("customers.userId", json!(123), string),
        ("customers.telegramId", json!(123456789), string),
        ("customers.city", json!(["Kyiv"]), string),
        ("customers.phone", json!(false), string),
        ("customers.id", json!("542335x"), numeric),
        ("customers.lastSeen", json!({"after": 1}), numeric),
        ("customers.tagsData", json!(1), array),
    ] {
        let body = json!({"filter": [
            filter("customers.name", "=", json!("John Doe")),
            filter(field, "=", value.clone()),
        ]});
        let a = api.search(body).await;
        assert_eq!(a.status, 400, "{field} {value}");
        assert_eq!(
            a.json(),
            error_body("filter[1].value", message),
            "{field} {value}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undocumented_fields_and_sorts_are_refused() {
    let api = Api::demo();
    let choice = "The value you selected is not a valid choice.";
    for field in [
        "customers.customData",
        "customers.firstSeen",
        "customers.notes",
        "email",
    ] {
        let a = api
            .search(json!({"filter": [filter(field, "=", json!("x"))]}))
            .await;
        assert_eq!(a.json(), error_body("filter[0].field", choice), "{field}");
    }
    for sort in ["customers.id", "customers.name", "firstSeen"] {
        let a = api
            .search(json!({"filter": [filter("customers.id", ">", json!(0))], "sort": sort}))
            .await;
        assert_eq!(a.json(), error_body("sort", choice), "{sort}");
        let list = api.get(&format!("/customers?sort={sort}")).await;
        assert_eq!(list.json(), error_body("sort", choice), "{sort}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_number_of_tags_and_long_or_lists_answer_exactly() {
    // Customer 1 carries t0..t69 (more tags than the account has bits for), 2 every third,
    // 3 only t65, 4 none; emails e1..e4@example.com.
    let tags = |keep: &dyn Fn(usize) -> bool| -> Value {
        (0..70)
            .filter(|&i| keep(i))
            .map(|i| json!({"name": format!("t{i}"), "color": "#123456"}))
            .collect()
    };
    let api = Api::with(json!([
        {"id": 1, "email": "e1@example.com", "tags": tags(&|_| true)},
        {"id": 2, "email": "e2@example.com", "tags": tags(&|i| i % 3 == 0)},
        {"id": 3, "email": "e3@example.com", "tags": tags(&|i| i == 65)},
        {"id": 4, "email": "e4@example.com", "tags": []},
    ]));
    let tag_search = |op: &str, names: &[&str]| {
        let value: Vec<Value> = names.iter().map(|n| json!({"name": n})).collect();
        api.search(json!({"filter": [filter("customers.tagsData", op, json!(value))]}))
    };
    for (op, names, expected) in [
        ("=", &["t65"][..], vec![1, 3]),
        ("=", &["t66"], vec![1, 2]),
        ("=", &["t64"], vec![1]),
        ("=", &["t1", "t65"], vec![1]),
        ("=", &["t0", "t63"], vec![1, 2]),
        ("=", &["t70"], vec![]),
    ] {
        assert_eq!(
            tag_search(op, names).await.ids(),
            expected,
            "{op} {names:?}"
        );
    }
    // A lookup of many emails at once, with other filters joined by the same OR.
    let mut lookup: Vec<Value> = (0..300)
        .map(|i| filter("customers.email", "=", json!(format!("x{i}@example.com"))))
        .collect();
    lookup.push(filter("customers.email", "=", json!("e2@example.com")));
    lookup.push(filter("customers.email", "=", json!("e4@example.com")));
    lookup.push(filter("customers.userId", "=", json!("nobody")));
    lookup.push(filter("customers.tagsData", "=", json!([{"name": "t65"}])));
    let found = api
        .search(json!({"filter": lookup, "comparison": "OR"}))
        .await;
    assert_eq!(found.ids(), [1, 2, 3, 4]);
    let only_emails = api
        .search(json!({"filter": &lookup[..302], "comparison": "OR"}))
        .await;
    assert_eq!(only_emails.ids(), [2, 4]);
    let and = api.search(json!({"filter": &lookup[300..302]})).await;
    assert_eq!(
        and.ids(),
        Vec::<u64>::new(),
        "AND of two emails finds nobody"
    );
}
