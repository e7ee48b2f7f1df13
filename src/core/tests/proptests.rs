//! Property tests (proptest) on the parsers that read what a server or a user hands over: error
//! bodies, 2xx bodies, rate-limit headers, customer ids and tag lists. None may panic, whatever
//! the input; each accepts exactly its documented set. Case counts are bounded so `cargo test`
//! stays fast; raise `PROPTEST_CASES` to run longer.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use proptest::prelude::*;
use serde_json::{json, Map, Value};

use crate::core::body::{check_customer, parse_customer, parse_page};
use crate::core::failure::parse_error_details;
use crate::core::retry::{decide, server_wait, Decision, MAX_BACKOFF, MAX_SERVER_WAIT};
use crate::core::validate::{normalize_tags, tags_body, CustomerId, TagInput, TagUse};
use crate::core::ErrorDetail;

fn cases(n: u32) -> ProptestConfig {
    ProptestConfig {
        cases: n,
        // No regression files written into the source tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// --- strategies ------------------------------------------------------------------------------

/// Keys that mean something to the error parser, and any others.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec!["errors", "code", "message", "error", "detail"])
            .prop_map(str::to_string),
        any::<String>(),
    ]
}

/// Any JSON value (finite numbers; integers of any size), nested a few levels.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn detail() -> impl Strategy<Value = ErrorDetail> {
    (any::<String>(), any::<String>()).prop_map(|(code, message)| ErrorDetail { code, message })
}

/// Header values a server might send: numbers of every form, dates, and anything at all.
fn header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<f64>().prop_map(|f| f.to_string()),
        any::<f64>().prop_map(|f| format!("{f:e}")),
        any::<i64>().prop_map(|i| i.to_string()),
        any::<u64>().prop_map(|u| u.to_string()),
        (0u64..1 << 36)
            .prop_map(|secs| httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs))),
        prop::sample::select(vec![
            "-1", "abc", "1e9", "1e308", "1e309", "-0", "NaN", "inf", "-inf", "", " ", "0x10",
            "1,5", "1_000", "+5", ".5", "5.", "٣",
        ])
        .prop_map(str::to_string),
        any::<String>(),
    ]
}

fn header_name() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "Retry-After",
        "retry-after",
        "RETRY-AFTER",
        "retry-after-ms",
        "Retry-After-Ms",
        "X-RateLimit-Reset",
        "x-ratelimit-reset",
        "Content-Type",
        "",
    ])
    .prop_map(str::to_string)
}

fn headers() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec((header_name(), header_value()), 0..5)
}

/// Any moment from well before 1970 to the year 4000.
fn now() -> impl Strategy<Value = SystemTime> {
    prop_oneof![
        (0u64..64_000_000_000).prop_map(|s| UNIX_EPOCH + Duration::from_secs(s)),
        (0u64..64_000_000_000).prop_map(|s| UNIX_EPOCH - Duration::from_secs(s)),
    ]
}

/// Strings that look like ids, nearly or not at all.
fn id_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{0,25}",
        "0{0,30}[0-9]{0,21}",
        "[ +\\-]?[0-9]{1,5}[ ./?#%]?[0-9]{0,3}",
        "\\p{Nd}{1,5}",
        any::<String>(),
    ]
}

/// Tag names: ordinary, blank, with control characters, anything.
fn tag_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9 _-]{0,12}",
        "\\PC{0,12}",
        "[\\s]{0,4}",
        "[\\s\u{a0}\u{3000}]{0,2}[a-z]{1,4}[\\s\u{a0}\u{2028}]{0,2}",
        "[a-z]{0,3}[\\x00-\\x1f\\x7f-\\x9f][a-z]{0,3}",
        any::<String>(),
    ]
}

fn color() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        "#[0-9a-fA-F]{6}",
        "#[0-9a-fA-F]{3}",
        "#[0-9a-fA-F]{4}|#[0-9a-fA-F]{8}",
        "(?i)red|tan|transparent|currentcolor|reed",
        "#?[0-9a-zA-Z]{0,8}",
        any::<String>(),
    ])
}

fn tag_inputs() -> impl Strategy<Value = Vec<TagInput>> {
    prop::collection::vec((tag_name(), color()), 0..6).prop_map(|tags| {
        tags.into_iter()
            .enumerate()
            .map(|(i, (name, color))| TagInput {
                name,
                color,
                position: Some(i),
            })
            .collect()
    })
}

