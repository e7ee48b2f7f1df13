//! Lookups: the keys left to find, sent as `=` filters joined by `comparison: OR`, `batch`
//! filters a request. Pure bookkeeping; the planner sends them.
//!
//! HelpCrunch documents no limit on a search's filters. A 400 whose error names the filter
//! list (code `filter`) says the batch was too large: it is halved (down to one) and sent
//! again, and the smaller size is kept for the rest of the run, so the refusal is paid once.
//! A 400 naming one filter (`filter[3].value`) refuses that key alone: it is rejected with the
//! server's words and the others are sent again.

use std::collections::VecDeque;

use super::super::error::{Error, StatusError};
use super::super::query::{Filter, Match, Query};
use super::audience::{Key, MatchKind};

/// One filter to send: a key's value as searched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub key: Key,
    pub value: String,
}

/// What to do about a refused lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Too many filters: sent again in halves.
    Halved,
    /// These keys were refused, with the server's words; the others go again.
    Keys(Vec<(Key, String)>),
    /// Not something smaller batches can fix.
    Fatal,
}

#[derive(Debug)]
pub struct Lookups {
    kind: MatchKind,
    queue: VecDeque<Wanted>,
    batch: usize,
}

impl Lookups {
    pub fn new(kind: MatchKind, batch: u64) -> Lookups {
        Lookups {
            kind,
            queue: VecDeque::new(),
            batch: usize::try_from(batch).unwrap_or(usize::MAX).max(1),
        }
    }

    pub fn push(&mut self, key: Key, value: String) {
        self.queue.push_back(Wanted { key, value });
    }

    /// Filters waiting.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Filters per request in force.
    pub fn batch(&self) -> u64 {
        self.batch as u64
    }

    /// The next batch to send, taken off the queue (give it back with [`Lookups::refused`] if
    /// the server says no).
    pub fn next_batch(&mut self) -> Option<Vec<Wanted>> {
        if self.queue.is_empty() {
            return None;
        }
        let n = self.batch.min(self.queue.len());
        Some(self.queue.drain(..n).collect())
    }

    /// The search for one batch.
    pub fn query(&self, batch: &[Wanted]) -> Query {
        let filters = batch
            .iter()
            .map(|w| {
                let filter = match &w.key {
                    Key::Id(id) => Filter::new(self.kind.field(), "=", id.get()),
                    Key::Text(_) => Filter::new(self.kind.field(), "=", w.value.as_str()),
                };
                filter.expect("audience keys are checked values of their field")
            })
            .collect();
        Query::new(filters, Match::Any)
    }

    /// The server refused `batch` with `error`: decide, and requeue what goes again (in front,
    /// in order).
    pub fn refused(&mut self, batch: Vec<Wanted>, error: &Error) -> Refusal {
        let Error::Status(status) = error else {
            return Refusal::Fatal;
        };
        if status.status != 400 {
            return Refusal::Fatal;
        }
        let named = named_filters(status, batch.len());
        if !named.is_empty() {
            let mut refused = Vec::new();
            let mut again = Vec::new();
            for (i, wanted) in batch.into_iter().enumerate() {
                match named.iter().find(|(at, _)| *at == i) {
                    Some((_, message)) => refused.push((wanted.key, message.clone())),
                    None => again.push(wanted),
                }
            }
            // A key looked up under two spellings is refused once.
            refused.dedup_by(|a, b| a.0 == b.0);
            let refused_keys: Vec<Key> = refused.iter().map(|(k, _)| k.clone()).collect();
            again.retain(|w| !refused_keys.contains(&w.key));
            self.requeue(again);
            return Refusal::Keys(refused);
        }
        if names_the_filter_list(status) {
            if batch.len() > 1 {
                self.batch = (batch.len() / 2).max(1);
                self.requeue(batch);
                return Refusal::Halved;
            }
            // One filter, and still too many: nothing smaller to send.
            let message = status
                .detail_messages()
                .first()
                .map_or_else(|| "400 Bad Request".to_string(), |m| (*m).to_owned());
            return Refusal::Keys(
                batch
                    .into_iter()
                    .map(|w| (w.key, message.clone()))
                    .collect(),
            );
        }
        Refusal::Fatal
    }

    fn requeue(&mut self, batch: Vec<Wanted>) {
        for wanted in batch.into_iter().rev() {
            self.queue.push_front(wanted);
        }
    }
}

/// A 400 whose error names the whole filter list (`filter`): too many filters.
fn names_the_filter_list(status: &StatusError) -> bool {
    status.errors.iter().any(|e| e.code == "filter")
}

