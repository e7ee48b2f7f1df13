//! The request log: the most recent requests, plus counters over all of them.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use hyper::Method;

/// One request as the sandbox answered it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestRecord {
    pub method: String,
    /// Without the query string.
    pub path: String,
    /// 0 when the connection was dropped instead of answered.
    pub status: u16,
}

/// Kept internally instead of `RequestRecord`: a standard `Method` clones without allocating.
struct Entry {
    method: Method,
    path: Box<str>,
    status: u16,
}

/// Statuses are counted in a flat array; anything past it (there is nothing past 999) shares
/// the last slot.
const STATUS_SLOTS: usize = 1000;

pub(super) struct RequestLog {
    capacity: usize,
    entries: Mutex<VecDeque<Entry>>,
    total: AtomicU64,
    by_status: Box<[AtomicU64]>,
}

impl RequestLog {
    pub fn new(capacity: usize) -> Self {
        RequestLog {
            capacity,
            // Grows as needed: most sandboxes see far fewer requests than the capacity.
            entries: Mutex::new(VecDeque::with_capacity(capacity.min(1024))),
            total: AtomicU64::new(0),
            by_status: (0..STATUS_SLOTS).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    pub fn record(&self, method: &Method, path: &str, status: u16) {
        self.total.fetch_add(1, Ordering::Relaxed);
        self.by_status[usize::from(status).min(STATUS_SLOTS - 1)].fetch_add(1, Ordering::Relaxed);
        if self.capacity == 0 {
            return;
        }
        // Built before locking, so the lock covers only the queue operations.
        let entry = Entry {
            method: method.clone(),
            path: path.into(),
            status,
        };
        let evicted = {
            let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
            let evicted = if entries.len() >= self.capacity {
                entries.pop_front()
            } else {
                None
            };
            entries.push_back(entry);
            evicted
        };
        drop(evicted); // freed outside the lock
    }

    pub fn records(&self) -> Vec<RequestRecord> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .iter()
            .map(|e| RequestRecord {
                method: e.method.as_str().to_owned(),
                path: e.path.to_string(),
                status: e.status,
            })
            .collect()
    }

    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    pub fn status_count(&self, status: u16) -> u64 {
        self.by_status[usize::from(status).min(STATUS_SLOTS - 1)].load(Ordering::Relaxed)
    }

    pub fn clear(&self) {
        let old = {
            let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
            std::mem::take(&mut *entries)
        };
        drop(old);
        self.total.store(0, Ordering::Relaxed);
        for slot in self.by_status.iter() {
            slot.store(0, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_most_recent_and_counts_all() {
        let log = RequestLog::new(3);
        for i in 0..5u16 {
            log.record(&Method::GET, &format!("/v1/customers/{i}"), 200 + i);
        }
        log.record(&Method::DELETE, "/v1/x", 0);
        let paths: Vec<_> = log.records().into_iter().map(|r| r.path).collect();
        assert_eq!(paths, ["/v1/customers/3", "/v1/customers/4", "/v1/x"]);
        assert_eq!(log.records()[2].method, "DELETE");
        assert_eq!(log.total(), 6);
        assert_eq!(log.status_count(0), 1);
        assert_eq!(log.status_count(204), 1);
        log.clear();
        assert_eq!(
            (log.total(), log.records().len(), log.status_count(0)),
            (0, 0, 0)
        );
    }

    #[test]
    fn zero_capacity_only_counts() {
        let log = RequestLog::new(0);
        log.record(&Method::GET, "/", 200);
        assert_eq!((log.total(), log.records().len()), (1, 0));
    }
}
