//! A customer as the store keeps it: its JSON, serialized once per change, and where in that
//! JSON each value search reads lies. Search reads values in place, so a store of hundreds
//! of thousands of customers holds each one once, as the bytes it serves, and filters them
//! without parsing or copying.

use std::borrow::Cow;
use std::cmp::Ordering;

use bytes::Bytes;
use serde_json::{Map, Value};

use super::fields::{Slot, SLOT_COUNT};

pub(super) type Customer = Map<String, Value>;

/// Where a value lies in the JSON. The empty span means the customer has no such value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Span {
    start: u32,
    end: u32,
}

impl Span {
    fn of(range: std::ops::Range<usize>) -> Span {
        // `Entry::from_json` refuses JSON past u32::MAX bytes.
        Span {
            start: range.start as u32,
            end: range.end as u32,
        }
    }
}

pub(super) struct Entry {
    pub id: u64,
    pub json: Bytes,
    slots: [Span; SLOT_COUNT],
    /// Each tag's `name` value, in order.
    tags: Box<[Span]>,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Entry({})", String::from_utf8_lossy(&self.json))
    }
}

/// A value as it stands in the JSON.
enum Raw<'a> {
    /// With its quotes, escapes unresolved.
    String(&'a [u8]),
    Number(&'a str),
    Bool(bool),
    Null,
    /// An object or an array.
    Other(&'a [u8]),
}

impl<'a> Raw<'a> {
    fn of(bytes: &'a [u8]) -> Raw<'a> {
        match bytes.first() {
            None => Raw::Null,
            Some(b'"') => Raw::String(bytes),
            Some(b'{' | b'[') => Raw::Other(bytes),
            Some(b't') => Raw::Bool(true),
            Some(b'f') => Raw::Bool(false),
            Some(b'n') => Raw::Null,
            // A number: ASCII, as the JSON grammar has it.
            Some(_) => Raw::Number(std::str::from_utf8(bytes).unwrap_or("")),
        }
    }
}

/// A JSON string's content. Most have no escapes and are borrowed as they stand.
fn unquote(quoted: &[u8]) -> Cow<'_, str> {
    let inner = &quoted[1..quoted.len() - 1];
    if !inner.contains(&b'\\') {
        if let Ok(s) = std::str::from_utf8(inner) {
            return Cow::Borrowed(s);
        }
    }
    Cow::Owned(serde_json::from_slice(quoted).unwrap_or_default())
}

fn as_number(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|x| x.is_finite())
}

/// A sort field's value, ordered as list and search order customers: missing and null
/// first, then numbers (numeric strings among them), other strings, booleans, the rest.
#[derive(Debug)]
pub(super) enum SortKey<'a> {
    Missing,
    Number(f64),
    Text(Cow<'a, str>),
    Bool(bool),
    Other(&'a [u8]),
}

impl SortKey<'_> {
    fn rank(&self) -> u8 {
        match self {
            SortKey::Missing => 0,
            SortKey::Number(_) => 1,
            SortKey::Text(_) => 2,
            SortKey::Bool(_) => 3,
            SortKey::Other(_) => 4,
        }
    }

    pub fn cmp(&self, other: &SortKey) -> Ordering {
        match (self, other) {
            (SortKey::Number(a), SortKey::Number(b)) => a.total_cmp(b),
            (SortKey::Text(a), SortKey::Text(b)) => a.cmp(b),
            (SortKey::Bool(a), SortKey::Bool(b)) => a.cmp(b),
            (SortKey::Other(a), SortKey::Other(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl Entry {
    /// Indexes the JSON of a customer object (as serde_json or the generator writes it),
    /// which must hold a non-negative integer `id`.
    pub fn from_json(json: Bytes) -> Result<Entry, String> {
        if u32::try_from(json.len()).is_err() {
            return Err("a customer's JSON must be under 4 GiB".into());
        }
        let (slots, tags) = index(&json).ok_or("a customer must be a JSON object")?;
        let id_span = slots[Slot::Id as usize];
        let id_text = &json[id_span.start as usize..id_span.end as usize];
        let id = std::str::from_utf8(id_text)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(|| {
                format!(
                    "customer id must be a non-negative integer, got {}",
                    String::from_utf8_lossy(id_text)
                )
            })?;
        Ok(Entry {
            id,
            json,
            slots,
            tags: tags.into_boxed_slice(),
        })
    }

    pub fn from_map(map: &Customer) -> Result<Entry, String> {
        Entry::from_json(serialize(map))
    }

    /// The customer as a map, every number and string exactly as stored.
    pub fn to_map(&self) -> Customer {
        serde_json::from_slice(&self.json).expect("an entry holds a JSON object")
    }

    fn raw(&self, slot: Slot) -> Raw<'_> {
        let span = self.slots[slot as usize];
        Raw::of(&self.json[span.start as usize..span.end as usize])
    }

    /// The value as text: a string's content, or a number as written. None for a missing,
    /// null, boolean, object or array value.
    pub fn text(&self, slot: Slot) -> Option<Cow<'_, str>> {
        match self.raw(slot) {
            Raw::String(quoted) => Some(unquote(quoted)),
            Raw::Number(text) => Some(Cow::Borrowed(text)),
            _ => None,
        }
    }

    /// The value as a number: a number, or a string holding one.
    pub fn number(&self, slot: Slot) -> Option<f64> {
        match self.raw(slot) {
            Raw::Number(text) => as_number(text),
            Raw::String(quoted) => as_number(&unquote(quoted)),
            _ => None,
        }
    }

    pub fn sort_key(&self, slot: Slot) -> SortKey<'_> {
        match self.raw(slot) {
            Raw::Null => SortKey::Missing,
            Raw::Number(text) => {
                as_number(text).map_or(SortKey::Other(text.as_bytes()), SortKey::Number)
            }
            Raw::String(quoted) => {
                let text = unquote(quoted);
                match as_number(&text) {
                    Some(x) => SortKey::Number(x),
                    None => SortKey::Text(text),
                }
            }
            Raw::Bool(b) => SortKey::Bool(b),
            Raw::Other(bytes) => SortKey::Other(bytes),
        }
    }

    /// The names of the customer's tags (those that are strings), in order.
    pub fn tag_names(&self) -> impl Iterator<Item = Cow<'_, str>> {
        self.tags.iter().filter_map(|span| {
            match Raw::of(&self.json[span.start as usize..span.end as usize]) {
                Raw::String(quoted) => Some(unquote(quoted)),
                _ => None,
            }
        })
    }
}

/// Compact JSON, as HelpCrunch sends it.
pub(super) fn serialize(map: &Customer) -> Bytes {
    Bytes::from(serde_json::to_vec(map).expect("a JSON map serializes"))
}

/// A walk over JSON known to be valid: it finds where values lie without building them.
struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Scanner<'_> {
    fn skip_whitespace(&mut self) {
        while self
            .bytes
            .get(self.at)
            .is_some_and(|b| b.is_ascii_whitespace())
        {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_whitespace();
        self.bytes.get(self.at).copied()
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// Past a string whose opening quote is at `self.at`.
    fn skip_string(&mut self) -> Option<()> {
        self.at += 1;
        loop {
            match *self.bytes.get(self.at)? {
                b'\\' => self.at += 2,
                b'"' => {
                    self.at += 1;
                    return Some(());
                }
                _ => self.at += 1,
            }
        }
    }

    /// Past the next value, of any kind and depth (iteratively: no recursion to overflow).
    fn value(&mut self) -> Option<std::ops::Range<usize>> {
        let start =
            match self.peek()? {
                b'"' => {
                    let start = self.at;
                    self.skip_string()?;
                    return Some(start..self.at);
                }
                b'{' | b'[' => self.at,
                _ => {
                    let start = self.at;
                    while self.bytes.get(self.at).is_some_and(|b| {
                        !matches!(b, b',' | b'}' | b']') && !b.is_ascii_whitespace()
                    }) {
                        self.at += 1;
                    }
                    return (self.at > start).then_some(start..self.at);
                }
            };
        let mut depth = 0usize;
        loop {
            match *self.bytes.get(self.at)? {
                b'"' => {
                    self.skip_string()?;
                    continue;
                }
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        self.at += 1;
                        return Some(start..self.at);
                    }
                }
                _ => {}
            }
            self.at += 1;
        }
    }

    /// Calls `member` with each key (as written, without its quotes) of the object at
    /// `self.at`, positioned at the member's value, which `member` must walk past.
    fn object(&mut self, mut member: impl FnMut(&mut Self, &[u8]) -> Option<()>) -> Option<()> {
        self.expect(b'{')?;
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(());
        }
        loop {
            if self.peek()? != b'"' {
                return None;
            }
            let key_start = self.at;
            self.skip_string()?;
            let key = &self.bytes[key_start + 1..self.at - 1];
            self.expect(b':')?;
            member(self, key)?;
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// Calls `element` positioned at each element of the array at `self.at`.
    fn array(&mut self, mut element: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.expect(b'[')?;
        if self.peek()? == b']' {
            self.at += 1;
            return Some(());
        }
        loop {
            element(self)?;
            match self.peek()? {
                b',' => self.at += 1,
                b']' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }
}

/// The spans of a customer object's slots and tag names; None if it is not an object.
fn index(json: &[u8]) -> Option<([Span; SLOT_COUNT], Vec<Span>)> {
    let mut slots = [Span::default(); SLOT_COUNT];
    let mut tags = Vec::new();
    let mut scanner = Scanner { bytes: json, at: 0 };
    scanner.object(|s, key| match (key, s.peek()?) {
        (b"location", b'{') => s.object(|s, key| {
            let range = s.value()?;
            if let Some(slot) = Slot::for_key(key, true) {
                slots[slot as usize] = Span::of(range);
            }
            Some(())
        }),
        (b"tags", b'[') => s.array(|s| {
            if s.peek()? != b'{' {
                return s.value().map(drop);
            }
            s.object(|s, key| {
                let range = s.value()?;
                if key == b"name" {
                    tags.push(Span::of(range));
                }
                Some(())
            })
        }),
        _ => {
            let range = s.value()?;
            if let Some(slot) = Slot::for_key(key, false) {
                slots[slot as usize] = Span::of(range);
            }
            Some(())
        }
    })?;
    Some((slots, tags))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(v: Value) -> Entry {
        Entry::from_map(v.as_object().unwrap()).unwrap()
    }

    #[test]
    fn values_are_read_in_place_whatever_their_type() {
        let original = json!({
            "id": 7, "name": "Zoë \"Z\" O'Brien", "email": null, "phone": 12345,
            "userId": {"nested": ["}", "]"]}, "company": "", "firstSeen": " 1600000000 ",
            "lastSeen": 1.5e9, "location": {"city": "Kyiv", "countryCode": "UA", "x": [1]},
            "tags": [{"color": "#fff", "name": "vip"}, "odd", {"name": 3}, {"name": "Le\\ad"}],
            "telegramId": true, "regionCode": "top-level, not location",
        });
        let e = entry(original.clone());
        assert_eq!(e.id, 7);
        assert_eq!(e.text(Slot::Name).as_deref(), Some("Zoë \"Z\" O'Brien"));
        assert_eq!(e.text(Slot::Email), None);
        assert_eq!(e.text(Slot::Phone).as_deref(), Some("12345"));
        assert_eq!(e.text(Slot::UserId), None);
        assert_eq!(e.text(Slot::Company).as_deref(), Some(""));
        assert_eq!(e.number(Slot::FirstSeen), Some(1600000000.0));
        assert_eq!(e.number(Slot::LastSeen), Some(1.5e9));
        assert_eq!(e.text(Slot::City).as_deref(), Some("Kyiv"));
        assert_eq!(e.text(Slot::CountryCode).as_deref(), Some("UA"));
        assert_eq!(e.text(Slot::RegionCode), None, "only inside location");
        assert_eq!(e.text(Slot::WhatsappId), None, "absent");
        let names: Vec<_> = e.tag_names().collect();
        assert_eq!(names, ["vip", "Le\\ad"]);
        assert!(matches!(e.sort_key(Slot::TelegramId), SortKey::Bool(true)));
        assert!(matches!(e.sort_key(Slot::ViberId), SortKey::Missing));
        assert_eq!(Value::Object(e.to_map()), original);
    }

    #[test]
    fn sort_keys_order_missing_numbers_text_booleans_rest() {
        let keys = [
            json!(null),
            json!(5),
            json!("10"),
            json!("abc"),
            json!(false),
            json!([1]),
        ];
        let entries: Vec<Entry> = keys
            .iter()
            .map(|v| entry(json!({"id": 1, "lastSeen": v})))
            .collect();
        for pair in entries.windows(2) {
            let (a, b) = (
                pair[0].sort_key(Slot::LastSeen),
                pair[1].sort_key(Slot::LastSeen),
            );
            assert_eq!(a.cmp(&b), Ordering::Less, "{a:?} < {b:?}");
        }
        let absent = entry(json!({"id": 2}));
        assert!(matches!(absent.sort_key(Slot::LastSeen), SortKey::Missing));
    }

    #[test]
    fn ids_must_be_non_negative_integers() {
        for bad in [
            json!({"id": -1}),
            json!({"id": "1"}),
            json!({"id": 1.5}),
            json!({}),
        ] {
            assert!(Entry::from_map(bad.as_object().unwrap()).is_err(), "{bad}");
        }
        assert!(Entry::from_json(Bytes::from_static(b"[1]")).is_err());
    }
}
