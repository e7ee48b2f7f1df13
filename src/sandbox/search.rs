//! Running a list or search [`Query`]: matching customers, walking them in the order asked
//! for, and cutting out the page.
//!
//! The store keeps the customers sorted by id, `firstSeen` and `lastSeen`, so a page costs
//! one pass over the account to match and count (or none, without filters), never a sort.

use std::cmp::Ordering;
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};

use super::entry::Entry;
use super::query::{Filter, Op, Query};
use super::rng::mix;
use super::state::Table;

impl Filter {
    fn matches(&self, e: &Entry) -> bool {
        // A missing or null value equals nothing: it is "not equal" to every value and
        // contains none.
        match self {
            Filter::Tags { op, names } => {
                let has_all = || names.iter().all(|n| e.tag_names().any(|t| t == n.as_str()));
                let contains = || {
                    names.iter().any(|n| {
                        let n = n.to_lowercase();
                        e.tag_names().any(|t| contains_folded(&t, &n))
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
            Filter::Text {
                slot,
                op,
                value,
                folded,
            } => match (op, e.text(*slot)) {
                (Op::Contains, actual) => actual.is_some_and(|a| contains_folded(&a, folded)),
                (Op::NotContains, actual) => !actual.is_some_and(|a| contains_folded(&a, folded)),
                (_, None) => *op == Op::Ne,
                (_, Some(actual)) => holds(*op, actual.as_ref().cmp(value.as_str())),
            },
            // `~` reads a number as written: `"lastSeen" ~ "1603"`.
            Filter::Number {
                slot,
                op,
                value,
                text,
            } => match op {
                Op::Contains => e.text(*slot).is_some_and(|a| contains_folded(&a, text)),
                Op::NotContains => !e.text(*slot).is_some_and(|a| contains_folded(&a, text)),
                _ => match e.number(*slot).and_then(|a| a.partial_cmp(value)) {
                    None => *op == Op::Ne,
                    Some(order) => holds(*op, order),
                },
            },
        }
    }
}

/// Whether a customer's value that compares `order` to the filter's satisfies `op` (one of
/// the comparisons, not `~` or `!~`).
fn holds(op: Op, order: Ordering) -> bool {
    match op {
        Op::Eq => order == Ordering::Equal,
        Op::Ne => order != Ordering::Equal,
        Op::Gt => order == Ordering::Greater,
        Op::Ge => order != Ordering::Less,
        Op::Lt => order == Ordering::Less,
        Op::Le => order != Ordering::Greater,
        Op::Contains | Op::NotContains => false,
    }
}

impl Query {
    fn matches(&self, e: &Entry) -> bool {
        if self.any {
            self.filters.iter().any(|f| f.matches(e))
        } else {
            self.filters.iter().all(|f| f.matches(e))
        }
    }

    /// The requested page and how many customers match in all. With `shuffle`, customers
    /// whose sort values are equal come in an order drawn from it (see `SandboxConfig`'s
    /// `unstable_ties`); without, in id order (reversed for `desc`).
    pub fn run(&self, table: &Table, shuffle: Option<u64>) -> (Vec<Arc<Entry>>, usize) {
        let order = table.order(self.sort);
        let len = order.len();
        let walk = |i: usize| order.get(if self.descending { len - 1 - i } else { i });
        let matched: Option<Vec<u32>> = (!self.filters.is_empty()).then(|| {
            (0..len)
                .map(walk)
                .filter(|&p| self.matches(table.entry(p)))
                .collect()
        });
        let total = matched.as_ref().map_or(len, Vec::len);
        let nth = |i: usize| matched.as_ref().map_or_else(|| walk(i), |m| m[i]);
        let start = self.offset.min(total);
        let end = self.offset.saturating_add(self.limit).min(total);
        let page: Vec<u32> = match (shuffle, self.sort) {
            (Some(seed), Some(field)) if start < end => {
                // Widen the page to whole runs of equal values, shuffle each run, cut the
                // page back out: a customer may move in from a neighbouring page, or out.
                let slot = field.slot();
                let key = |i: usize| table.entry(nth(i)).sort_key(slot);
                let same = |a: usize, b: usize| key(a).cmp(&key(b)) == Ordering::Equal;
                let (mut lo, mut hi) = (start, end);
                while lo > 0 && same(lo - 1, lo) {
                    lo -= 1;
                }
                while hi < total && same(hi - 1, hi) {
                    hi += 1;
                }
                let mut wide: Vec<u32> = (lo..hi).map(nth).collect();
                let mut run_start = 0;
                for i in 1..=wide.len() {
                    if i == wide.len() || !same(lo + i - 1, lo + i) {
                        wide[run_start..i].sort_by_key(|&p| mix(seed ^ table.entry(p).id));
                        run_start = i;
                    }
                }
                wide[start - lo..end - lo].to_vec()
            }
            _ => (start..end).map(nth).collect(),
        };
        let page = page.into_iter().map(|p| table.entry(p).clone()).collect();
        (page, total)
    }
}

/// `{"data":[…],"total":N}`, stitched from each customer's stored JSON.
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

/// Whether `hay` contains `needle` (already in lower case), ignoring case.
fn contains_folded(hay: &str, needle: &str) -> bool {
    if hay.is_ascii() && needle.is_ascii() {
        let (hay, needle) = (hay.as_bytes(), needle.as_bytes());
        needle.is_empty()
            || hay
                .windows(needle.len())
                .any(|w| w.eq_ignore_ascii_case(needle))
    } else {
        hay.to_lowercase().contains(needle)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::super::query::{parse_search, Caps};
    use super::*;

    #[test]
    fn filters_compare_numbers_and_strings_sensibly() {
        let c = Entry::from_map(
            json!({
                "id": 5, "name": "Jane", "email": "jane@GMAIL.com", "lastSeen": "1603885746",
                "location": {"city": "Kyiv"},
                "tags": [{"name": "vip", "color": "#f00"}, {"name": "Lead", "color": "#0f0"}],
            })
            .as_object()
            .unwrap(),
        )
        .unwrap();
        let hit = |filter: Value| {
            let body = json!({ "filter": [filter] });
            let q = parse_search(body.as_object().unwrap(), Caps::default()).unwrap();
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
        assert!(hit(f("customers.lastSeen", "~", json!("1603"))));
        assert!(hit(f("customers.city", "=", json!("Kyiv"))));
        assert!(!hit(f("customers.phone", "=", json!("1"))));
        assert!(hit(f("customers.phone", "!=", json!("1"))));
        assert!(!hit(f("customers.phone", "~", json!(""))));
        assert!(hit(f("customers.phone", "!~", json!("1"))));
        assert!(!hit(f("customers.phone", "<", json!("z"))));
        assert!(hit(f("customers.name", "<", json!("Jz"))));
        assert!(hit(f("customers.name", ">=", json!("Jane"))));
    }

    #[test]
    fn case_is_ignored_by_contains_only() {
        assert!(contains_folded("Jane@GMAIL.com", "gmail"));
        assert!(contains_folded("Олена", "ле"));
        assert!(contains_folded("ОЛЕНА", "ле"));
        assert!(contains_folded("", ""));
        assert!(!contains_folded("ab", "abc"));
    }
}
