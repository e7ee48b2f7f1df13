//! Response bodies: read within a size cap, and a 2xx body checked to be what the call returns
//! (a JSON object) without building it, so each caller builds only the values it needs.

use serde_json::{Map, Value};

use super::failure::Failure;

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
    // It parsed, so the first byte that is not whitespace says what the value is.
    let kind = match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => return Ok(()),
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b'n') => "null",
        Some(b't' | b'f') => "a boolean",
        _ => "a number",
    };
    Err(format!(
        "expected the customer as a JSON object, got {kind}"
    ))
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
