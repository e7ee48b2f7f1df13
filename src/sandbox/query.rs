//! Reading a list request (query string) or a search request (JSON body) into a [`Query`],
//! with HelpCrunch's 400 for whatever is wrong: every problem, each named by its path
//! (`filter[0].value`).

use serde_json::{Map, Value};

use super::columns::text_hash;
use super::errors::{
    at_most, at_most_elements, Invalid, INVALID_CHOICE, NOT_BLANK, NOT_NEGATIVE, POSITIVE,
    TYPE_ARRAY, TYPE_INTEGER, TYPE_NUMERIC, TYPE_OBJECT, TYPE_STRING,
};
use super::fields::{Field, Kind, Slot, SortField};
// The operators and which types take which: the client's table (the docs'), so the two
// cannot disagree.
use crate::core::query::{Operand, Operator as Op};

/// Page size when a request names none (HelpCrunch documents none; its examples use 100),
/// or the largest page size if that is smaller.
pub(super) const DEFAULT_LIMIT: usize = 100;

/// Limits the real API may have and does not document; None: no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Caps {
    /// The largest `limit`; past it, a 400 naming `limit`.
    pub max_page_size: Option<usize>,
    /// The most filters in one search; past it, a 400 naming `filter`.
    pub max_filters: Option<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Filter {
    /// Carries every named tag (`=`, the one operator the docs' table gives arrays).
    Tags {
        names: Vec<String>,
    },
    /// `folded`: `value` in lower case, for `~` and `!~`; `hash`: its `text_hash`.
    Text {
        slot: Slot,
        op: Op,
        value: String,
        folded: String,
        hash: u32,
    },
    Number {
        slot: Slot,
        op: Op,
        value: f64,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Query {
    pub filters: Vec<Filter>,
    /// `comparison: OR`: any filter; else all of them.
    pub any: bool,
    /// None: by id.
    pub sort: Option<SortField>,
    pub descending: bool,
    pub offset: usize,
    pub limit: usize,
}

impl Query {
    fn new(caps: Caps) -> Query {
        Query {
            filters: Vec::new(),
            any: false,
            sort: None,
            descending: false,
            offset: 0,
            limit: caps
                .max_page_size
                .map_or(DEFAULT_LIMIT, |max| DEFAULT_LIMIT.min(max)),
        }
    }
}

/// `GET /customers?offset=&limit=&sort=&order=`.
pub(super) fn parse_list_query(query: Option<&str>, caps: Caps) -> Result<Query, Vec<Invalid>> {
    let mut q = Query::new(caps);
    let mut problems = Vec::new();
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if value.is_empty() {
            continue; // `limit=` is as good as no limit parameter
        }
        let value = Value::String(value.into_owned());
        apply_common(&mut q, &key, &value, caps, &mut problems);
    }
    if problems.is_empty() {
        Ok(q)
    } else {
        Err(problems)
    }
}

/// `POST /customers/search` body.
pub(super) fn parse_search(body: &Map<String, Value>, caps: Caps) -> Result<Query, Vec<Invalid>> {
    let mut q = Query::new(caps);
    let mut problems = Vec::new();
    for key in ["offset", "limit", "sort", "order"] {
        if let Some(value) = body.get(key).filter(|v| !v.is_null()) {
            apply_common(&mut q, key, value, caps, &mut problems);
        }
    }
    match body.get("comparison") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s.eq_ignore_ascii_case("and") => q.any = false,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("or") => q.any = true,
        Some(_) => problems.push(Invalid::new("comparison", INVALID_CHOICE)),
    }
    // No filter at all is answered like a list, as public integrations rely on (the docs are
    // silent). An empty list counts as none: it is how PHP, which many of them are written
    // in, encodes "no filters" (`json_encode([])`).
    match body.get("filter") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            if let Some(max) = caps.max_filters.filter(|&max| items.len() > max) {
                problems.push(Invalid::new("filter", at_most_elements(max)));
            }
            for (i, item) in items.iter().enumerate() {
                if let Some(f) = parse_filter(i, item, &mut problems) {
                    q.filters.push(f);
                }
            }
        }
        Some(_) => problems.push(Invalid::new("filter", TYPE_ARRAY)),
    }
    if problems.is_empty() {
        Ok(q)
    } else {
        Err(problems)
    }
}

