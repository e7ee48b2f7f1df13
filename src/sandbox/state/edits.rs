//! The writes that change which customers an account holds or rewrite several at once:
//! create, rewrite (updates, the batch) and delete, with the rule that a `userId` is unique.
//! Each is one step under the table's write lock, so checks and changes cannot interleave.

use std::borrow::Cow;
use std::sync::Arc;

use super::super::columns::text_hash;
use super::super::entry::{serialize, Customer, Entry};
use super::super::fields::Slot;
use super::{with_id_first, write, Store, Table};

impl Table {
    /// Takes the customer at `position` out; those after it move down one place.
    fn remove(&mut self, position: usize) -> Arc<Entry> {
        self.version += 1;
        let old = self.entries.remove(position);
        self.columns.remove(position);
        let gone = position as u32;
        for order in &mut self.orders {
            order.retain(|&p| p != gone);
            for p in order.iter_mut() {
                if *p > gone {
                    *p -= 1;
                }
            }
        }
        old
    }

    /// Whether a customer other than those `skip` names has `user_id` as its `userId`. The
    /// column's hashes rule out almost everyone without reading their JSON.
    fn user_id_taken(&self, user_id: &str, skip: impl Fn(u32) -> bool) -> bool {
        let hash = text_hash(user_id);
        (0..self.entries.len() as u32).any(|p| {
            self.columns.hash(Slot::UserId, p) == hash
                && !skip(p)
                && self.entries[p as usize]
                    .text(Slot::UserId)
                    .is_some_and(|u| u == user_id)
        })
    }
}

/// A customer's `userId` as the uniqueness rule reads it: a non-empty string, else none.
fn user_id(e: &Entry) -> Option<Cow<'_, str>> {
    e.text(Slot::UserId).filter(|u| !u.is_empty())
}

/// Why a write was refused; nothing was changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::sandbox) enum WriteError {
    /// The `i`th customer of the write does not exist.
    NotFound(usize),
    /// The `i`th customer would repeat another customer's `userId`.
    UserIdTaken(usize),
    /// Creating: every id is taken.
    NoIdLeft,
}

/// One customer as a write found it and left it.
pub(in crate::sandbox) struct Written {
    pub before: Arc<Entry>,
    pub after: Arc<Entry>,
}

impl Store {
    /// Adds a customer under a fresh id. `fields` has been validated and has no `id`.
    pub fn create(&self, fields: &Customer) -> Result<Arc<Entry>, WriteError> {
        let rest = serialize(fields);
        let mut table = write(&self.table);
        let id = table.next_id.ok_or(WriteError::NoIdLeft)?;
        let entry = Entry::from_json(with_id_first(id, &rest)).expect("a fresh id is valid");
        if user_id(&entry).is_some_and(|u| table.user_id_taken(&u, |_| false)) {
            return Err(WriteError::UserIdTaken(0));
        }
        table.next_id = id.checked_add(1);
        let entry = Arc::new(entry);
        table.push(entry.clone());
        Ok(entry)
    }

    /// Replaces customer `ids[i]` with `change(i, its current state)` for every `i` at once,
    /// or, if one is missing or one would take a `userId` another customer keeps, changes
    /// nobody. `ids` are distinct; `change` keeps each id. Runs under the write lock: one
    /// customer's serialization per id.
    pub fn rewrite(
        &self,
        ids: &[u64],
        change: impl Fn(usize, &Entry) -> Customer,
    ) -> Result<Vec<Written>, WriteError> {
        let mut table = write(&self.table);
        let mut positions = Vec::with_capacity(ids.len());
        for (i, &id) in ids.iter().enumerate() {
            positions.push(table.position(id).ok_or(WriteError::NotFound(i))?);
        }
        let written: Vec<Written> = positions
            .iter()
            .enumerate()
            .map(|(i, &p)| {
                let before = table.entries[p].clone();
                let after = Entry::from_map(&change(i, &before)).expect("a change keeps the id");
                Written {
                    before,
                    after: Arc::new(after),
                }
            })
            .collect();
        for (i, w) in written.iter().enumerate() {
            let Some(new) = user_id(&w.after) else {
                continue;
            };
            if user_id(&w.before).as_deref() == Some(&*new) {
                continue; // kept, not taken: a loaded account may hold repeats already
            }
            let in_write = |p: u32| positions.contains(&(p as usize));
            let repeated_here = written
                .iter()
                .enumerate()
                .any(|(j, other)| j != i && user_id(&other.after).as_deref() == Some(&*new));
            if repeated_here || table.user_id_taken(&new, in_write) {
                return Err(WriteError::UserIdTaken(i));
            }
        }
        for (w, &p) in written.iter().zip(&positions) {
            table.replace(p, w.after.clone());
        }
        Ok(written)
    }

    /// Takes the customer out of the account. None: no such customer. Its id is never given
    /// to another.
    pub fn delete(&self, id: u64) -> Option<Arc<Entry>> {
        let mut table = write(&self.table);
        let position = table.position(id)?;
        Some(table.remove(position))
    }
}
