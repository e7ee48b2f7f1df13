//! Customers in memory, and the account's tags.
//!
//! Each customer is an immutable [`Entry`] (its JSON, and where its searchable values lie in
//! it) behind an `Arc`, kept in id order. Two more lists hold the customers' positions ordered
//! by `firstSeen` and by `lastSeen`, so list and search page through a sorted account without
//! sorting it per request, and per-field columns (`columns.rs`) let search pass over the
//! account without reading most customers. Readers clone the `Arc`s they need under a read lock; writers build
//! the new entry outside any lock and swap it in only if the customer did not change meanwhile
//! (else they redo it on the newer version). Locks are held for a lookup, one scan or a swap,
//! never across an await.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use bytes::{BufMut, Bytes, BytesMut};
use serde_json::{Map, Value};

use super::columns::Columns;
use super::entry::{serialize, Customer, Entry, SortKey};
use super::fields::SortField;

mod edits;

pub(super) use edits::{WriteError, Written};

/// Colour HelpCrunch gives a new tag when the request names none.
pub(super) const DEFAULT_TAG_COLOR: &str = "#c377e0";

/// A tag as a request names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TagRequest {
    pub name: String,
    pub color: Option<String>,
}

/// The customers, as one consistent state.
pub(super) struct Table {
    /// In id order. A created customer takes an id past every other, so pushing keeps it so
    /// and a customer's position never changes.
    entries: Vec<Arc<Entry>>,
    /// What search reads first, by position in `entries`.
    columns: Columns,
    /// Positions in `entries` ordered by each [`SortField`]; equal values in id order.
    orders: [Vec<u32>; 2],
    /// None once the largest id is taken.
    next_id: Option<u64>,
    /// Changes with every change to any customer.
    version: u64,
}

/// The customers in the order a list or search asks for, by position in [`Table`].
pub(super) enum Order<'a> {
    /// By id: positions 0, 1, 2, …
    Ids(usize),
    Sorted(&'a [u32]),
}

impl Order<'_> {
    pub fn len(&self) -> usize {
        match self {
            Order::Ids(len) => *len,
            Order::Sorted(order) => order.len(),
        }
    }

    pub fn get(&self, i: usize) -> u32 {
        match self {
            // `Store` keeps at most u32::MAX customers.
            Order::Ids(_) => i as u32,
            Order::Sorted(order) => order[i],
        }
    }
}

impl Table {
    /// The customers, their columns and their orders.
    fn new(entries: Vec<Arc<Entry>>, next_id: Option<u64>) -> Table {
        let mut columns = Columns::with_capacity(entries.len());
        for e in &entries {
            columns.push(e);
        }
        let mut table = Table {
            entries,
            columns,
            orders: [Vec::new(), Vec::new()],
            next_id,
            version: 0,
        };
        table.orders = SortField::ALL.map(|field| {
            let keys: Vec<_> = (0..table.entries.len() as u32)
                .map(|p| table.sort_key(field, p))
                .collect();
            let mut order: Vec<u32> = (0..table.entries.len() as u32).collect();
            // Stable: equal values stay in id order.
            order.sort_by(|&a, &b| keys[a as usize].cmp(&keys[b as usize]));
            order
        });
        table
    }

    pub fn entry(&self, position: u32) -> &Arc<Entry> {
        &self.entries[position as usize]
    }

    pub fn columns(&self) -> &Columns {
        &self.columns
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    /// The customer's value of `field`, as list and search order customers.
    pub fn sort_key(&self, field: SortField, position: u32) -> SortKey<'_> {
        let slot = field.slot();
        match self.columns.number(slot, position) {
            Some(x) => SortKey::Number(x),
            None => self.entries[position as usize].sort_key(slot),
        }
    }

