//! Response bodies: read within a size cap, and a 2xx body checked to be what the call returns
//! (a customer, or a page of customers) without building it, so each caller builds only the
//! values it needs.

use std::ops::Range;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::failure::Failure;
use super::paging::SortKey;
use super::query::SORT_KEY;

/// What a call's 2xx body must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// One JSON object: the customer.
    Customer,
    /// `{"data": [customer, …], "total": N}`: a page of a list or a search.
    Page,
    /// Any JSON value, or an empty body: an answer whose shape is not documented.
    Any,
}

/// Check a 2xx body as `kind`; a page comes back indexed.
pub(crate) fn check_body(kind: BodyKind, bytes: &[u8]) -> Result<Option<PageIndex>, String> {
    match kind {
        BodyKind::Customer => check_customer(bytes).map(|()| None),
        BodyKind::Page => parse_page(bytes).map(Some),
        BodyKind::Any if bytes.iter().all(u8::is_ascii_whitespace) => Ok(None),
        BodyKind::Any => serde_json::from_slice::<Checked>(bytes)
            .map(|_| None)
            .map_err(|e| format!("the body is not valid JSON ({e})")),
    }
}

/// Read the body, never holding more than `cap` bytes of it. A success body over the cap is
/// refused (it cannot be a customer); an error body is cut at the cap, so the status still
/// decides what happens (a proxy's large 503 page is still a retryable 503).
pub(crate) async fn read_capped(
    response: &mut reqwest::Response,
    cap: usize,
) -> std::result::Result<Vec<u8>, Failure> {
    let status = response.status().as_u16();
    let success = (200..300).contains(&status);
    let too_large = || Failure::TooLarge { status, cap };
    if success && response.content_length().is_some_and(|n| n > cap as u64) {
        return Err(too_large());
    }
    let expected = response.content_length().unwrap_or(0).min(cap as u64) as usize;
    let mut bytes = Vec::with_capacity(expected);
    while let Some(chunk) = response.chunk().await.map_err(Failure::Transport)? {
        if bytes.len() + chunk.len() > cap {
            if success {
                return Err(too_large());
            }
            // The rest is dropped unread; the connection is not reused.
            bytes.extend_from_slice(&chunk[..cap - bytes.len()]);
            break;
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// A 2xx body must be one JSON object: the customer. Checked without building anything, and
/// with the same parser paths `parse_customer` takes, so the same bodies pass and a refused one
/// gets the same message.
pub fn check_customer(bytes: &[u8]) -> std::result::Result<(), String> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(EMPTY_BODY.into());
    }
    if let Err(e) = serde_json::from_slice::<Checked>(bytes) {
        return Err(format!("the body is not valid JSON ({e})"));
    }
    match json_kind_of(bytes) {
        "an object" => Ok(()),
        kind => Err(format!(
            "expected the customer as a JSON object, got {kind}"
        )),
    }
}

/// What a body that parsed as JSON holds: its first byte that is not whitespace says.
fn json_kind_of(bytes: &[u8]) -> &'static str {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b'n') => "null",
        Some(b't' | b'f') => "a boolean",
        _ => "a number",
    }
}

const EMPTY_BODY: &str = "the body is empty; expected the customer as a JSON object";

/// Any JSON value, checked as `serde_json::Value` would check it and then dropped.
/// `IgnoredAny` would be cheaper still, but serde_json skips over what it ignores: no nesting
/// limit (100,000 nested brackets would pass), no UTF-8 or surrogate checks inside strings.
/// Going through `deserialize_any` makes serde_json parse every string and number as it does
/// for a `Value`, into its scratch buffer, without allocating a tree.
struct Checked;

impl<'de> serde::Deserialize<'de> for Checked {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(CheckedVisitor)
    }
}

struct CheckedVisitor;

impl<'de> serde::de::Visitor<'de> for CheckedVisitor {
    type Value = Checked;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> std::result::Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_i64<E>(self, _: i64) -> std::result::Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_u64<E>(self, _: u64) -> std::result::Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_f64<E>(self, _: f64) -> std::result::Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_str<E>(self, _: &str) -> std::result::Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_unit<E>(self) -> std::result::Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }

    /// Objects, and (with `arbitrary_precision`) numbers, which serde_json hands over as a
    /// one-entry map holding their text.
    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Checked, A::Error> {
        while map.next_key::<Checked>()?.is_some() {
            map.next_value::<Checked>()?;
        }
        Ok(Checked)
    }
}

