//! Customers in memory, and the account's tags.
//!
//! Each customer is an immutable [`Entry`] (its map and its JSON, serialized once per
//! change) behind an `Arc`: readers clone the `Arc` under a read lock and serialize nothing;
//! writers build the new entry outside any lock and swap it in only if the customer did not
//! change meanwhile (else they redo it on the newer version). Locks are held for a map
//! lookup or a pointer swap, never across an await.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use bytes::Bytes;
use serde_json::{Map, Value};

/// Colour HelpCrunch gives a new tag when the request names none.
pub(super) const DEFAULT_TAG_COLOR: &str = "#c377e0";

pub(super) type Customer = Map<String, Value>;

pub(super) struct Entry {
    pub map: Customer,
    pub json: Bytes,
}

impl Entry {
    fn new(map: Customer) -> Arc<Entry> {
        let json = Bytes::from(serde_json::to_vec(&map).expect("a JSON map serializes"));
        Arc::new(Entry { map, json })
    }
}

/// A tag as a request names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TagRequest {
    pub name: String,
    pub color: Option<String>,
}

pub(super) struct Store {
    customers: RwLock<BTreeMap<u64, Arc<Entry>>>,
    /// Account-wide tags: name (case sensitive) → colour.
    tags: RwLock<HashMap<String, String>>,
    next_id: AtomicU64,
}

impl Store {
    pub fn new(customers: Vec<Customer>) -> io::Result<Store> {
        let invalid = |msg: String| io::Error::new(io::ErrorKind::InvalidInput, msg);
        let mut max_id = 0;
        for c in &customers {
            match c.get("id") {
                None | Some(Value::Null) => {}
                Some(v) => {
                    max_id = max_id.max(v.as_u64().ok_or_else(|| {
                        invalid(format!(
                            "customer id must be a non-negative integer, got {v}"
                        ))
                    })?)
                }
            }
        }
        let mut next_id = max_id.saturating_add(1);
        let mut map = BTreeMap::new();
        let mut tags = HashMap::new();
        for mut c in customers {
            let id = match c.get("id").and_then(Value::as_u64) {
                Some(id) => id,
                None => {
                    let id = next_id;
                    next_id += 1;
                    c = with_id_first(id, c);
                    id
                }
            };
            for (name, color) in tag_pairs(&c) {
                tags.entry(name.to_owned())
                    .or_insert_with(|| color.to_owned());
            }
            if map.insert(id, Entry::new(c)).is_some() {
                return Err(invalid(format!("two customers have id {id}")));
            }
        }
        Ok(Store {
            customers: RwLock::new(map),
            tags: RwLock::new(tags),
            next_id: AtomicU64::new(next_id),
        })
    }

    pub fn get(&self, id: u64) -> Option<Arc<Entry>> {
        read(&self.customers).get(&id).cloned()
    }

    pub fn all(&self) -> Vec<Customer> {
        let entries: Vec<Arc<Entry>> = read(&self.customers).values().cloned().collect();
        entries.iter().map(|e| e.map.clone()).collect()
    }

    /// Every customer that `keep` accepts, in id order, for search to sort and page.
    pub fn select(&self, keep: impl Fn(&Customer) -> bool) -> Vec<Arc<Entry>> {
        read(&self.customers)
            .values()
            .filter(|e| keep(&e.map))
            .cloned()
            .collect()
    }

    /// One page in id order and the total, without touching the customers outside it.
    pub fn page_by_id(
        &self,
        offset: usize,
        limit: usize,
        descending: bool,
    ) -> (Vec<Arc<Entry>>, usize) {
        let customers = read(&self.customers);
        let total = customers.len();
        let page = if descending {
            customers
                .values()
                .rev()
                .skip(offset)
                .take(limit)
                .cloned()
                .collect()
        } else {
            customers
                .values()
                .skip(offset)
                .take(limit)
                .cloned()
                .collect()
        };
        (page, total)
    }

    /// Adds a customer under a fresh id. `fields` has been validated; a given `id` is ignored.
    pub fn create(&self, fields: Customer) -> Arc<Entry> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let entry = Entry::new(with_id_first(id, fields));
        write(&self.customers).insert(id, entry.clone());
        entry
    }

    /// The colour each tag gets: the account's if the name is known, else the request's
    /// (or the default), which becomes the account's.
    pub fn resolve_tags(&self, requested: &[TagRequest]) -> Vec<(String, String)> {
        let mut resolved: Vec<(String, String)> = Vec::with_capacity(requested.len());
        let mut unknown = Vec::new();
        {
            let tags = read(&self.tags);
            for t in requested {
                if resolved.iter().any(|(n, _)| *n == t.name) {
                    continue;
                }
                match tags.get(&t.name) {
                    Some(color) => resolved.push((t.name.clone(), color.clone())),
                    None => {
                        unknown.push(resolved.len());
                        resolved.push((t.name.clone(), String::new()));
                    }
                }
            }
        }
        if !unknown.is_empty() {
            let mut tags = write(&self.tags);
            for i in unknown {
                let name = &resolved[i].0;
                let requested_color = requested
                    .iter()
                    .find(|t| t.name == *name)
                    .and_then(|t| t.color.clone());
                // Another request may have created it since the read above: theirs stands.
                let color = tags
                    .entry(name.clone())
                    .or_insert_with(|| requested_color.unwrap_or_else(|| DEFAULT_TAG_COLOR.into()));
                resolved[i].1 = color.clone();
            }
        }
        resolved
    }

    /// Appends the tags the customer lacks. None: no such customer.
    pub fn add_tags(&self, id: u64, tags: &[(String, String)]) -> Option<Arc<Entry>> {
        self.update(id, |c| {
            let current = tag_names(c);
            let missing: Vec<_> = tags
                .iter()
                .filter(|(name, _)| !current.contains(&name.as_str()))
                .collect();
            if missing.is_empty() {
                return None;
            }
            let mut next = c.clone();
            let list = tags_mut(&mut next);
            for (name, color) in missing {
                let mut tag = Map::with_capacity(2);
                tag.insert("name".into(), Value::String(name.clone()));
                tag.insert("color".into(), Value::String(color.clone()));
                list.push(Value::Object(tag));
            }
            Some(next)
        })
    }

    /// Removes the named tags; names the customer lacks are ignored. None: no such customer.
    pub fn remove_tags(&self, id: u64, names: &[String]) -> Option<Arc<Entry>> {
        let named = |tag: &Value| {
            tag.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| names.iter().any(|x| x == n))
        };
        self.update(id, |c| {
            let has_any = c
                .get("tags")
                .and_then(Value::as_array)
                .is_some_and(|tags| tags.iter().any(named));
            if !has_any {
                return None;
            }
            let mut next = c.clone();
            tags_mut(&mut next).retain(|t| !named(t));
            Some(next)
        })
    }

    /// Applies `change` (None: nothing to change) as one atomic step of this customer's
    /// history, without holding a lock while it runs.
    fn update(
        &self,
        id: u64,
        change: impl Fn(&Customer) -> Option<Customer>,
    ) -> Option<Arc<Entry>> {
        loop {
            let current = self.get(id)?;
            let Some(changed) = change(&current.map) else {
                return Some(current);
            };
            let next = Entry::new(changed);
            let mut customers = write(&self.customers);
            let slot = customers.get_mut(&id)?;
            if Arc::ptr_eq(slot, &current) {
                *slot = next.clone();
                return Some(next);
            }
            // Someone changed this customer meanwhile: apply the change to their version.
        }
    }
}