// --- oracles: the documented rules, written out on their own ---------------------------------

/// A string id is valid when it is non-empty ASCII digits naming 1..=u64::MAX.
fn id_oracle(text: &str) -> Option<u64> {
    if text.is_empty() || !text.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let significant = text.trim_start_matches('0');
    if significant.is_empty() || significant.len() > 20 {
        return None;
    }
    let value: u128 = significant.parse().ok()?;
    u64::try_from(value).ok()
}

/// A name is valid when it neither starts nor ends with white space (so is not blank) and has no
/// control character (C0, DEL, C1).
fn name_oracle(name: &str) -> bool {
    let control = |c: char| matches!(c as u32, 0x00..=0x1f | 0x7f..=0x9f);
    let (Some(first), Some(last)) = (name.chars().next(), name.chars().last()) else {
        return false;
    };
    !first.is_whitespace() && !last.is_whitespace() && !name.chars().any(control)
}

/// '#' and 3, 4, 6 or 8 hex digits, or a CSS colour name (the functional forms, which
/// random text never spells, are tested by table in `color.rs`).
fn color_oracle(color: &str) -> bool {
    if let Some(hex) = color.strip_prefix('#') {
        return matches!(hex.len(), 3 | 4 | 6 | 8) && hex.chars().all(|c| c.is_ascii_hexdigit());
    }
    let lower = color.to_ascii_lowercase();
    lower == "transparent" || crate::core::color::NAMED.contains(&lower.as_str())
}

/// What `normalize_tags` should make of the input: the names in first-seen order with their
/// colours, or None where the input must be refused.
fn tags_oracle(tags: &[TagInput], tag_use: TagUse) -> Option<Vec<(String, Option<String>)>> {
    if tags.is_empty() {
        return None;
    }
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    for tag in tags {
        if !name_oracle(&tag.name) {
            return None;
        }
        let color = match tag_use {
            TagUse::Remove => None,
            TagUse::Add => match &tag.color {
                None => None,
                Some(c) if color_oracle(c) => Some(c.clone()),
                Some(_) => return None,
            },
        };
        match out.iter().find(|(name, _)| *name == tag.name) {
            None => out.push((tag.name.clone(), color)),
            // Repeating a name is fine with the same colour, or with none after a colour.
            Some((_, seen)) if *seen == color || color.is_none() => {}
            Some(_) => return None,
        }
    }
    Some(out)
}

// --- 2xx bodies ------------------------------------------------------------------------------

/// Bodies where skipping over JSON and parsing it differ, and the edges of what serde_json takes:
/// the check must agree with the full parse on each, message included.
#[test]
fn checking_a_2xx_body_agrees_with_parsing_it_at_the_edges() {
    let nested = |depth: usize| format!("{{\"a\":{}1{}}}", "[".repeat(depth), "]".repeat(depth));
    let bodies: Vec<Vec<u8>> = vec![
        br#"{"name":"\ud800"}"#.to_vec(),
        br#"{"name":"\udc00x"}"#.to_vec(),
        br#"{"\ud800":1}"#.to_vec(),
        br#"{"name":"\ud83d\ude00"}"#.to_vec(),
        br#"{"name":"\u00e9\n\/"}"#.to_vec(),
        br#"{"name":"\x"}"#.to_vec(),
        b"{\"name\":\"\xff\xfe\xc3\"}".to_vec(),
        b"{\"\xed\xa0\x80\":1}".to_vec(),
        b"{\"name\":\"a\x01b\"}".to_vec(),
        b"\xef\xbb\xbf{}".to_vec(),
        nested(126).into_bytes(),
        nested(127).into_bytes(),
        nested(128).into_bytes(),
        br#"{"up":1e999,"down":-1e999,"big":123456789012345678901234567890}"#.to_vec(),
        br#"{"a":NaN}"#.to_vec(),
        br#"{"a":Infinity}"#.to_vec(),
        br#"{"a":01}"#.to_vec(),
        br#"{"a":1.}"#.to_vec(),
        br#"{"a":-}"#.to_vec(),
        br#"{"dup":1,"dup":2}"#.to_vec(),
        br#"{"a":1,}"#.to_vec(),
        br#"{"a":1} x"#.to_vec(),
        b" \r\n\t{}\n".to_vec(),
        b"\x0c{}".to_vec(),
        b"\x0c".to_vec(),
        b"[]".to_vec(),
        b"true".to_vec(),
        b"-5".to_vec(),
    ];
    for body in bodies {
        let text = String::from_utf8_lossy(&body);
        assert_eq!(
            check_customer(&body),
            parse_customer(&body).map(|_| ()),
            "{text}"
        );
    }
    // The one difference: serde_json reads an object whose only key is its private marker as a
    // number. It is an object, and the check (which builds no `Value`) says so.
    let marker = br#"{"$serde_json::private::Number":"1"}"#;
    assert_eq!(check_customer(marker), Ok(()));
    assert!(parse_customer(marker).is_err());
}

