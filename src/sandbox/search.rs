//! List and search: parsing their parameters, filtering, sorting and paging.

use std::cmp::Ordering;
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use serde_json::{Map, Value};

use super::errors::{
    Invalid, INVALID_CHOICE, NOT_BLANK, NOT_NEGATIVE, POSITIVE, TYPE_ARRAY, TYPE_INTEGER,
    TYPE_OBJECT, TYPE_STRING,
};
use super::state::{Customer, Entry, Store};

/// Page size when a request names none (HelpCrunch documents none; its examples use 100).
pub(super) const DEFAULT_LIMIT: usize = 100;

/// A searchable field, `customers.<name>` on the wire.
#[derive(Debug, Clone, PartialEq)]
enum Field {
    Id,
    Tags,
    /// `countryCode`, `city`, `regionCode`: inside `location`.
    Location(String),
    TopLevel(String),
}

impl Field {
    fn parse(s: &str) -> Option<Field> {
        let name = s.strip_prefix("customers.")?;
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return None;
        }
        Some(match name {
            "id" => Field::Id,
            "tagsData" => Field::Tags,
            "countryCode" | "city" | "regionCode" => Field::Location(name.to_owned()),
            _ => Field::TopLevel(name.to_owned()),
        })
    }

    fn value<'a>(&self, c: &'a Customer) -> Option<&'a Value> {
        match self {
            Field::Id => c.get("id"),
            Field::Tags => c.get("tags"),
            Field::Location(name) => c.get("location")?.get(name),
            Field::TopLevel(name) => c.get(name),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    Contains,
    NotContains,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "=" => Op::Eq,
            "!=" => Op::Ne,
            "~" => Op::Contains,
            "!~" => Op::NotContains,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "<" => Op::Lt,
            "<=" => Op::Le,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Filter {
    /// `=`: has every named tag; `~`: some tag name contains some of them (any case);
    /// `!=` and `!~` negate those.
    Tags {
        op: Op,
        names: Vec<String>,
    },
    Value {
        field: Field,
        op: Op,
        value: Value,
    },
}

impl Filter {
    fn matches(&self, c: &Customer) -> bool {
        match self {
            Filter::Tags { op, names } => {
                let tags: Vec<&str> = c
                    .get("tags")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|t| t.get("name")?.as_str())
                    .collect();
                let has_all = || names.iter().all(|n| tags.contains(&n.as_str()));
                let contains = || {
                    names.iter().any(|n| {
                        let n = n.to_lowercase();
                        tags.iter().any(|t| t.to_lowercase().contains(&n))
                    })
                };
                match op {
                    Op::Eq => has_all(),
                    Op::Ne => !has_all(),
                    Op::Contains => contains(),
                    Op::NotContains => !contains(),
                    _ => false, // refused when parsing
                }
            }
            Filter::Value { field, op, value } => {
                let actual = field.value(c).and_then(Key::of);
                let wanted = Key::of(value);
                let (Some(actual), Some(wanted)) = (actual, wanted) else {
                    // A missing or null field equals nothing, so it is "not equal" to all.
                    return matches!(op, Op::Ne | Op::NotContains);
                };
                match op {
                    Op::Eq => actual.cmp_same_kind(&wanted) == Some(Ordering::Equal),
                    Op::Ne => actual.cmp_same_kind(&wanted) != Some(Ordering::Equal),
                    Op::Contains => actual.contains(&wanted),
                    Op::NotContains => !actual.contains(&wanted),
                    Op::Gt => actual.cmp_same_kind(&wanted) == Some(Ordering::Greater),
                    Op::Ge => matches!(
                        actual.cmp_same_kind(&wanted),
                        Some(Ordering::Greater | Ordering::Equal)
                    ),
                    Op::Lt => actual.cmp_same_kind(&wanted) == Some(Ordering::Less),
                    Op::Le => matches!(
                        actual.cmp_same_kind(&wanted),
                        Some(Ordering::Less | Ordering::Equal)
                    ),
                }
            }
        }
    }
}