/// The filters a 400 names one by one (`filter[3]`, `filter[3].value`), with the messages,
/// within a batch of `len`.
fn named_filters(status: &StatusError, len: usize) -> Vec<(usize, String)> {
    status
        .errors
        .iter()
        .filter_map(|e| {
            let rest = e.code.strip_prefix("filter[")?;
            let (index, _) = rest.split_once(']')?;
            let index: usize = index.parse().ok()?;
            (index < len).then(|| (index, e.message.clone()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::ErrorDetail;
    use crate::core::CustomerId;

    fn refusal(codes: &[(&str, &str)]) -> Error {
        Error::Status(Box::new(StatusError {
            method: "POST",
            path: "/customers/search".into(),
            status: 400,
            errors: codes
                .iter()
                .map(|(code, message)| ErrorDetail {
                    code: (*code).into(),
                    message: (*message).into(),
                })
                .collect(),
            body: String::new(),
            headers: Vec::new(),
            attempts: 1,
            retry_after: None,
        }))
    }

    fn emails(n: usize) -> Lookups {
        let mut lookups = Lookups::new(MatchKind::Email, 80);
        for i in 0..n {
            let email = format!("c{i}@example.com");
            lookups.push(Key::Text(email.clone()), email);
        }
        lookups
    }

    const TOO_MANY: &[(&str, &str)] = &[
        ("invalid_request", "Invalid request"),
        (
            "filter",
            "This collection should contain 20 elements or less.",
        ),
    ];

    #[test]
    fn a_refused_batch_is_halved_until_it_passes_and_the_size_is_kept() {
        let mut lookups = emails(200);
        let first = lookups.next_batch().unwrap();
        assert_eq!(first.len(), 80);
        assert_eq!(lookups.refused(first, &refusal(TOO_MANY)), Refusal::Halved);
        assert_eq!(lookups.len(), 200);
        let second = lookups.next_batch().unwrap();
        assert_eq!(second.len(), 40);
        assert_eq!(
            second[0].value, "c0@example.com",
            "the same keys go again first"
        );
        assert_eq!(lookups.refused(second, &refusal(TOO_MANY)), Refusal::Halved);
        // 20 passes: every batch from now on is 20.
        let mut sizes = Vec::new();
        while let Some(batch) = lookups.next_batch() {
            sizes.push(batch.len());
        }
        assert_eq!(sizes, [20; 10]);
        assert_eq!(lookups.batch(), 20);
    }

    #[test]
    fn a_single_filter_refused_as_too_many_rejects_its_key() {
        let mut lookups = emails(1);
        let batch = lookups.next_batch().unwrap();
        match lookups.refused(batch, &refusal(TOO_MANY)) {
            Refusal::Keys(keys) => {
                assert_eq!(keys.len(), 1);
                assert_eq!(
                    keys[0].1,
                    "This collection should contain 20 elements or less."
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(lookups.is_empty());
    }

    #[test]
    fn a_refusal_naming_one_filter_rejects_that_key_and_resends_the_rest() {
        let mut lookups = Lookups::new(MatchKind::Email, 80);
        let key = Key::Text("ann@example.com".into());
        lookups.push(key.clone(), "Ann@Example.com".into());
        lookups.push(key.clone(), "ann@example.com".into());
        lookups.push(Key::Text("bo@example.com".into()), "bo@example.com".into());
        let batch = lookups.next_batch().unwrap();
        let answer = refusal(&[("filter[1].value", "This value is not a valid email.")]);
        assert_eq!(
            lookups.refused(batch, &answer),
            Refusal::Keys(vec![(key, "This value is not a valid email.".into())])
        );
        assert_eq!(
            lookups.len(),
            1,
            "both spellings of the refused key are dropped"
        );
        assert_eq!(lookups.batch(), 80);
    }

    #[test]
    fn other_errors_are_not_fixed_by_smaller_batches() {
        let mut lookups = emails(3);
        let batch = lookups.next_batch().unwrap();
        let not_about_filters = refusal(&[("limit", "This value should be positive.")]);
        assert_eq!(
            lookups.refused(batch.clone(), &not_about_filters),
            Refusal::Fatal
        );
        assert_eq!(lookups.refused(batch, &Error::Closed), Refusal::Fatal);
    }

    #[test]
    fn a_server_refusing_every_batch_is_done_with_in_a_bounded_number_of_requests() {
        // Whatever it names (the list, one filter, or nothing useful), each refusal halves the
        // batch or settles a key: the loop ends within log2(batch) + keys requests.
        for answer in [
            refusal(TOO_MANY),
            refusal(&[("filter[0].value", "no")]),
            refusal(&[("filter[99]", "out of the batch")]),
        ] {
            let mut lookups = emails(200);
            let mut requests = 0;
            while let Some(batch) = lookups.next_batch() {
                requests += 1;
                assert!(requests <= 7 + 200, "the lookups do not end");
                if lookups.refused(batch, &answer) == Refusal::Fatal {
                    break;
                }
            }
        }
    }

    #[test]
    fn queries_are_or_of_equals_on_the_matched_field() {
        let mut lookups = Lookups::new(MatchKind::Id, 10);
        for id in [7, 9] {
            let id = CustomerId::new(id).unwrap();
            lookups.push(Key::Id(id), id.to_string());
        }
        let batch = lookups.next_batch().unwrap();
        let body = String::from_utf8(lookups.query(&batch).search_body(0, 100)).unwrap();
        assert!(body.starts_with(
            r#"{"filter":[{"field":"customers.id","operator":"=","value":7},{"field":"customers.id","operator":"=","value":9}],"comparison":"OR""#
        ), "{body}");
    }
}
