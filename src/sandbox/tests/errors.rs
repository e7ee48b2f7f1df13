//! Auth, and HelpCrunch's error shape for every kind of bad request.

use super::*;

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
