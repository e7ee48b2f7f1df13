//! The server's rate limit: a strict sliding-window admission check.
//!
//! It remembers when each admitted request arrived and admits a new one only while fewer
//! than `limit` arrived in the last `window`, so no window of that length, wherever it
//! starts, ever holds more than `limit` admitted requests. Stricter than a fixed window
//! (which allows twice the limit across a boundary), as a client must expect the real one
//! may be.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

pub(super) struct SlidingWindow {
    limit: usize,
    window: Duration,
    admitted: Mutex<VecDeque<Instant>>,
}

impl SlidingWindow {
    pub fn per_minute(limit: u32) -> Self {
        Self::new(limit, Duration::from_secs(60))
    }

    fn new(limit: u32, window: Duration) -> Self {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        SlidingWindow {
            limit,
            window,
            admitted: Mutex::new(VecDeque::with_capacity(limit.min(1 << 16))),
        }
    }

    /// Admits (and counts) a request arriving now, or refuses it (not counted).
    pub fn try_admit(&self) -> bool {
        let mut admitted = self.admitted.lock().unwrap_or_else(PoisonError::into_inner);
        // Read the clock under the lock so the queue stays in arrival order.
        let now = Instant::now();
        Self::admit(&mut admitted, self.limit, self.window, now)
    }

    fn admit(
        admitted: &mut VecDeque<Instant>,
        limit: usize,
        window: Duration,
        now: Instant,
    ) -> bool {
        while admitted
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) >= window)
        {
            admitted.pop_front();
        }
        if admitted.len() < limit {
            admitted.push_back(now);
            true
        } else {
            false
        }
    }

    #[cfg(test)]
    fn try_admit_at(&self, now: Instant) -> bool {
        let mut admitted = self.admitted.lock().unwrap();
        Self::admit(&mut admitted, self.limit, self.window, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_slides_per_request_not_per_period() {
        let window = SlidingWindow::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert!(window.try_admit_at(at(0)));
        assert!(window.try_admit_at(at(10)));
        assert!(window.try_admit_at(at(20)));
        assert!(!window.try_admit_at(at(30)));
        assert!(!window.try_admit_at(at(59)));
        // The request at 0 leaves the window at 60: one slot, not three.
        assert!(window.try_admit_at(at(60)));
        assert!(!window.try_admit_at(at(61)));
        assert!(window.try_admit_at(at(70)));
        assert!(window.try_admit_at(at(80)));
        assert!(!window.try_admit_at(at(80)));
        // Refusals did not count: after a quiet minute the whole budget is back.
        for s in [200, 200, 200] {
            assert!(window.try_admit_at(at(s)));
        }
        assert!(!window.try_admit_at(at(259)));
    }

    #[test]
    fn zero_admits_nothing() {
        let window = SlidingWindow::per_minute(0);
        assert!(!window.try_admit());
    }
}