    /// Ascending; `sort` None: by id.
    pub fn order(&self, sort: Option<SortField>) -> Order<'_> {
        match sort {
            None => Order::Ids(self.entries.len()),
            Some(field) => Order::Sorted(&self.orders[field.index()]),
        }
    }

    fn position(&self, id: u64) -> Option<usize> {
        self.entries.binary_search_by_key(&id, |e| e.id).ok()
    }

    /// Puts `position` where it belongs in the order by `field`: after every customer with a
    /// smaller value, or an equal one and a smaller id.
    fn place(&mut self, field: SortField, position: u32) {
        let at = {
            let key = self.sort_key(field, position);
            self.orders[field.index()].partition_point(|&p| {
                self.sort_key(field, p).cmp(&key).then(p.cmp(&position)) == Ordering::Less
            })
        };
        self.orders[field.index()].insert(at, position);
    }

    fn push(&mut self, entry: Arc<Entry>) {
        self.version += 1;
        let position = self.entries.len() as u32;
        self.columns.push(&entry);
        self.entries.push(entry);
        for field in SortField::ALL {
            self.place(field, position);
        }
    }

    fn replace(&mut self, position: usize, entry: Arc<Entry>) {
        self.version += 1;
        let old = std::mem::replace(&mut self.entries[position], entry);
        self.columns.set(position, &self.entries[position]);
        for field in SortField::ALL {
            let slot = field.slot();
            let new_key = self.entries[position].sort_key(slot);
            if old.sort_key(slot).cmp(&new_key) != Ordering::Equal {
                self.orders[field.index()].retain(|&p| p as usize != position);
                self.place(field, position as u32);
            }
        }
    }
}

/// Collects the customers a store starts with, then assigns the missing ids and sorts.
#[derive(Default)]
pub(super) struct StoreBuilder {
    entries: Vec<Arc<Entry>>,
    /// Customers given without an id, serialized without one, in the order given: they get
    /// ids past the largest given id once every customer is in.
    without_id: Vec<Bytes>,
    tags: HashMap<String, String>,
}

impl StoreBuilder {
    pub fn add(&mut self, mut customer: Customer) -> Result<(), String> {
        for (name, color) in tag_pairs(&customer) {
            self.add_tag(name, color);
        }
        match customer.get("id") {
            None | Some(Value::Null) => {
                customer.shift_remove("id");
                self.without_id.push(serialize(&customer));
            }
            Some(_) => self.entries.push(Arc::new(Entry::from_map(&customer)?)),
        }
        Ok(())
    }

    /// A customer whose tags the account already knows (see [`StoreBuilder::add_tag`]).
    pub fn add_entry(&mut self, entry: Entry) {
        self.entries.push(Arc::new(entry));
    }

    /// The first colour given for a name is the account's.
    pub fn add_tag(&mut self, name: &str, color: &str) {
        if !self.tags.contains_key(name) {
            self.tags.insert(name.to_owned(), color.to_owned());
        }
    }

    pub fn finish(self) -> Result<Store, String> {
        let StoreBuilder {
            mut entries,
            without_id,
            tags,
        } = self;
        let mut next_id = match entries.iter().map(|e| e.id).max() {
            Some(largest) => largest.checked_add(1),
            None => Some(1),
        };
        for rest in without_id {
            let id = next_id.ok_or("no customer ids are left for customers without one")?;
            entries.push(Arc::new(Entry::from_json(with_id_first(id, &rest))?));
            next_id = id.checked_add(1);
        }
        if u32::try_from(entries.len()).is_err() {
            return Err("a sandbox holds at most 4,294,967,295 customers".into());
        }
        entries.sort_unstable_by_key(|e| e.id);
        if let Some(pair) = entries.windows(2).find(|pair| pair[0].id == pair[1].id) {
            return Err(format!("two customers have id {}", pair[0].id));
        }
        Ok(Store {
            table: RwLock::new(Table::new(entries, next_id)),
            tags: RwLock::new(tags),
        })
    }
}

pub(super) struct Store {
    table: RwLock<Table>,
    /// Account-wide tags: name (case sensitive) → colour.
    tags: RwLock<HashMap<String, String>>,
}

impl Store {
    pub fn new(customers: Vec<Customer>) -> Result<Store, String> {
        let mut builder = StoreBuilder::default();
        for c in customers {
            builder.add(c)?;
        }
        builder.finish()
    }

