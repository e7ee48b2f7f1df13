//! How far a plan has got, for whoever shows it: requests sent, and about how many the plan
//! takes in all (an estimate, revised as the planner learns the account and whenever a batch is
//! halved). The planner only stores numbers here and never calls out, so a reader on another
//! thread (the Python layer, between its checks for Ctrl-C) polls it without slowing the plan.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct PlanProgress {
    done: AtomicU64,
    /// Requests still expected, as of the last estimate, and the `done` it was made at.
    left: AtomicU64,
    at: AtomicU64,
}

impl PlanProgress {
    pub fn new() -> PlanProgress {
        PlanProgress::default()
    }

    /// Requests sent so far (answered, refused, or fetched ahead).
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    /// About how many requests the plan takes in all: never fewer than are done, nor fewer than
    /// one more while it runs.
    pub fn expected(&self) -> u64 {
        let done = self.done();
        let at = self.at.load(Ordering::Relaxed);
        let left = self.left.load(Ordering::Relaxed);
        done.max(at + left)
    }

    /// `n` more requests sent.
    pub(super) fn add(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }

    /// From here on, about `left` requests.
    pub(super) fn expect(&self, left: u64) {
        self.at.store(self.done(), Ordering::Relaxed);
        self.left.store(left, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estimate_is_revised_and_never_below_what_is_done() {
        let p = PlanProgress::new();
        p.expect(3);
        assert_eq!((p.done(), p.expected()), (0, 3));
        p.add(2);
        assert_eq!((p.done(), p.expected()), (2, 3));
        // Halved batches: more requests than first thought.
        p.expect(4);
        assert_eq!(p.expected(), 6);
        p.add(7);
        assert_eq!((p.done(), p.expected()), (9, 9));
    }
}
