//! Injected faults: a queue consumed, in order, by the requests they match.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hyper::Method;

/// What an injected fault does to the request that draws it.
///
/// `Status`, `NotJson` and `DropConnection` stand in front of the API: the request neither
/// reaches the customers nor counts against the rate limit. `Latency`, `Truncated` and
/// `DropAfterProcessing` let the API handle the request (changes included) first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer `status` (100..=999, else 500). `body: None` sends HelpCrunch's JSON error body
    /// for it (nothing for a status below 400); `Some` sends those bytes as they are, with
    /// `content_type` if given (none otherwise). `retry_after` becomes a `Retry-After`
    /// header; `headers` are added as given (invalid names or values are skipped).
    Status {
        status: u16,
        retry_after: Option<String>,
        body: Option<Vec<u8>>,
        content_type: Option<String>,
        headers: Vec<(String, String)>,
    },
    /// Wait this long (without blocking other requests), then answer normally.
    Latency(Duration),
    /// Close the connection without answering, before the API sees the request.
    DropConnection,
    /// Handle the request, then close the connection without answering: the client cannot
    /// tell whether it took effect.
    DropAfterProcessing,
    /// 200 with `Content-Type: application/json` and a body that is not JSON.
    NotJson,
    /// Handle the request, send the headers with the full Content-Length and half the body,
    /// then close the connection.
    Truncated,
}

impl Fault {
    /// `Status` with HelpCrunch's JSON error body and no extra headers.
    pub fn status(status: u16) -> Fault {
        Fault::Status {
            status,
            retry_after: None,
            body: None,
            content_type: None,
            headers: Vec::new(),
        }
    }

    /// `Status` with HelpCrunch's JSON error body and a `Retry-After` header.
    pub fn status_retry_after(status: u16, retry_after: impl Into<String>) -> Fault {
        Fault::Status {
            status,
            retry_after: Some(retry_after.into()),
            body: None,
            content_type: None,
            headers: Vec::new(),
        }
    }
}

/// Which requests a fault applies to; `None` fields match anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultMatch {
    /// `GET`, `PUT`, … (any case).
    pub method: Option<String>,
    /// Compared with the request path, `/v1` included: `/v1/customers/542335/tags`.
    pub path_prefix: Option<String>,
}

impl FaultMatch {
    fn accepts(&self, method: &Method, path: &str) -> bool {
        self.method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method.as_str()))
            && self
                .path_prefix
                .as_deref()
                .is_none_or(|p| path.starts_with(p))
    }
}

struct Pending {
    fault: Arc<Fault>,
    remaining: u32,
    matcher: FaultMatch,
}

#[derive(Default)]
pub(super) struct FaultQueue {
    /// Entries in `queue`, read without the lock so a fault-free server never takes it.
    len: AtomicUsize,
    queue: Mutex<VecDeque<Pending>>,
}

impl FaultQueue {
    pub fn push(&self, fault: Fault, times: u32, matcher: FaultMatch) {
        if times == 0 {
            return;
        }
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        queue.push_back(Pending {
            fault: Arc::new(fault),
            remaining: times,
            matcher,
        });
        self.len.store(queue.len(), Ordering::Release);
    }

    /// The fault for this request, if one is due: the first queued entry that matches.
    pub fn take(&self, method: &Method, path: &str) -> Option<Arc<Fault>> {
        if self.len.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let index = queue.iter().position(|p| p.matcher.accepts(method, path))?;
        let entry = &mut queue[index];
        entry.remaining -= 1;
        let fault = entry.fault.clone();
        if entry.remaining == 0 {
            queue.remove(index);
            self.len.store(queue.len(), Ordering::Release);
        }
        Some(fault)
    }

    pub fn pending(&self) -> u64 {
        let queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        queue.iter().map(|p| u64::from(p.remaining)).sum()
    }

    pub fn clear(&self) {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        queue.clear();
        self.len.store(0, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_served_in_order_and_counted_down() {
        let q = FaultQueue::default();
        q.push(Fault::NotJson, 2, FaultMatch::default());
        q.push(Fault::DropConnection, 1, FaultMatch::default());
        q.push(Fault::Truncated, 0, FaultMatch::default());
        assert_eq!(q.pending(), 3);
        let next = || q.take(&Method::GET, "/v1/customers").map(|f| (*f).clone());
        assert_eq!(next(), Some(Fault::NotJson));
        assert_eq!(next(), Some(Fault::NotJson));
        assert_eq!(next(), Some(Fault::DropConnection));
        assert_eq!(next(), None);
        assert_eq!(q.pending(), 0);
    }

    #[test]
    fn a_matcher_lets_other_requests_pass_to_later_faults() {
        let q = FaultQueue::default();
        let delete_tags = FaultMatch {
            method: Some("delete".into()),
            path_prefix: Some("/v1/customers/".into()),
        };
        q.push(Fault::status(503), 1, delete_tags);
        q.push(Fault::NotJson, 1, FaultMatch::default());
        let get = q.take(&Method::GET, "/v1/customers/1/tags");
        assert_eq!(get.as_deref(), Some(&Fault::NotJson));
        assert_eq!(q.take(&Method::GET, "/v1/customers/1"), None);
        assert_eq!(q.take(&Method::DELETE, "/v1/customer"), None);
        let delete = q.take(&Method::DELETE, "/v1/customers/1/tags");
        assert_eq!(delete.as_deref(), Some(&Fault::status(503)));
        q.push(Fault::NotJson, 5, FaultMatch::default());
        q.clear();
        assert_eq!(q.take(&Method::GET, "/"), None);
    }
}
