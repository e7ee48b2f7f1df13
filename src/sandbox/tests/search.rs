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
    let missing = api
        .call(Method::POST, "/customers/search", Some(json!({"limit": 1})))
        .await;
    assert_eq!(
        missing.json(),
        error_body("filter", "This value should not be blank.")
    );
}
