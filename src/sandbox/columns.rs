//! What a search reads first for every customer, kept field by field in contiguous columns:
//! a hash of each text value, each numeric value, and the customer's tags as bits.
//!
//! A search over a large account mostly asks `=` (an email, a userId, a tag) and mostly
//! finds nobody or few. Reading a few bytes per customer from one column, instead of each
//! customer's JSON, lets a search skip almost every customer without touching it; the few
//! whose hash matches are checked against their JSON, so a collision never changes an answer.
//! Tags are numbered in the order the account first meets them; the first 63 have a bit of
//! their own, so tag filters on them are answered by the column alone.

use std::collections::HashMap;

use super::entry::Entry;
use super::fields::{Kind, Slot, SLOT_COUNT};
use super::rng::mix;

/// One field's values, by position in the table.
enum Column {
    /// [`text_hash`] of the value as text; [`NO_TEXT`] where there is none.
    Text(Vec<u32>),
    /// The value as a number; NaN where there is none.
    Number(Vec<f64>),
}

/// Marks a customer without a text value in a text column. [`text_hash`] never returns it.
const NO_TEXT: u32 = 0;

/// Set for a customer carrying any tag numbered 63 or more: those share this bit.
pub(super) const OVERFLOW: u64 = 1 << 63;

pub(super) struct Columns {
    by_slot: [Column; SLOT_COUNT],
    /// Each customer's tags, one bit per tag number (see [`OVERFLOW`]).
    tags: Vec<u64>,
    /// Every tag name a customer carries or carried, by number.
    tag_names: Vec<Box<str>>,
    tag_numbers: HashMap<Box<str>, usize>,
}

/// Tags as bits, for one filter of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TagBits {
    pub bits: u64,
    /// Some of the tags share [`OVERFLOW`]: a customer with that bit set must be checked.
    pub shared: bool,
}

fn bit(number: usize) -> u64 {
    if number < 63 {
        1 << number
    } else {
        OVERFLOW
    }
}

impl Columns {
    pub fn with_capacity(capacity: usize) -> Columns {
        Columns {
            by_slot: Slot::ALL.map(|slot| match slot.kind() {
                Kind::Text => Column::Text(Vec::with_capacity(capacity)),
                Kind::Number => Column::Number(Vec::with_capacity(capacity)),
            }),
            tags: Vec::with_capacity(capacity),
            tag_names: Vec::new(),
            tag_numbers: HashMap::new(),
        }
    }

    pub fn push(&mut self, e: &Entry) {
        for slot in Slot::ALL {
            match &mut self.by_slot[slot as usize] {
                Column::Text(column) => column.push(text_value_hash(e, slot)),
                Column::Number(column) => column.push(e.number(slot).unwrap_or(f64::NAN)),
            }
        }
        let tags = self.tag_bits_of(e);
        self.tags.push(tags);
    }

    pub fn set(&mut self, position: usize, e: &Entry) {
        for slot in Slot::ALL {
            match &mut self.by_slot[slot as usize] {
                Column::Text(column) => column[position] = text_value_hash(e, slot),
                Column::Number(column) => column[position] = e.number(slot).unwrap_or(f64::NAN),
            }
        }
        self.tags[position] = self.tag_bits_of(e);
    }

    /// Drops the customer at `position`; those after it move down one place.
    pub fn remove(&mut self, position: usize) {
        for column in &mut self.by_slot {
            match column {
                Column::Text(column) => drop(column.remove(position)),
                Column::Number(column) => drop(column.remove(position)),
            }
        }
        self.tags.remove(position);
    }

    /// The customer's tags as bits, numbering the names met for the first time.
    fn tag_bits_of(&mut self, e: &Entry) -> u64 {
        let mut bits = 0;
        for name in e.tag_names() {
            let number = match self.tag_numbers.get(name.as_ref()) {
                Some(&number) => number,
                None => {
                    let number = self.tag_names.len();
                    self.tag_names.push(name.as_ref().into());
                    self.tag_numbers.insert(name.as_ref().into(), number);
                    number
                }
            };
            bits |= bit(number);
        }
        bits
    }

    /// The bits of every name in `names`; None if some name is on no customer.
    pub fn all_of(&self, names: &[String]) -> Option<TagBits> {
        let mut all = TagBits {
            bits: 0,
            shared: false,
        };
        for name in names {
            let number = *self.tag_numbers.get(name.as_str())?;
            all.bits |= bit(number);
            all.shared |= number >= 63;
        }
        Some(all)
    }

    /// The customer's tags as bits.
    pub fn tags(&self, position: u32) -> u64 {
        self.tags[position as usize]
    }