/// The customer's fields as `serde_json` values (for Rust callers; the client itself only
/// checks the body, with `check_customer`).
pub fn parse_customer(bytes: &[u8]) -> std::result::Result<Map<String, Value>, String> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(EMPTY_BODY.into());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(format!(
            "expected the customer as a JSON object, got {}",
            json_kind(&other)
        )),
        Err(e) => Err(format!("the body is not valid JSON ({e})")),
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A checked page: HelpCrunch's `total`, and each customer's id, sort key and place in the
/// body. The customers stay as the bytes the server sent, so each caller builds only what it
/// needs (the Python layer goes straight to dicts).
#[derive(Debug, Clone, PartialEq)]
pub struct PageIndex {
    pub total: u64,
    pub items: Vec<PageItem>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PageItem {
    pub id: u64,
    /// Its `firstSeen`, the key pages are sorted by.
    pub key: SortKey,
    /// Where the customer's JSON object lies in the body.
    pub span: Range<usize>,
}

const PAGE_SHAPE: &str = "a page of customers ({\"data\": [...], \"total\": N})";

/// A 2xx body of a list or search: one JSON object with `data`, a list of customer objects
/// each with a positive integer `id`, and `total`, a non-negative integer. Every value is
/// checked as `serde_json::Value` would check it (other keys too: the API grows), without
/// building the customers.
pub fn parse_page(bytes: &[u8]) -> Result<PageIndex, String> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(format!("the body is empty; expected {PAGE_SHAPE}"));
    }
    let shape = match serde_json::from_slice::<PageShape<'_>>(bytes) {
        Ok(shape) => shape,
        Err(e) => {
            if let Err(e) = serde_json::from_slice::<Checked>(bytes) {
                return Err(format!("the body is not valid JSON ({e})"));
            }
            return Err(match json_kind_of(bytes) {
                "an object" => format!("expected {PAGE_SHAPE}: {e}"),
                kind => format!("expected {PAGE_SHAPE}, got {kind}"),
            });
        }
    };
    let list = match shape.data {
        Some(Data::List(list)) => list,
        Some(Data::Other(kind)) => {
            return Err(format!(
                "the page's data is {kind}, not a list of customers"
            ))
        }
        None => return Err(format!("the page has no 'data'; expected {PAGE_SHAPE}")),
    };
    let total = match shape.total {
        Some(Value::Number(n)) if n.as_u64().is_some() => n.as_u64().unwrap_or_default(),
        Some(other) => {
            return Err(format!(
                "the page's total is {}, not a count",
                super::error::excerpt(&other.to_string(), 40)
            ))
        }
        None => return Err(format!("the page has no 'total'; expected {PAGE_SHAPE}")),
    };
    let base = bytes.as_ptr() as usize;
    let items = list
        .into_iter()
        .enumerate()
        .map(|(i, raw)| {
            let head: Head = serde_json::from_str(raw.get())
                .map_err(|e| format!("data[{i}] is not a customer object ({e})"))?;
            let id = head
                .id
                .ok_or_else(|| format!("data[{i}] has no positive integer 'id'"))?;
            let start = raw.get().as_ptr() as usize - base;
            Ok(PageItem {
                id,
                key: head.key,
                span: start..start + raw.get().len(),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(PageIndex { total, items })
}

/// The page's two keys, the rest checked and dropped. A key given twice counts as its last
/// value, as for `serde_json::Value`.
struct PageShape<'a> {
    data: Option<Data<'a>>,
    total: Option<Value>,
}

/// A page's `data`: the customers as the bytes sent (each checked later, on its own), or what
/// it was instead of a list.
enum Data<'a> {
    List(Vec<&'a RawValue>),
    Other(&'static str),
}

impl<'de> Deserialize<'de> for Data<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct DataVisitor;
        impl<'de> Visitor<'de> for DataVisitor {
            type Value = Data<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of customers")
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Data<'de>, A::Error> {
                let mut list = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(raw) = seq.next_element::<&'de RawValue>()? {
                    list.push(raw);
                }
                Ok(Data::List(list))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Data<'de>, A::Error> {
                while map.next_key::<Checked>()?.is_some() {
                    map.next_value::<Checked>()?;
                }
                Ok(Data::Other("an object"))
            }

            fn visit_bool<E>(self, _: bool) -> Result<Data<'de>, E> {
                Ok(Data::Other("a boolean"))
            }

            fn visit_i64<E>(self, _: i64) -> Result<Data<'de>, E> {
                Ok(Data::Other("a number"))
            }

            fn visit_u64<E>(self, _: u64) -> Result<Data<'de>, E> {
                Ok(Data::Other("a number"))
            }

            fn visit_f64<E>(self, _: f64) -> Result<Data<'de>, E> {
                Ok(Data::Other("a number"))
            }

            fn visit_str<E>(self, _: &str) -> Result<Data<'de>, E> {
                Ok(Data::Other("a string"))
            }

            fn visit_unit<E>(self) -> Result<Data<'de>, E> {
                Ok(Data::Other("null"))
            }
        }
        d.deserialize_any(DataVisitor)
    }
}

impl<'de> Deserialize<'de> for PageShape<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ShapeVisitor;
        impl<'de> Visitor<'de> for ShapeVisitor {
            type Value = PageShape<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PageShape<'de>, A::Error> {
                let mut shape = PageShape {
                    data: None,
                    total: None,
                };
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    match key.as_ref() {
                        "data" => shape.data = Some(map.next_value()?),
                        "total" => shape.total = Some(map.next_value()?),
                        _ => {
                            map.next_value::<Checked>()?;
                        }
                    }
                }
                Ok(shape)
            }
        }
        d.deserialize_map(ShapeVisitor)
    }
}

/// What paging needs of a customer: its id and sort key; the rest is checked and dropped.
struct Head {
    id: Option<u64>,
    key: SortKey,
}

impl<'de> Deserialize<'de> for Head {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct HeadVisitor;
        impl<'de> Visitor<'de> for HeadVisitor {
            type Value = Head;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Head, A::Error> {
                let mut head = Head {
                    id: None,
                    key: SortKey::Missing,
                };
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    match key.as_ref() {
                        "id" => {
                            head.id = match map.next_value::<Value>()? {
                                Value::Number(n) => n.as_u64().filter(|&id| id > 0),
                                _ => None,
                            }
                        }
                        k if k == SORT_KEY => {
                            head.key = match map.next_value::<Value>()? {
                                Value::Null => SortKey::Missing,
                                Value::Number(n) => match n.as_f64() {
                                    Some(x) if x.is_finite() => SortKey::Number(x),
                                    _ => SortKey::Text(n.to_string()),
                                },
                                Value::String(text) => SortKey::from_text(&text),
                                other => SortKey::Text(other.to_string()),
                            }
                        }
                        _ => {
                            map.next_value::<Checked>()?;
                        }
                    }
                }
                Ok(head)
            }
        }
        d.deserialize_map(HeadVisitor)
    }
}