fn parse_filter(i: usize, item: &Value, problems: &mut Vec<Invalid>) -> Option<Filter> {
    let at = |name: &str| format!("filter[{i}]{name}");
    let Some(item) = item.as_object() else {
        problems.push(Invalid::new(at(""), TYPE_OBJECT));
        return None;
    };
    let field = match item.get("field") {
        Some(Value::String(s)) if !is_blank(s) => match Field::parse(s) {
            Some(f) => Some(f),
            None => {
                problems.push(Invalid::new(at(".field"), INVALID_CHOICE));
                None
            }
        },
        None | Some(Value::Null) | Some(Value::String(_)) => {
            problems.push(Invalid::new(at(".field"), NOT_BLANK));
            None
        }
        Some(_) => {
            problems.push(Invalid::new(at(".field"), TYPE_STRING));
            None
        }
    };
    let op = match item.get("operator") {
        Some(Value::String(s)) if !is_blank(s) => match Op::parse(s.trim()) {
            Some(op) => Some(op),
            None => {
                problems.push(Invalid::new(at(".operator"), INVALID_CHOICE));
                None
            }
        },
        None | Some(Value::Null) | Some(Value::String(_)) => {
            problems.push(Invalid::new(at(".operator"), NOT_BLANK));
            None
        }
        Some(_) => {
            problems.push(Invalid::new(at(".operator"), TYPE_STRING));
            None
        }
    };
    // The docs' table: an operator the field's type does not take is refused as HelpCrunch
    // refuses a choice it does not offer, naming `filter[i].operator`.
    let op = match (field, op) {
        (Some(field), Some(op)) if !op.takes(operand(field)) => {
            problems.push(Invalid::new(at(".operator"), INVALID_CHOICE));
            None
        }
        (_, op) => op,
    };
    let value = match item.get("value") {
        None | Some(Value::Null) => {
            problems.push(Invalid::new(at(".value"), NOT_BLANK));
            None
        }
        Some(v) => Some(v),
    };
    let (field, op, value) = (field?, op?, value?);
    let filter = match field {
        Field::Tags => tag_names(value)
            .map(|names| Filter::Tags { names })
            .ok_or(TYPE_ARRAY),
        Field::Scalar(slot) => match slot.kind() {
            Kind::Text => match value {
                Value::String(s) => Ok(Filter::Text {
                    slot,
                    op,
                    value: s.clone(),
                    folded: s.to_lowercase(),
                    hash: text_hash(s),
                }),
                _ => Err(TYPE_STRING),
            },
            Kind::Number => number(value)
                .map(|value| Filter::Number { slot, op, value })
                .ok_or(TYPE_NUMERIC),
        },
    };
    filter
        .map_err(|message| problems.push(Invalid::new(at(".value"), message)))
        .ok()
}

/// A number, or a string holding one (`"1700000000"`).
fn number(value: &Value) -> Option<f64> {
    let text = match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_owned(),
        _ => return None,
    };
    text.parse::<f64>().ok().filter(|x| x.is_finite())
}

/// A field's type in the docs' operator table.
fn operand(field: Field) -> Operand {
    match field {
        Field::Tags => Operand::Array,
        Field::Scalar(slot) => match slot.kind() {
            Kind::Text => Operand::Text,
            Kind::Number => Operand::Number,
        },
    }
}

/// `"vip"`, `["vip","Lead"]` or `[{"name":"vip"}]`, as the docs show them.
fn tag_names(value: &Value) -> Option<Vec<String>> {
    let name = |v: &Value| -> Option<String> {
        let s = match v {
            Value::String(s) => s,
            Value::Object(o) => o.get("name")?.as_str()?,
            _ => return None,
        };
        (!is_blank(s)).then(|| s.to_owned())
    };
    match value {
        Value::Array(items) if !items.is_empty() => items.iter().map(name).collect(),
        Value::Array(_) => None,
        v => name(v).map(|n| vec![n]),
    }
}