    /// The [`text_hash`] of the customer's value in the text field `slot` ([`NO_TEXT`] for
    /// none). Values that differ in it differ; values that share it must be compared.
    pub fn hash(&self, slot: Slot, position: u32) -> u32 {
        match &self.by_slot[slot as usize] {
            Column::Text(column) => column[position as usize],
            Column::Number(_) => NO_TEXT,
        }
    }

    /// The numeric field `slot`'s value, as [`Entry::number`] reads it.
    pub fn number(&self, slot: Slot, position: u32) -> Option<f64> {
        match &self.by_slot[slot as usize] {
            Column::Number(column) => Some(column[position as usize]).filter(|x| !x.is_nan()),
            Column::Text(_) => None,
        }
    }
}

fn text_value_hash(e: &Entry, slot: Slot) -> u32 {
    e.text(slot).map_or(NO_TEXT, |text| text_hash(&text))
}

/// A 32-bit hash of a text value, never [`NO_TEXT`].
pub(super) fn text_hash(text: &str) -> u32 {
    let hash = (hash64(text.as_bytes()) >> 32) as u32;
    if hash == NO_TEXT {
        1
    } else {
        hash
    }
}

/// Eight bytes at a time, then SplitMix64's mixing: fast for the short texts customers hold.
fn hash64(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut hash = bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        hash = (hash ^ word).wrapping_mul(K).rotate_left(31);
    }
    let rest = chunks.remainder();
    let mut last = [0u8; 8];
    last[..rest.len()].copy_from_slice(rest);
    mix(hash ^ u64::from_le_bytes(last))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn columns_follow_what_the_entries_hold() {
        let entry = |v: serde_json::Value| Entry::from_map(v.as_object().unwrap()).unwrap();
        let a = entry(json!({"id": 1, "email": "a@example.com", "lastSeen": "5",
                             "tags": [{"name": "vip"}, {"name": "Lead"}]}));
        let b = entry(json!({"id": 2, "email": null, "phone": 12345}));
        let mut columns = Columns::with_capacity(2);
        columns.push(&a);
        columns.push(&b);
        assert_eq!(columns.hash(Slot::Email, 0), text_hash("a@example.com"));
        assert_ne!(columns.hash(Slot::Email, 0), text_hash("b@example.com"));
        assert_eq!(columns.hash(Slot::Email, 1), NO_TEXT);
        assert_eq!(columns.hash(Slot::Phone, 1), text_hash("12345"));
        assert_eq!(columns.number(Slot::LastSeen, 0), Some(5.0));
        assert_eq!(columns.number(Slot::LastSeen, 1), None);
        assert_eq!(columns.number(Slot::Id, 1), Some(2.0));
        let names = |list: &[&str]| list.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let both = columns.all_of(&names(&["vip", "Lead"])).unwrap();
        assert_eq!(
            both,
            TagBits {
                bits: 0b11,
                shared: false
            }
        );
        assert_eq!((columns.tags(0), columns.tags(1)), (0b11, 0));
        assert_eq!(columns.all_of(&names(&["vip", "never"])), None);
        columns.set(0, &b);
        assert_eq!(columns.tags(0), 0);
        assert_eq!(columns.number(Slot::LastSeen, 0), None);
        columns.set(0, &a);
        columns.remove(0);
        assert_eq!(columns.hash(Slot::Phone, 0), text_hash("12345"));
        assert_eq!(columns.tags(0), 0);
    }

    #[test]
    fn tags_past_the_63rd_share_one_bit() {
        let mut columns = Columns::with_capacity(1);
        let tags: Vec<serde_json::Value> =
            (0..70).map(|i| json!({"name": format!("t{i}")})).collect();
        let e = Entry::from_map(json!({"id": 1, "tags": tags}).as_object().unwrap()).unwrap();
        columns.push(&e);
        assert_eq!(columns.tags(0), u64::MAX);
        let late = columns
            .all_of(&["t65".to_string(), "t1".to_string()])
            .unwrap();
        assert_eq!(
            late,
            TagBits {
                bits: OVERFLOW | 0b10,
                shared: true
            }
        );
    }

    #[test]
    fn hashes_differ_for_near_texts_and_never_mark_absence() {
        let texts = [
            "",
            "a",
            "b",
            "ab",
            "ba",
            "abcdefgh",
            "abcdefgi",
            "abcdefghi",
        ];
        let hashes: std::collections::HashSet<u32> = texts.iter().map(|t| text_hash(t)).collect();
        assert_eq!(hashes.len(), texts.len());
        assert!(!hashes.contains(&NO_TEXT));
    }
}