    /// The customers as they are now, for one list or search.
    pub fn read(&self) -> RwLockReadGuard<'_, Table> {
        read(&self.table)
    }

    pub fn get(&self, id: u64) -> Option<Arc<Entry>> {
        let table = self.read();
        table.position(id).map(|p| table.entries[p].clone())
    }

    pub fn len(&self) -> usize {
        self.read().entries.len()
    }

    pub fn all(&self) -> Vec<Customer> {
        let entries: Vec<Arc<Entry>> = self.read().entries.clone();
        entries.iter().map(|e| e.to_map()).collect()
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

    /// Appends the tags the customer lacks. None: no such customer; else the customer, and
    /// whether its tags changed.
    pub fn add_tags(&self, id: u64, tags: &[(String, String)]) -> Option<(Arc<Entry>, bool)> {
        let lacks = |e: &Entry| {
            tags.iter()
                .any(|(name, _)| !e.tag_names().any(|n| n == name.as_str()))
        };
        self.update(id, lacks, |c| {
            let current: Vec<String> = tag_pairs(c).map(|(n, _)| n.to_owned()).collect();
            let list = tags_mut(c);
            for (name, color) in tags {
                if !current.contains(name) {
                    let mut tag = Map::with_capacity(2);
                    tag.insert("name".into(), Value::String(name.clone()));
                    tag.insert("color".into(), Value::String(color.clone()));
                    list.push(Value::Object(tag));
                }
            }
        })
    }

    /// Removes the named tags; names the customer lacks are ignored. None: no such customer;
    /// else the customer, and whether its tags changed.
    pub fn remove_tags(&self, id: u64, names: &[String]) -> Option<(Arc<Entry>, bool)> {
        let has_any = |e: &Entry| e.tag_names().any(|n| names.iter().any(|x| *x == n));
        self.update(id, has_any, |c| {
            tags_mut(c).retain(|tag| {
                !tag.get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| names.iter().any(|x| x == n))
            });
        })
    }

    /// Applies `change` (if `needed`) as one atomic step of this customer's history, without
    /// holding a lock while it runs.
    fn update(
        &self,
        id: u64,
        needed: impl Fn(&Entry) -> bool,
        change: impl Fn(&mut Customer),
    ) -> Option<(Arc<Entry>, bool)> {
        loop {
            let current = self.get(id)?;
            if !needed(&current) {
                return Some((current, false));
            }
            let mut customer = current.to_map();
            change(&mut customer);
            let next = Arc::new(Entry::from_map(&customer).expect("a change keeps the id"));
            let mut table = write(&self.table);
            let position = table.position(id)?;
            if Arc::ptr_eq(&table.entries[position], &current) {
                table.replace(position, next.clone());
                return Some((next, true));
            }
            // Someone changed this customer meanwhile: apply the change to their version.
        }
    }
}