// --- error bodies ----------------------------------------------------------------------------

proptest! {
    #![proptest_config(cases(2000))]

    #[test]
    fn error_details_of_any_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_error_details(&body);
    }

    #[test]
    fn checking_a_2xx_body_of_any_bytes_agrees_with_parsing_it(
        body in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        prop_assert_eq!(check_customer(&body), parse_customer(&body).map(|_| ()));
    }

    #[test]
    fn a_2xx_body_of_any_bytes_is_a_customer_only_when_it_is_a_json_object(
        body in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        let is_object = matches!(serde_json::from_slice::<Value>(&body), Ok(Value::Object(_)));
        prop_assert_eq!(parse_customer(&body).is_ok(), is_object);
    }
}

proptest! {
    #![proptest_config(cases(1000))]

    #[test]
    fn error_details_of_any_json_never_panic(value in json_value()) {
        let text = serde_json::to_vec(&value).unwrap();
        let details = parse_error_details(&text);
        // Only an object can carry details.
        if !value.is_object() {
            prop_assert!(details.is_empty());
        }
    }

    /// The client only checks a body and hands it on unparsed: the check must pass exactly the
    /// bodies the full parse takes, and refuse the others with the same message. Near-JSON
    /// (valid JSON with one byte changed) reaches the corners random bytes never do.
    #[test]
    fn checking_a_2xx_body_of_near_json_agrees_with_parsing_it(
        value in json_value(),
        at in any::<prop::sample::Index>(),
        byte in prop::sample::select(b"{}[]\",:\\/u0123456789abcdefABDE.+-ntrl \t\n\x00\x7f\xc3\xed\xff".to_vec()),
        edit in 0..4u8,
    ) {
        let mut body = serde_json::to_vec(&value).unwrap();
        let i = at.index(body.len() + 1);
        match edit {
            0 => {}
            1 if i < body.len() => body[i] = byte,
            2 if i < body.len() => { body.remove(i); }
            _ => body.insert(i, byte),
        }
        prop_assert_eq!(check_customer(&body), parse_customer(&body).map(|_| ()));
    }

    #[test]
    fn a_2xx_body_of_any_json_is_a_customer_exactly_when_it_is_an_object(value in json_value()) {
        let text = serde_json::to_vec(&value).unwrap();
        match parse_customer(&text) {
            Ok(map) => prop_assert_eq!(Value::Object(map), value),
            Err(message) => {
                prop_assert!(!value.is_object());
                prop_assert!(!message.is_empty());
            }
        }
    }

    #[test]
    fn every_code_and_message_of_an_errors_list_is_kept_in_order(
        details in prop::collection::vec(detail(), 0..8),
        extra in prop::collection::vec((key(), json_value()), 0..3),
    ) {
        let list: Vec<Value> = details
            .iter()
            .map(|d| json!({"code": d.code, "message": d.message}))
            .collect();
        let mut body = Map::new();
        for (k, v) in extra {
            body.insert(k, v);
        }
        body.insert("errors".into(), Value::Array(list));
        let parsed = parse_error_details(&serde_json::to_vec(&body).unwrap());
        prop_assert_eq!(parsed, details);
    }

    #[test]
    fn a_single_errors_object_is_kept(d in detail()) {
        let body = json!({"errors": {"code": d.code, "message": d.message}});
        prop_assert_eq!(parse_error_details(&serde_json::to_vec(&body).unwrap()), vec![d]);
    }

    #[test]
    fn a_top_level_code_and_message_are_kept(d in detail()) {
        let body = json!({"code": d.code, "message": d.message});
        prop_assert_eq!(parse_error_details(&serde_json::to_vec(&body).unwrap()), vec![d]);
    }

    #[test]
    fn an_errors_list_with_other_entries_keeps_every_well_formed_pair(
        entries in prop::collection::vec(prop_oneof![
            detail().prop_map(Some),
            json_value().prop_filter("not an object or string", |v| !v.is_object() && !v.is_string()).prop_map(|_| None),
        ], 0..8),
    ) {
        let list: Vec<Value> = entries
            .iter()
            .map(|e| match e {
                Some(d) => json!({"code": d.code, "message": d.message}),
                None => json!([1, null]),
            })
            .collect();
        let expected: Vec<ErrorDetail> = entries.into_iter().flatten().collect();
        let body = json!({"errors": list});
        prop_assert_eq!(parse_error_details(&serde_json::to_vec(&body).unwrap()), expected);
    }
}