/// Parameters shared by list (from the query string) and search (from the body).
fn apply_common(q: &mut Query, key: &str, value: &Value, caps: Caps, problems: &mut Vec<Invalid>) {
    match key {
        "offset" => match count(value) {
            Ok(n) => q.offset = n,
            Err(msg) => problems.push(Invalid::new("offset", msg)),
        },
        "limit" => match count(value) {
            Ok(0) => problems.push(Invalid::new("limit", POSITIVE)),
            Ok(n) => match caps.max_page_size.filter(|&max| n > max) {
                Some(max) => problems.push(Invalid::new("limit", at_most(max))),
                None => q.limit = n,
            },
            Err(msg) => problems.push(Invalid::new("limit", msg)),
        },
        "sort" => match value.as_str().and_then(SortField::parse) {
            Some(field) => q.sort = Some(field),
            None => problems.push(Invalid::new("sort", INVALID_CHOICE)),
        },
        "order" => match value.as_str() {
            Some(s) if s.eq_ignore_ascii_case("asc") => q.descending = false,
            Some(s) if s.eq_ignore_ascii_case("desc") => q.descending = true,
            _ => problems.push(Invalid::new("order", INVALID_CHOICE)),
        },
        _ => {} // other parameters are ignored, as most APIs do
    }
}

/// A non-negative integer, as a JSON number or a string of digits.
fn count(value: &Value) -> Result<usize, &'static str> {
    let n = match value {
        Value::Number(n) => n.as_u64().ok_or(if n.as_i64().is_some() {
            NOT_NEGATIVE
        } else {
            TYPE_INTEGER
        })?,
        Value::String(s) => {
            let s = s.trim();
            if let Some(digits) = s.strip_prefix('-') {
                if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(NOT_NEGATIVE);
                }
            }
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(TYPE_INTEGER);
            }
            s.parse::<u64>().unwrap_or(u64::MAX)
        }
        _ => return Err(TYPE_INTEGER),
    };
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