/// `id` first, as HelpCrunch orders it, then the other fields in their order.
fn with_id_first(id: u64, fields: Customer) -> Customer {
    let mut c = Map::with_capacity(fields.len() + 1);
    c.insert("id".into(), Value::from(id));
    for (k, v) in fields {
        if k != "id" {
            c.insert(k, v);
        }
    }
    c
}

fn tag_pairs(c: &Customer) -> impl Iterator<Item = (&str, &str)> {
    c.get("tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| {
            let name = t.get("name")?.as_str()?;
            let color = t
                .get("color")
                .and_then(Value::as_str)
                .unwrap_or(DEFAULT_TAG_COLOR);
            Some((name, color))
        })
}

fn tag_names(c: &Customer) -> Vec<&str> {
    tag_pairs(c).map(|(name, _)| name).collect()
}

/// The customer's tag list, made an empty list first if it is missing or not a list.
fn tags_mut(c: &mut Customer) -> &mut Vec<Value> {
    let tags = c.entry("tags").or_insert(Value::Null);
    if !tags.is_array() {
        *tags = Value::Array(Vec::new());
    }
    match tags {
        Value::Array(list) => list,
        _ => unreachable!("just made an array"),
    }
}

// A panic elsewhere must not wedge the server: the data under these locks is always
// consistent (every change is a single insert or swap).
fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn customer(v: Value) -> Customer {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn ids_are_assigned_after_the_largest_and_duplicates_refused() {
        let store = Store::new(vec![
            customer(json!({"name": "a"})),
            customer(json!({"id": 7, "name": "b"})),
        ])
        .unwrap();
        let a = store.get(8).unwrap();
        assert_eq!(a.map.keys().collect::<Vec<_>>(), ["id", "name"]);
        assert_eq!(store.create(Map::new()).map["id"], 9);

        let dup = Store::new(vec![customer(json!({"id": 1})), customer(json!({"id": 1}))]);
        assert_eq!(dup.err().unwrap().kind(), io::ErrorKind::InvalidInput);
        let bad = Store::new(vec![customer(json!({"id": "1"}))]);
        assert_eq!(bad.err().unwrap().kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn known_tags_keep_their_colour_and_new_ones_take_the_given_or_default() {
        let store = Store::new(vec![customer(
            json!({"id": 1, "tags": [{"name": "vip", "color": "#ff0000"}]}),
        )])
        .unwrap();
        let req = |name: &str, color: Option<&str>| TagRequest {
            name: name.into(),
            color: color.map(Into::into),
        };
        let resolved = store.resolve_tags(&[
            req("vip", Some("#000000")),
            req("New", None),
            req("Blue", Some("#0000ff")),
            req("New", Some("#123456")),
        ]);
        let expect = [
            ("vip", "#ff0000"),
            ("New", DEFAULT_TAG_COLOR),
            ("Blue", "#0000ff"),
        ];
        let expect: Vec<_> = expect
            .iter()
            .map(|(n, c)| (n.to_string(), c.to_string()))
            .collect();
        assert_eq!(resolved, expect);
        // "Blue" is now the account's: a later colour does not change it.
        assert_eq!(
            store.resolve_tags(&[req("Blue", Some("#fff"))])[0].1,
            "#0000ff"
        );
    }

    #[test]
    fn unchanged_customers_are_not_rewritten() {
        let store = Store::new(vec![customer(json!({"id": 1, "tags": null}))]).unwrap();
        let before = store.get(1).unwrap();
        let after = store.remove_tags(1, &["x".into()]).unwrap();
        assert!(Arc::ptr_eq(&before, &after));
        let tagged = store.add_tags(1, &[("x".into(), "#fff".into())]).unwrap();
        assert_eq!(tagged.map["tags"], json!([{"name": "x", "color": "#fff"}]));
        let again = store.add_tags(1, &[("x".into(), "#000".into())]).unwrap();
        assert!(Arc::ptr_eq(&tagged, &again));
        assert!(store.add_tags(2, &[]).is_none());
    }
}
