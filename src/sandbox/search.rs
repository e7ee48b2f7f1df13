//! Running a list or search [`Query`]: matching customers, walking them in the order asked
//! for, and cutting out the page.
//!
//! The store keeps the customers sorted by id, `firstSeen` and `lastSeen`, so a page never
//! costs a sort. A search's first page costs one pass over the per-field columns to match and
//! count; its next pages, while no customer changes, are cut from the matches kept in
//! [`RecentMatches`]; a list costs no pass at all.

use std::cmp::Ordering;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::{BufMut, Bytes, BytesMut};

use super::columns::TagBits;
use super::entry::Entry;
use super::fields::Slot;
use super::query::{Filter, Query};
use super::rng::mix;
use super::state::Table;
use crate::core::query::Operator as Op;

/// A filter made ready for one request on one table: tag names become the columns' bits.
enum Ready<'q> {
    /// Carries every tag in `names`; `bits` None: some is on nobody.
    AllTags {
        names: &'q [String],
        bits: Option<TagBits>,
    },
    /// Equals one of `values` (by their `text_hash`).
    OneOf {
        slot: Slot,
        values: HashMap<u32, Vec<&'q str>>,
    },
    /// See [`Filter::Text`].
    Text {
        slot: Slot,
        op: Op,
        value: &'q str,
        folded: &'q str,
        hash: u32,
    },
    /// See [`Filter::Number`].
    Number { slot: Slot, op: Op, value: f64 },
}