pub(super) fn is_blank(s: &str) -> bool {
    s.trim().is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn codes(r: Result<Query, Vec<Invalid>>) -> Vec<String> {
        r.unwrap_err().into_iter().map(|p| p.code).collect()
    }

    fn search(v: Value) -> Result<Query, Vec<Invalid>> {
        parse_search(&obj(v), Caps::default())
    }

    #[test]
    fn search_validation_names_each_bad_field() {
        let bad = json!({"filter": [
            {"field": "", "operator": "=", "value": 1},
            {"field": "customer.email", "operator": "=", "value": "x"},
            {"field": "customers.email", "operator": "like", "value": "x"},
            {"field": "customers.tagsData", "operator": ">", "value": "vip"},
            {"field": "customers.tagsData", "operator": "=", "value": []},
            {"field": "customers.email", "operator": "="},
            7,
        ], "limit": 0, "offset": -1, "order": "up", "comparison": "XOR", "sort": "tags"});
        assert_eq!(
            codes(search(bad)),
            [
                "offset",
                "limit",
                "sort",
                "order",
                "comparison",
                "filter[0].field",
                "filter[1].field",
                "filter[2].operator",
                "filter[3].operator",
                "filter[4].value",
                "filter[5].value",
                "filter[6]",
            ]
        );
    }

    #[test]
    fn no_filter_at_all_is_a_list_with_its_paging_and_order() {
        for body in [
            json!({"limit": 5, "offset": 10, "sort": "customers.lastSeen", "order": "desc"}),
            json!({"filter": null, "limit": 5, "offset": 10, "sort": "customers.lastSeen", "order": "desc"}),
            json!({"filter": [], "limit": 5, "offset": 10, "sort": "customers.lastSeen", "order": "desc"}),
        ] {
            let q = search(body.clone()).unwrap();
            assert!(q.filters.is_empty(), "{body}");
            assert_eq!(
                (q.limit, q.offset, q.sort, q.descending),
                (5, 10, Some(SortField::LastSeen), true)
            );
        }
        assert_eq!(codes(search(json!({"filter": {}}))), ["filter"]);
    }

    #[test]
    fn operators_follow_the_docs_table_and_the_rest_name_filter_i_operator() {
        // The table written out on its own, by field: what each type takes.
        let takes = |field: &str| -> &[&str] {
            match field {
                "customers.tagsData" => &["="],
                "customers.id" | "customers.lastSeen" => &["=", "!=", ">", ">=", "<", "<="],
                _ => &["=", "!=", "~", "!~"],
            }
        };
        for (field, value) in [
            ("customers.tagsData", json!([{"name": "vip"}])),
            ("customers.id", json!(5)),
            ("customers.lastSeen", json!(1700000000)),
            ("customers.email", json!("a@example.com")),
            ("customers.whatsappId", json!("x")),
        ] {
            for op in ["=", "!=", "~", "!~", ">", ">=", "<", "<="] {
                let ok = json!({"field": "customers.id", "operator": "=", "value": 1});
                let f = json!({"field": field, "operator": op, "value": value});
                let result = search(json!({"filter": [ok, f]}));
                if takes(field).contains(&op) {
                    assert!(result.is_ok(), "{field} {op}");
                } else {
                    assert_eq!(
                        result.unwrap_err(),
                        [Invalid::new("filter[1].operator", INVALID_CHOICE)],
                        "{field} {op}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_value_must_have_its_fields_type() {
        let one = |field: &str, value: Value| {
            search(json!({"filter": [{"field": field, "operator": "=", "value": value}]}))
        };
        for (field, value, message) in [
            ("customers.email", json!(5), TYPE_STRING),
            ("customers.userId", json!(123), TYPE_STRING),
            ("customers.telegramId", json!(123456789), TYPE_STRING),
            ("customers.city", json!(["Kyiv"]), TYPE_STRING),
            ("customers.name", json!({"name": "x"}), TYPE_STRING),
            ("customers.phone", json!(true), TYPE_STRING),
            ("customers.id", json!("abc"), TYPE_NUMERIC),
            ("customers.id", json!([1]), TYPE_NUMERIC),
            ("customers.lastSeen", json!("yesterday"), TYPE_NUMERIC),
            ("customers.lastSeen", json!(false), TYPE_NUMERIC),
            ("customers.tagsData", json!(7), TYPE_ARRAY),
            ("customers.tagsData", json!([{"color": "#fff"}]), TYPE_ARRAY),
        ] {
            let problems = one(field, value.clone()).unwrap_err();
            assert_eq!(
                problems,
                [Invalid::new("filter[0].value", message)],
                "{field} {value}"
            );
        }
        for (field, value) in [
            ("customers.id", json!("542335")),
            ("customers.id", json!(542335)),
            ("customers.lastSeen", json!(" 1700000000 ")),
            ("customers.lastSeen", json!(1.7e9)),
            ("customers.phone", json!("")),
            ("customers.tagsData", json!(["vip", {"name": "Lead"}])),
        ] {
            assert!(one(field, value.clone()).is_ok(), "{field} {value}");
        }
    }

    #[test]
    fn caps_name_limit_and_filter_and_shrink_the_default_page() {
        let caps = Caps {
            max_page_size: Some(50),
            max_filters: Some(2),
        };
        let f = json!({"field": "customers.id", "operator": ">", "value": 1});
        let q = parse_search(&obj(json!({"filter": [f, f], "limit": 50})), caps).unwrap();
        assert_eq!(q.limit, 50);
        let q = parse_search(&obj(json!({"filter": [f]})), caps).unwrap();
        assert_eq!(q.limit, 50, "the default page fits under the cap");
        let problems =
            parse_search(&obj(json!({"filter": [f, f, f], "limit": 51})), caps).unwrap_err();
        assert_eq!(
            problems,
            [
                Invalid::new("limit", "This value should be less than or equal to 50."),
                Invalid::new(
                    "filter",
                    "This collection should contain 2 elements or less."
                ),
            ]
        );
        let list = parse_list_query(Some("limit=51"), caps).unwrap_err();
        assert_eq!(list, [Invalid::new("limit", at_most(50))]);
        assert_eq!(
            parse_list_query(None, Caps::default()).unwrap().limit,
            DEFAULT_LIMIT
        );
    }

    #[test]
    fn list_query_parses_and_defaults() {
        let q = parse_list_query(
            Some("offset=3&limit=4&sort=customers.lastSeen&order=DESC&x=1"),
            Caps::default(),
        )
        .unwrap();
        assert_eq!((q.offset, q.limit, q.descending), (3, 4, true));
        assert_eq!(q.sort, Some(SortField::LastSeen));
        let q = parse_list_query(Some("limit=&offset="), Caps::default()).unwrap();
        assert_eq!((q.offset, q.limit), (0, DEFAULT_LIMIT));
        let bad = parse_list_query(Some("offset=abc&limit=-2"), Caps::default()).unwrap_err();
        assert_eq!(bad[0], Invalid::new("offset", TYPE_INTEGER));
        assert_eq!(bad[1], Invalid::new("limit", NOT_NEGATIVE));
        for sort in [
            "customers.id",
            "customers.name",
            "lastSeen",
            "customers.tagsData",
        ] {
            let bad = parse_list_query(Some(&format!("sort={sort}")), Caps::default());
            assert_eq!(
                bad.unwrap_err(),
                [Invalid::new("sort", INVALID_CHOICE)],
                "{sort}"
            );
        }
    }
}