// --- rate-limit headers ----------------------------------------------------------------------

fn wait_for(headers: &[(String, String)], now: SystemTime) -> Option<Duration> {
    server_wait(headers.iter().map(|(k, v)| (k.as_str(), v.as_str())), now)
}

proptest! {
    #![proptest_config(cases(2000))]

    #[test]
    fn server_wait_of_any_headers_never_panics_and_stays_finite(
        headers in headers(),
        now in now(),
    ) {
        if let Some(wait) = wait_for(&headers, now) {
            // Anything larger would be a parsing accident: the parser caps values at 1e12 s.
            prop_assert!(wait <= Duration::from_secs(1_000_000_000_000), "{wait:?}");
        }
    }

    #[test]
    fn whatever_the_headers_say_no_retry_waits_longer_than_the_cap(
        headers in headers(),
        now in now(),
        attempt in 1u32..10,
        max_retries in 0u32..10,
    ) {
        match decide(attempt, max_retries, wait_for(&headers, now)) {
            Decision::Stop => {}
            Decision::RetryAfter(wait) => {
                prop_assert!(attempt <= max_retries);
                prop_assert!(wait > Duration::ZERO, "a zero wait would hammer the server");
                prop_assert!(wait <= MAX_SERVER_WAIT.max(MAX_BACKOFF), "{wait:?}");
            }
        }
    }

    #[test]
    fn retry_after_in_non_negative_seconds_is_that_many_seconds(
        secs in prop_oneof![0.0f64..1e6, 0.0f64..1e15, Just(0.0)],
        now in now(),
    ) {
        let headers = vec![("Retry-After".to_string(), secs.to_string())];
        let expected = Duration::from_secs_f64(secs.min(1e12));
        prop_assert_eq!(wait_for(&headers, now), Some(expected));
    }

    #[test]
    fn a_negative_or_non_numeric_retry_after_is_ignored(
        value in prop_oneof![
            (-1e15f64..-1e-9).prop_map(|f| f.to_string()),
            "[a-zA-Z ,;]{0,12}",
        ],
        now in now(),
    ) {
        // (An HTTP date has digits; none of these parse as one.)
        let headers = vec![("Retry-After".to_string(), value)];
        prop_assert_eq!(wait_for(&headers, now), None);
    }

    #[test]
    fn retry_after_as_a_date_is_the_time_until_it_or_zero(
        when in 0u64..1 << 36,
        now_secs in 0u64..1 << 36,
    ) {
        let date = UNIX_EPOCH + Duration::from_secs(when);
        let now = UNIX_EPOCH + Duration::from_secs(now_secs);
        let headers = vec![("retry-after".to_string(), httpdate::fmt_http_date(date))];
        let expected = Duration::from_secs(when.saturating_sub(now_secs));
        prop_assert_eq!(wait_for(&headers, now), Some(expected));
    }
}

// --- customer ids ----------------------------------------------------------------------------

proptest! {
    #![proptest_config(cases(2000))]

    #[test]
    fn customer_id_parse_accepts_exactly_ascii_digits_naming_a_positive_u64(text in id_text()) {
        match (CustomerId::parse(&text), id_oracle(&text)) {
            (Ok(id), Some(expected)) => {
                prop_assert_eq!(id.get(), expected);
                prop_assert!(expected > 0);
                // What goes into the path is the number's digits, nothing else.
                let shown = id.to_string();
                prop_assert!(shown.bytes().all(|b| b.is_ascii_digit()));
                prop_assert_eq!(shown, expected.to_string());
            }
            (Err(e), None) => {
                prop_assert!(e.to_string().contains("customer_id"), "{}", e);
            }
            (Ok(id), None) => prop_assert!(false, "{:?} accepted as {}", text, id.get()),
            (Err(e), Some(_)) => prop_assert!(false, "{:?} refused: {}", text, e),
        }
    }

    #[test]
    fn customer_id_new_accepts_every_positive_u64(id in any::<u64>()) {
        prop_assert_eq!(CustomerId::new(id).is_ok(), id > 0);
    }
}