/// A field value reduced to what comparing needs. Numbers and numeric strings compare as
/// numbers, since HelpCrunch sends timestamps both ways.
#[derive(Debug)]
enum Key<'a> {
    Num(f64, &'a Value),
    Str(&'a str),
    Bool(bool),
    Other(&'a Value),
}

impl<'a> Key<'a> {
    fn of(v: &'a Value) -> Option<Key<'a>> {
        Some(match v {
            Value::Null => return None,
            Value::Number(n) => Key::Num(n.as_f64().unwrap_or(f64::NAN), v),
            Value::String(s) => match s.trim().parse::<f64>() {
                Ok(x) if x.is_finite() => Key::Num(x, v),
                _ => Key::Str(s),
            },
            Value::Bool(b) => Key::Bool(*b),
            _ => Key::Other(v),
        })
    }

    fn rank(&self) -> u8 {
        match self {
            Key::Num(..) => 0,
            Key::Str(_) => 1,
            Key::Bool(_) => 2,
            Key::Other(_) => 3,
        }
    }

    /// None when the two are of different kinds, which no operator relates.
    fn cmp_same_kind(&self, other: &Key) -> Option<Ordering> {
        match (self, other) {
            (Key::Num(a, _), Key::Num(b, _)) => a.partial_cmp(b),
            (Key::Str(a), Key::Str(b)) => Some(a.cmp(b)),
            (Key::Bool(a), Key::Bool(b)) => Some(a.cmp(b)),
            (Key::Other(a), Key::Other(b)) => (a == b).then_some(Ordering::Equal),
            _ => None,
        }
    }

    /// Sort order: missing and null first, then numbers, strings, booleans, the rest.
    fn sort_cmp(a: &Option<Key>, b: &Option<Key>) -> Ordering {
        match (a, b) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(a), Some(b)) => a
                .rank()
                .cmp(&b.rank())
                .then_with(|| a.cmp_same_kind(b).unwrap_or(Ordering::Equal)),
        }
    }

    /// Substring match, ignoring case; numbers match by their JSON text.
    fn contains(&self, needle: &Key) -> bool {
        let text = |k: &Key| -> Option<String> {
            match k {
                Key::Str(s) => Some(s.to_lowercase()),
                Key::Num(_, v) => Some(match v {
                    Value::String(s) => s.to_lowercase(),
                    other => other.to_string(),
                }),
                _ => None,
            }
        };
        match (text(self), text(needle)) {
            (Some(hay), Some(needle)) => hay.contains(&needle),
            _ => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Query {
    filters: Vec<Filter>,
    /// `comparison: OR`: any filter; else all of them.
    any: bool,
    /// None: by id.
    sort: Option<Field>,
    descending: bool,
    offset: usize,
    limit: usize,
}

impl Query {
    fn new() -> Query {
        Query {
            filters: Vec::new(),
            any: false,
            sort: None,
            descending: false,
            offset: 0,
            limit: DEFAULT_LIMIT,
        }
    }

    fn matches(&self, c: &Customer) -> bool {
        if self.any {
            self.filters.iter().any(|f| f.matches(c))
        } else {
            self.filters.iter().all(|f| f.matches(c))
        }
    }

    /// The requested page and how many customers match in all.
    pub fn run(&self, store: &Store) -> (Vec<Arc<Entry>>, usize) {
        if self.filters.is_empty() && self.sort.is_none() {
            return store.page_by_id(self.offset, self.limit, self.descending);
        }
        let mut found = store.select(|c| self.matches(c));
        let total = found.len();
        if let Some(field) = &self.sort {
            // Stable: ties stay in id order.
            found.sort_by(|a, b| {
                let order = Key::sort_cmp(
                    &field.value(&a.map).and_then(Key::of),
                    &field.value(&b.map).and_then(Key::of),
                );
                if self.descending {
                    order.reverse()
                } else {
                    order
                }
            });
        } else if self.descending {
            found.reverse();
        }
        let page = found
            .into_iter()
            .skip(self.offset)
            .take(self.limit)
            .collect();
        (page, total)
    }
}

/// `{"data":[…],"total":N}`, stitched from each customer's cached JSON.
pub(super) fn page_body(page: &[Arc<Entry>], total: usize) -> Bytes {
    let size: usize = page.iter().map(|e| e.json.len() + 1).sum();
    let mut out = BytesMut::with_capacity(size + 40);
    out.put_slice(b"{\"data\":[");
    for (i, e) in page.iter().enumerate() {
        if i > 0 {
            out.put_u8(b',');
        }
        out.put_slice(&e.json);
    }
    out.put_slice(b"],\"total\":");
    out.put_slice(total.to_string().as_bytes());
    out.put_u8(b'}');
    out.freeze()
}

/// `GET /customers?offset=&limit=&sort=&order=`.
pub(super) fn parse_list_query(query: Option<&str>) -> Result<Query, Vec<Invalid>> {
    let mut q = Query::new();
    let mut problems = Vec::new();
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if value.is_empty() {
            continue; // `limit=` is as good as no limit parameter
        }
        apply_common(
            &mut q,
            &key,
            &Value::String(value.into_owned()),
            &mut problems,
        );
    }
    if problems.is_empty() {
        Ok(q)
    } else {
        Err(problems)
    }
}

/// `POST /customers/search` body.
pub(super) fn parse_search(body: &Map<String, Value>) -> Result<Query, Vec<Invalid>> {
    let mut q = Query::new();
    let mut problems = Vec::new();
    for key in ["offset", "limit", "sort", "order"] {
        if let Some(value) = body.get(key).filter(|v| !v.is_null()) {
            apply_common(&mut q, key, value, &mut problems);
        }
    }
    match body.get("comparison") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s.eq_ignore_ascii_case("and") => q.any = false,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("or") => q.any = true,
        Some(_) => problems.push(Invalid::new("comparison", INVALID_CHOICE)),
    }
    match body.get("filter") {
        None | Some(Value::Null) => problems.push(Invalid::new("filter", NOT_BLANK)),
        Some(Value::Array(items)) if items.is_empty() => {
            problems.push(Invalid::new("filter", NOT_BLANK))
        }
        Some(Value::Array(items)) => {
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
    let before = problems.len();
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
            // Tags are a set: only (not) having and (not) containing make sense.
            Some(Op::Gt | Op::Ge | Op::Lt | Op::Le) if field == Some(Field::Tags) => {
                problems.push(Invalid::new(at(".operator"), INVALID_CHOICE));
                None
            }
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
    let value = match item.get("value") {
        None | Some(Value::Null) => {
            problems.push(Invalid::new(at(".value"), NOT_BLANK));
            None
        }
        Some(v) => Some(v),
    };
    let (field, op, value) = (field?, op?, value?);
    if field == Field::Tags {
        return match tag_names(value) {
            Some(names) => Some(Filter::Tags { op, names }),
            None => {
                problems.push(Invalid::new(at(".value"), TYPE_ARRAY));
                None
            }
        };
    }
    if value.is_array() || value.is_object() {
        problems.push(Invalid::new(at(".value"), TYPE_STRING));
    }
    (problems.len() == before).then(|| Filter::Value {
        field,
        op,
        value: value.clone(),
    })
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
fn apply_common(q: &mut Query, key: &str, value: &Value, problems: &mut Vec<Invalid>) {
    match key {
        "offset" => match count(value) {
            Ok(n) => q.offset = n,
            Err(msg) => problems.push(Invalid::new("offset", msg)),
        },
        "limit" => match count(value) {
            Ok(0) => problems.push(Invalid::new("limit", POSITIVE)),
            Ok(n) => q.limit = n,
            Err(msg) => problems.push(Invalid::new("limit", msg)),
        },
        "sort" => match value.as_str().map(Field::parse) {
            Some(Some(Field::Tags)) | Some(None) | None => {
                problems.push(Invalid::new("sort", INVALID_CHOICE))
            }
            Some(Some(Field::Id)) => q.sort = None,
            Some(Some(field)) => q.sort = Some(field),
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

    #[test]
    fn search_validation_names_each_bad_field() {
        assert_eq!(codes(parse_search(&obj(json!({})))), ["filter"]);
        assert_eq!(codes(parse_search(&obj(json!({"filter": []})))), ["filter"]);
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
            codes(parse_search(&obj(bad))),
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
    fn filters_compare_numbers_and_strings_sensibly() {
        let c = obj(json!({
            "id": 5, "name": "Jane", "email": "jane@GMAIL.com", "lastSeen": "1603885746",
            "location": {"city": "Kyiv"},
            "tags": [{"name": "vip", "color": "#f00"}, {"name": "Lead", "color": "#0f0"}],
        }));
        let hit = |filter: Value| {
            let q = parse_search(&obj(json!({ "filter": [filter] }))).unwrap();
            q.matches(&c)
        };
        let f = |field: &str, op: &str, value: Value| json!({"field": field, "operator": op, "value": value});
        assert!(hit(f("customers.tagsData", "=", json!("vip"))));
        assert!(hit(f(
            "customers.tagsData",
            "=",
            json!([{"name": "vip"}, {"name": "Lead"}])
        )));
        assert!(!hit(f(
            "customers.tagsData",
            "=",
            json!([{"name": "vip"}, {"name": "lead"}])
        )));
        assert!(hit(f("customers.tagsData", "!=", json!("lead"))));
        assert!(hit(f("customers.tagsData", "~", json!("LEA"))));
        assert!(hit(f("customers.email", "~", json!("gmail"))));
        assert!(hit(f("customers.email", "!~", json!("yahoo"))));
        assert!(hit(f("customers.name", "=", json!("Jane"))));
        assert!(!hit(f("customers.name", "=", json!("jane"))));
        assert!(hit(f("customers.id", ">", json!(4))));
        assert!(hit(f("customers.id", "<=", json!("5"))));
        assert!(hit(f("customers.lastSeen", ">=", json!(1603885746))));
        assert!(hit(f("customers.city", "=", json!("Kyiv"))));
        assert!(!hit(f("customers.phone", "=", json!("1"))));
        assert!(hit(f("customers.phone", "!=", json!("1"))));
    }

    #[test]
    fn list_query_parses_and_defaults() {
        let q = parse_list_query(Some(
            "offset=3&limit=4&sort=customers.lastSeen&order=DESC&x=1",
        ))
        .unwrap();
        assert_eq!((q.offset, q.limit, q.descending), (3, 4, true));
        assert_eq!(q.sort, Some(Field::TopLevel("lastSeen".into())));
        let q = parse_list_query(Some("limit=&offset=")).unwrap();
        assert_eq!((q.offset, q.limit), (0, DEFAULT_LIMIT));
        let bad = parse_list_query(Some("offset=abc&limit=-2")).unwrap_err();
        assert_eq!(bad[0], Invalid::new("offset", TYPE_INTEGER));
        assert_eq!(bad[1], Invalid::new("limit", NOT_NEGATIVE));
    }
}
