//! What the client sends, and that a customer comes back exactly as the server sent it.

use reqwest::Url;
use serde_json::Value;

use super::server::{Action, TestServer};
use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_tags_sends_delete_with_the_documented_body_and_headers() {
    let server = TestServer::start().await;
    client(&server)
        .remove_tags(customer_id(), lead())
        .await
        .unwrap();

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "DELETE");
    assert_eq!(request.path, "/v1/customers/1568834/tags");
    assert_eq!(request.body, br#"{"tags":[{"name":"Lead"}]}"#);
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("accept"), Some("application/json"));
    assert_eq!(
        request.header("content-length"),
        Some(request.body.len().to_string().as_str())
    );
    assert!(request
        .header("user-agent")
        .is_some_and(|ua| ua.starts_with("helpcrunch-python/")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_tags_sends_put_with_the_colors() {
    let server = TestServer::start().await;
    let tags = vec![
        Tag {
            name: "Lead".into(),
            color: Some("#c57de0".into()),
        },
        tag("vip"),
    ];
    client(&server).add_tags(customer_id(), tags).await.unwrap();

    let request = &server.requests()[0];
    assert_eq!(request.method, "PUT");
    assert_eq!(request.path, "/v1/customers/1568834/tags");
    assert_eq!(
        request.body,
        br##"{"tags":[{"name":"Lead","color":"#c57de0"},{"name":"vip"}]}"##
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_customer_sends_get_without_a_body() {
    let server = TestServer::start().await;
    client(&server).get_customer(customer_id()).await.unwrap();

    let request = &server.requests()[0];
    assert_eq!(request.method, "GET");
    assert_eq!(request.path, "/v1/customers/1568834");
    assert!(request.body.is_empty());
    assert_eq!(request.header("content-type"), None);
    assert!(matches!(request.header("content-length"), None | Some("0")));
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(request.header("accept"), Some("application/json"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unicode_tag_names_are_sent_as_utf8_json() {
    let server = TestServer::start().await;
    client(&server)
        .remove_tags(customer_id(), vec![tag("Кліент \"VIP\" 🎉")])
        .await
        .unwrap();

    let body: Value = serde_json::from_slice(&server.requests()[0].body).unwrap();
    assert_eq!(body["tags"][0]["name"], "Кліент \"VIP\" 🎉");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trailing_slash_on_the_base_url_does_not_double_the_slash() {
    let server = TestServer::start().await;
    let client = client_with(&server, |c| c.base_url = format!("{}/", server.base_url()));
    client.get_customer(customer_id()).await.unwrap();

    assert_eq!(server.requests()[0].path, "/v1/customers/1568834");
}

/// The request URL is built from the parsed base, not by parsing base + path: it must come out
/// the same for any base the client takes.
#[test]
fn a_request_url_is_the_base_url_and_the_path_parsed_together() {
    let bases = [
        "https://api.helpcrunch.com/v1",
        "https://api.helpcrunch.com/v1/",
        "https://api.helpcrunch.com/v1//",
        "https://api.helpcrunch.com",
        "https://api.helpcrunch.com/",
        "https://API.HelpCrunch.com:443/V1",
        "http://127.0.0.1:8080/api/v1",
        "http://[::1]:9/v1",
        "http://localhost/a b/%7Ev1/ä",
        "https://bücher.example/v1",
        "https://example.com/a/./b/../v1",
        "https://example.com/a/%2e%2e/v1",
        "https://example.com\\v1\\x",
    ];
    for raw in bases {
        let base = Url::parse(raw).unwrap();
        let base_url = base.as_str().trim_end_matches('/');
        let client = Client::new(ClientConfig {
            base_url: raw.to_string(),
            ..ClientConfig::new(KEY)
        })
        .unwrap();
        for path in ["/customers/1568834", "/customers/1568834/tags"] {
            let expected = Url::parse(&format!("{base_url}{path}")).unwrap();
            assert_eq!(client.url(path), expected, "{raw} + {path}");
        }
    }
}

/// Nested objects, nulls, a number beyond u64, floats written in odd ways, unicode, fields the
/// client has never heard of, and an unusual key order. (An upper-case exponent, `2.5E+300`,
/// would come back as `2.5e+300`: serde_json's arbitrary_precision keeps the digits but writes
/// the exponent marker in lower case.)
const RICH_CUSTOMER: &str = concat!(
    r#"{"zeta":"last letter first","id":1568834,"name":null,"email":"ada@example.com","#,
    r#""big":123456789012345678901234567890,"negative":-9223372036854775809,"#,
    r#""ratio":1.10,"tiny":1e-7,"exp":2.5e+300,"unicode":"Zoë 日本 🎉 \\ \" /","#,
    r#""location":{"regionCode":null,"countryCode":"UA","city":"Kyiv"},"#,
    r##""device":null,"tags":[{"name":"Lead","color":"#c57de0"}],"##,
    r#""customData":[{"property":"plan","value":"pro"}],"firstSeen":"1568834000","#,
    r#""lastSeen":1568834001,"unsubscribed":false,"#,
    r#""brandNewField":{"nested":{"deeper":[1,[2,[3,{}]],null,true]}},"alpha":"a"}"#
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_fields_are_kept_exactly_as_sent() {
    let server = TestServer::start().await;
    server.push(Action::json(200, RICH_CUSTOMER));
    let customer = client(&server).get_customer(customer_id()).await.unwrap();

    assert_eq!(customer.attempts, 1);
    assert_eq!(customer.status, 200);
    assert_eq!(customer.body, RICH_CUSTOMER.as_bytes());
    // Re-serialised, the map is the same text: same keys, same order, same number spellings.
    let fields = customer.fields().unwrap();
    let again = serde_json::to_string(&Value::Object(fields.clone())).unwrap();
    assert_eq!(again, RICH_CUSTOMER);
    let keys: Vec<&str> = fields.keys().map(String::as_str).collect();
    assert_eq!(keys.first(), Some(&"zeta"));
    assert_eq!(keys.last(), Some(&"alpha"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_beyond_u64_and_odd_floats_keep_their_exact_digits() {
    let server = TestServer::start().await;
    server.push(Action::json(200, RICH_CUSTOMER));
    let fields = client(&server)
        .get_customer(customer_id())
        .await
        .unwrap()
        .fields()
        .unwrap();

    let digits = |key: &str| fields[key].as_number().unwrap().as_str().to_string();
    assert_eq!(digits("big"), "123456789012345678901234567890");
    assert_eq!(digits("negative"), "-9223372036854775809");
    assert_eq!(digits("ratio"), "1.10");
    assert_eq!(digits("tiny"), "1e-7");
    assert_eq!(digits("exp"), "2.5e+300");
    assert_eq!(fields["id"].as_u64(), Some(ID));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nulls_nested_objects_unicode_and_unknown_fields_pass_through() {
    let server = TestServer::start().await;
    server.push(Action::json(200, RICH_CUSTOMER));
    let fields = client(&server)
        .remove_tags(customer_id(), lead())
        .await
        .unwrap()
        .fields()
        .unwrap();

    assert_eq!(fields["name"], Value::Null);
    assert_eq!(fields["device"], Value::Null);
    assert_eq!(fields["location"]["regionCode"], Value::Null);
    assert_eq!(fields["location"]["city"], "Kyiv");
    assert_eq!(fields["unicode"], "Zoë 日本 🎉 \\ \" /");
    assert_eq!(fields["customData"][0]["property"], "plan");
    assert_eq!(
        fields["brandNewField"]["nested"]["deeper"][1][1][1],
        serde_json::json!({})
    );
    assert_eq!(fields["firstSeen"], "1568834000");
    assert_eq!(fields["lastSeen"].as_u64(), Some(1568834001));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_2xx_status_with_a_customer_is_a_success() {
    let server = TestServer::start().await;
    server.push(Action::json(201, r#"{"id":1}"#));
    server.push(Action::json(203, r#"{"id":2}"#));
    let client = client(&server);

    let first = client.add_tags(customer_id(), lead()).await.unwrap();
    let second = client.add_tags(customer_id(), lead()).await.unwrap();
    assert_eq!(first.fields().unwrap()["id"].as_u64(), Some(1));
    assert_eq!(second.fields().unwrap()["id"].as_u64(), Some(2));
    assert_eq!(server.request_count(), 2);
}