impl<'q> Ready<'q> {
    fn new(filter: &'q Filter, table: &Table) -> Ready<'q> {
        let columns = table.columns();
        match filter {
            Filter::Tags { names } => Ready::AllTags {
                names,
                bits: columns.all_of(names),
            },
            Filter::Text {
                slot,
                op,
                value,
                folded,
                hash,
            } => Ready::Text {
                slot: *slot,
                op: *op,
                value,
                folded,
                hash: *hash,
            },
            Filter::Number { slot, op, value } => Ready::Number {
                slot: *slot,
                op: *op,
                value: *value,
            },
        }
    }

    /// Whether the customer at `position` passes. The columns answer first; the customer's
    /// JSON is read only where they cannot.
    fn matches(&self, table: &Table, position: u32) -> bool {
        let tags = || table.columns().tags(position);
        let e = || table.entry(position);
        match self {
            Ready::AllTags { names, bits } => bits.is_some_and(|b| {
                tags() & b.bits == b.bits
                    && (!b.shared
                        || names
                            .iter()
                            .all(|n| e().tag_names().any(|t| t == n.as_str())))
            }),
            Ready::OneOf { slot, values } => values
                .get(&table.columns().hash(*slot, position))
                .is_some_and(|candidates| {
                    e().text(*slot)
                        .is_some_and(|a| candidates.contains(&a.as_ref()))
                }),
            // A missing or null value equals nothing: it is "not equal" to every value and
            // contains none. Text takes `=`, `!=`, `~`, `!~` (the docs' table).
            Ready::Text {
                slot,
                op,
                value,
                folded,
                hash,
            } => {
                let equal = || {
                    table.columns().hash(*slot, position) == *hash
                        && e().text(*slot).is_some_and(|a| a == *value)
                };
                let contains = || e().text(*slot).is_some_and(|a| contains_folded(&a, folded));
                match op {
                    Op::Eq => equal(),
                    Op::Ne => !equal(),
                    Op::Contains => contains(),
                    _ => !contains(),
                }
            }
            // Numbers and dates take `=`, `!=` and the orderings.
            Ready::Number { slot, op, value } => match table
                .columns()
                .number(*slot, position)
                .and_then(|a| a.partial_cmp(value))
            {
                None => *op == Op::Ne,
                Some(order) => holds(*op, order),
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
    fn matcher<'q>(&'q self, table: &'q Table) -> impl Fn(u32) -> bool + 'q {
        let mut ready: Vec<Ready> = Vec::with_capacity(self.filters.len());
        // `=` on one text field, many times over, joined by OR: an IN list, as a lookup of
        // many emails at once sends. One hash lookup per customer answers it.
        let mut lists: Vec<(Slot, HashMap<u32, Vec<&str>>)> = Vec::new();
        for f in &self.filters {
            match f {
                Filter::Text {
                    slot,
                    op: Op::Eq,
                    value,
                    hash,
                    ..
                } if self.any => match lists.iter_mut().find(|(s, _)| s == slot) {
                    Some((_, values)) => values.entry(*hash).or_default().push(value),
                    None => lists.push((*slot, HashMap::from([(*hash, vec![value.as_str()])]))),
                },
                _ => ready.push(Ready::new(f, table)),
            }
        }
        ready.extend(
            lists
                .into_iter()
                .map(|(slot, values)| Ready::OneOf { slot, values }),
        );
        move |position| {
            if self.any {
                ready.iter().any(|f| f.matches(table, position))
            } else {
                ready.iter().all(|f| f.matches(table, position))
            }
        }
    }

    /// The requested page and how many customers match in all. With `shuffle`, customers
    /// whose sort values are equal come in an order drawn from it (see `SandboxConfig`'s
    /// `unstable_ties`); without, in id order (reversed for `desc`).
    pub fn run(
        &self,
        table: &Table,
        shuffle: Option<u64>,
        recent: &RecentMatches,
    ) -> (Vec<Arc<Entry>>, usize) {
        let order = table.order(self.sort);
        let len = order.len();
        let walk = |i: usize| order.get(if self.descending { len - 1 - i } else { i });
        let matched: Option<Arc<Vec<u32>>> = (!self.filters.is_empty()).then(|| {
            recent.get_or_insert(self, table.version(), || {
                let matches = self.matcher(table);
                (0..len).map(walk).filter(|&p| matches(p)).collect()
            })
        });
        let total = matched.as_ref().map_or(len, |m| m.len());
        let nth = |i: usize| matched.as_ref().map_or_else(|| walk(i), |m| m[i]);
        let start = self.offset.min(total);
        let end = self.offset.saturating_add(self.limit).min(total);
        let page: Vec<u32> = match (shuffle, self.sort) {
            (Some(seed), Some(field)) if start < end => {
                // Widen the page to whole runs of equal values, shuffle each run, cut the
                // page back out: a customer may move in from a neighbouring page, or out.
                let key = |i: usize| table.sort_key(field, nth(i));
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

/// The customers that recent searches matched, in their order, kept while the customers stay
/// as they were: paging through a search asks the same question once per page, and without
/// this each page would cost a pass over the whole account.
#[derive(Default)]
pub(super) struct RecentMatches {
    /// Most recent last.
    kept: Mutex<VecDeque<Kept>>,
}

struct Kept {
    question: String,
    /// The table's version it was answered on.
    version: u64,
    /// The positions matched, in the question's order.
    matched: Arc<Vec<u32>>,
}

/// Several scans may page at once (a bulk run's workers, a test beside a client).
const RECENT_MATCHES: usize = 8;

impl RecentMatches {
    fn get_or_insert(
        &self,
        query: &Query,
        version: u64,
        find: impl FnOnce() -> Vec<u32>,
    ) -> Arc<Vec<u32>> {
        // Every field of the question but the page; `{:?}` writes numbers exactly.
        let question = format!(
            "{:?} {} {:?} {}",
            query.filters, query.any, query.sort, query.descending
        );
        {
            let mut kept = lock(&self.kept);
            if let Some(i) = kept
                .iter()
                .position(|k| k.version == version && k.question == question)
            {
                let hit = kept.remove(i).expect("found just now");
                let matched = hit.matched.clone();
                kept.push_back(hit);
                return matched;
            }
        }
        // Searched outside the lock: other requests need not wait for this one.
        let matched = Arc::new(find());
        let mut kept = lock(&self.kept);
        kept.retain(|k| k.version == version);
        if kept.len() >= RECENT_MATCHES {
            kept.pop_front();
        }
        kept.push_back(Kept {
            question,
            version,
            matched: matched.clone(),
        });
        matched
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
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
    use super::super::state::Store;
    use super::*;

    #[test]
    fn filters_compare_numbers_and_strings_sensibly() {
        let c = json!({
            "id": 5, "name": "Jane", "email": "jane@GMAIL.com", "lastSeen": "1603885746",
            "location": {"city": "Kyiv"},
            "tags": [{"name": "vip", "color": "#f00"}, {"name": "Lead", "color": "#0f0"}],
        });
        let store = Store::new(vec![c.as_object().unwrap().clone()]).unwrap();
        let hit = |filter: Value| {
            let body = json!({ "filter": [filter] });
            let q = parse_search(body.as_object().unwrap(), Caps::default()).unwrap();
            let table = store.read();
            let matches = q.matcher(&table);
            matches(0)
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
        assert!(hit(f("customers.email", "~", json!("gmail"))));
        assert!(hit(f("customers.email", "!~", json!("yahoo"))));
        assert!(hit(f("customers.name", "=", json!("Jane"))));
        assert!(!hit(f("customers.name", "=", json!("jane"))));
        assert!(hit(f("customers.id", ">", json!(4))));
        assert!(hit(f("customers.id", "<=", json!("5"))));
        assert!(hit(f("customers.lastSeen", ">=", json!(1603885746))));
        assert!(hit(f("customers.lastSeen", "!=", json!(1))));
        assert!(!hit(f("customers.lastSeen", "<", json!(1603885746))));
        assert!(hit(f("customers.city", "=", json!("Kyiv"))));
        assert!(!hit(f("customers.phone", "=", json!("1"))));
        assert!(hit(f("customers.phone", "!=", json!("1"))));
        assert!(!hit(f("customers.phone", "~", json!(""))));
        assert!(hit(f("customers.phone", "!~", json!("1"))));
    }

    #[test]
    fn customers_whose_hashes_collide_are_told_apart_by_their_values() {
        use super::super::columns::text_hash;
        let mut seen = HashMap::new();
        let (a, b) = (0..)
            .map(|i| format!("user{i}@example.com"))
            .find_map(|text| {
                let twin = seen.insert(text_hash(&text), text.clone())?;
                Some((twin, text))
            })
            .unwrap();
        assert_eq!(text_hash(&a), text_hash(&b));
        let store = Store::new(vec![json!({"id": 1, "email": a})
            .as_object()
            .unwrap()
            .clone()])
        .unwrap();
        let hits = |body: Value| {
            let q = parse_search(body.as_object().unwrap(), Caps::default()).unwrap();
            let table = store.read();
            let matches = q.matcher(&table);
            matches(0)
        };
        let eq = |v: &str| json!({"field": "customers.email", "operator": "=", "value": v});
        let ne = |v: &str| json!({"field": "customers.email", "operator": "!=", "value": v});
        assert!(hits(json!({"filter": [eq(&a)]})));
        assert!(!hits(json!({"filter": [eq(&b)]})));
        assert!(hits(json!({"filter": [ne(&b)]})));
        assert!(!hits(
            json!({"filter": [eq(&b), eq("x@example.com")], "comparison": "OR"})
        ));
        assert!(hits(
            json!({"filter": [eq(&b), eq(&a)], "comparison": "OR"})
        ));
    }

    #[test]
    fn a_search_is_answered_again_from_its_matches_until_a_customer_changes() {
        let store = Store::new(
            (1..=5)
                .map(|id| {
                    json!({"id": id, "tags": [{"name": "t"}]})
                        .as_object()
                        .unwrap()
                        .clone()
                })
                .collect(),
        )
        .unwrap();
        let recent = RecentMatches::default();
        let query = |limit: usize, tag: &str| {
            let body = json!({"filter": [{"field": "customers.tagsData", "operator": "=",
                                          "value": tag}], "limit": limit});
            parse_search(body.as_object().unwrap(), Caps::default()).unwrap()
        };
        let ids = |page: Vec<Arc<Entry>>| page.iter().map(|e| e.id).collect::<Vec<_>>();
        let (first, total) = query(2, "t").run(&store.read(), None, &recent);
        assert_eq!((ids(first), total), (vec![1, 2], 5));
        let kept = lock(&recent.kept)[0].matched.clone();
        // Another page of the same search: the same matches, not searched again.
        query(3, "t").run(&store.read(), None, &recent);
        assert!(Arc::ptr_eq(&kept, &lock(&recent.kept)[0].matched));
        for i in 0..RECENT_MATCHES + 2 {
            query(1, &format!("other{i}")).run(&store.read(), None, &recent);
        }
        assert_eq!(lock(&recent.kept).len(), RECENT_MATCHES);
        // A change to any customer makes every kept answer stale.
        store.remove_tags(3, &["t".into()]);
        let (page, total) = query(5, "t").run(&store.read(), None, &recent);
        assert_eq!((ids(page), total), (vec![1, 2, 4, 5], 4));
        assert_eq!(lock(&recent.kept).len(), 1);
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