/// `{"id":N,…}`: `id` first, as HelpCrunch orders it, then the fields of `rest` (a JSON
/// object without `id`) in their order.
fn with_id_first(id: u64, rest: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(rest.len() + 28);
    out.put_slice(b"{\"id\":");
    out.put_slice(id.to_string().as_bytes());
    if rest != b"{}" {
        out.put_u8(b',');
        out.put_slice(&rest[1..]);
    } else {
        out.put_u8(b'}');
    }
    out.freeze()
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
// consistent (every change is one push or swap under one guard, with nothing in it to panic).
fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::super::columns::text_hash;
    use super::super::fields::Slot;
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
        assert_eq!(a.to_map().keys().collect::<Vec<_>>(), ["id", "name"]);
        assert_eq!(store.create(&Map::new()).unwrap().id, 9);
        let full = Store::new(vec![customer(json!({"id": u64::MAX}))]).unwrap();
        assert_eq!(
            full.create(&Map::new()).err(),
            Some(WriteError::NoIdLeft),
            "no id past the largest"
        );
        let no_room = Store::new(vec![customer(json!({"id": u64::MAX})), customer(json!({}))]);
        assert!(no_room.err().unwrap().contains("no customer ids are left"));
        let nulled = Store::new(vec![customer(json!({"name": "n", "id": null}))]).unwrap();
        assert_eq!(&nulled.get(1).unwrap().json[..], br#"{"id":1,"name":"n"}"#);

        let dup = Store::new(vec![customer(json!({"id": 1})), customer(json!({"id": 1}))]);
        assert_eq!(dup.err().unwrap(), "two customers have id 1");
        let bad = Store::new(vec![customer(json!({"id": "1"}))]);
        assert!(bad.err().unwrap().contains("non-negative integer"));
    }

    #[test]
    fn orders_keep_ties_in_id_order_through_creates_and_changes() {
        let store = Store::new(vec![
            customer(json!({"id": 5, "firstSeen": "20", "lastSeen": 1})),
            customer(json!({"id": 2, "firstSeen": 10, "lastSeen": 1})),
            customer(json!({"id": 9, "firstSeen": null})),
            customer(json!({"id": 7, "firstSeen": "20", "lastSeen": 3})),
        ])
        .unwrap();
        let ids = |field: SortField| -> Vec<u64> {
            let table = store.read();
            let order = table.order(Some(field));
            (0..order.len())
                .map(|i| table.entry(order.get(i)).id)
                .collect()
        };
        assert_eq!(ids(SortField::FirstSeen), [9, 2, 5, 7]);
        assert_eq!(ids(SortField::LastSeen), [9, 2, 5, 7]);
        store
            .create(&customer(json!({"firstSeen": 20, "lastSeen": 0})))
            .unwrap();
        assert_eq!(ids(SortField::FirstSeen), [9, 2, 5, 7, 10]);
        assert_eq!(ids(SortField::LastSeen), [9, 10, 2, 5, 7]);
        // A change that moves a sort value moves the customer; tagging moves nobody.
        store.update(
            2,
            |_| true,
            |c| {
                c.insert("lastSeen".into(), json!(2));
            },
        );
        store.add_tags(5, &[("t".into(), "#fff".into())]);
        assert_eq!(ids(SortField::LastSeen), [9, 10, 5, 2, 7]);
        assert_eq!(ids(SortField::FirstSeen), [9, 2, 5, 7, 10]);
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
        let (after, changed) = store.remove_tags(1, &["x".into()]).unwrap();
        assert!(Arc::ptr_eq(&before, &after) && !changed);
        let (tagged, changed) = store.add_tags(1, &[("x".into(), "#fff".into())]).unwrap();
        assert!(changed);
        assert_eq!(
            tagged.to_map()["tags"],
            json!([{"name": "x", "color": "#fff"}])
        );
        let (again, changed) = store.add_tags(1, &[("x".into(), "#000".into())]).unwrap();
        assert!(Arc::ptr_eq(&tagged, &again) && !changed);
        assert!(store.add_tags(2, &[]).is_none());
    }

    #[test]
    fn deletes_keep_orders_columns_and_ids_consistent() {
        let store = Store::new(vec![
            customer(json!({"id": 1, "lastSeen": 30, "email": "a@x"})),
            customer(json!({"id": 2, "lastSeen": 10, "email": "b@x"})),
            customer(json!({"id": 3, "lastSeen": 20, "email": "c@x"})),
        ])
        .unwrap();
        let version = store.read().version();
        assert_eq!(store.delete(2).unwrap().id, 2);
        assert!(store.delete(2).is_none() && store.get(2).is_none());
        let table = store.read();
        assert!(table.version() > version);
        let order = table.order(Some(SortField::LastSeen));
        let ids: Vec<u64> = (0..order.len())
            .map(|i| table.entry(order.get(i)).id)
            .collect();
        assert_eq!(ids, [3, 1]);
        assert_eq!(table.columns().hash(Slot::Email, 1), text_hash("c@x"));
        drop(table);
        assert_eq!(
            store.create(&Map::new()).unwrap().id,
            4,
            "ids are not reused"
        );
    }

    #[test]
    fn rewrites_are_all_or_nothing_and_keep_user_ids_unique() {
        let store = Store::new(vec![
            customer(json!({"id": 1, "userId": "u1"})),
            customer(json!({"id": 2, "userId": "u2"})),
            customer(json!({"id": 3, "userId": null})),
        ])
        .unwrap();
        let set = |u: &'static str| {
            move |_: usize, e: &Entry| {
                let mut c = e.to_map();
                c.insert("userId".into(), json!(u));
                c
            }
        };
        assert_eq!(
            store.rewrite(&[3], set("u1")).err(),
            Some(WriteError::UserIdTaken(0))
        );
        assert_eq!(
            store.rewrite(&[3, 9], set("new")).err(),
            Some(WriteError::NotFound(1))
        );
        assert_eq!(
            store.rewrite(&[1, 3], set("same")).err(),
            Some(WriteError::UserIdTaken(0)),
            "two customers of one write"
        );
        assert_eq!(store.get(3).unwrap().to_map()["userId"], json!(null));
        // Keeping one's own userId, and swapping them within one write, are fine.
        store.rewrite(&[1], set("u1")).unwrap();
        let swap = |i: usize, e: &Entry| {
            let mut c = e.to_map();
            c.insert("userId".into(), json!(["u2", "u1"][i]));
            c
        };
        let written = store.rewrite(&[1, 2], swap).unwrap();
        assert_eq!(written[0].after.to_map()["userId"], "u2");
        assert_eq!(written[0].before.to_map()["userId"], "u1");
        assert_eq!(
            store.create(&customer(json!({"userId": "u1"}))).err(),
            Some(WriteError::UserIdTaken(0))
        );
        assert!(store.create(&customer(json!({"userId": ""}))).is_ok());
        assert!(
            store.create(&customer(json!({"userId": ""}))).is_ok(),
            "empty is none"
        );
    }
}