// --- tags ------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(cases(2000))]

    #[test]
    fn normalize_tags_accepts_exactly_the_documented_set(
        tags in tag_inputs(),
        adding in any::<bool>(),
    ) {
        let tag_use = if adding { TagUse::Add } else { TagUse::Remove };
        let expected = tags_oracle(&tags, tag_use);
        match normalize_tags(tags.clone(), tag_use) {
            Ok(out) => {
                let got: Vec<(String, Option<String>)> =
                    out.iter().map(|t| (t.name.clone(), t.color.clone())).collect();
                prop_assert_eq!(Some(got), expected, "input {:?}", tags);
                // The body sent is JSON holding exactly those tags.
                let body: Value = serde_json::from_slice(&tags_body(&out)).unwrap();
                let names: Vec<&str> = body["tags"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t["name"].as_str().unwrap())
                    .collect();
                let wanted: Vec<&str> = out.iter().map(|t| t.name.as_str()).collect();
                prop_assert_eq!(names, wanted);
            }
            Err(e) => {
                prop_assert!(expected.is_none(), "input {:?} refused: {}", tags, e);
                prop_assert!(!e.to_string().is_empty());
            }
        }
    }
}

// --- pages of a list or search -----------------------------------------------------------------

/// A customer as a page may hold it: an id, a `firstSeen` of any documented form, and any
/// other fields.
fn page_customer() -> impl Strategy<Value = Value> {
    let first_seen = prop_oneof![
        Just(Value::Null),
        (0u64..2_000_000_000).prop_map(|t| json!(t)),
        (0u64..2_000_000_000).prop_map(|t| json!(t.to_string())),
    ];
    (
        1u64..u64::MAX,
        first_seen,
        prop::collection::vec((key(), json_value()), 0..4),
    )
        .prop_map(|(id, first_seen, rest)| {
            let mut map = Map::new();
            for (k, v) in rest {
                map.insert(k, v);
            }
            map.insert("id".into(), json!(id));
            map.insert("firstSeen".into(), first_seen);
            Value::Object(map)
        })
}

proptest! {
    #![proptest_config(cases(1000))]

    #[test]
    fn a_page_body_of_any_bytes_never_panics(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_page(&body);
    }

    /// Each customer's place in the body holds exactly that customer, whatever else it
    /// carries; the ids and the total are read as sent.
    #[test]
    fn a_page_is_indexed_exactly(
        customers in prop::collection::vec(page_customer(), 0..8),
        total in any::<u64>(),
        extra in prop::collection::vec((key(), json_value()), 0..3),
    ) {
        let mut page = Map::new();
        for (k, v) in extra {
            page.insert(k, v);
        }
        page.insert("data".into(), Value::Array(customers.clone()));
        page.insert("total".into(), json!(total));
        let body = serde_json::to_vec(&Value::Object(page)).unwrap();
        let index = parse_page(&body).unwrap();
        prop_assert_eq!(index.total, total);
        prop_assert_eq!(index.items.len(), customers.len());
        for (item, customer) in index.items.iter().zip(&customers) {
            let held: Value = serde_json::from_slice(&body[item.span.clone()]).unwrap();
            prop_assert_eq!(&held, customer);
            prop_assert_eq!(Some(item.id), customer["id"].as_u64());
        }
    }

    /// A page with one byte changed is taken only if it is still valid JSON.
    #[test]
    fn a_page_is_never_taken_from_invalid_json(
        customers in prop::collection::vec(page_customer(), 0..4),
        at in any::<prop::sample::Index>(),
        byte in prop::sample::select(b"{}[]\",:\\/u0123456789abcdefABDE.+-ntrl \t\n\x00\x7f\xc3\xed\xff".to_vec()),
    ) {
        let mut body = serde_json::to_vec(&json!({"data": customers, "total": 3})).unwrap();
        let i = at.index(body.len());
        body[i] = byte;
        if parse_page(&body).is_ok() {
            prop_assert!(serde_json::from_slice::<Value>(&body).is_ok());
        }
    }
}
