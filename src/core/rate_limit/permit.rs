//! What the limiter grants for each request, and which budget it came from.

/// What [`RateLimiter::acquire`](super::RateLimiter::acquire) grants: hand it back to
/// [`RateLimiter::throttled`](super::RateLimiter::throttled) if the
/// request it paced was answered 429.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Permit {
    pub(super) source: Source,
    pub(super) epoch: u64,
    pub(super) slot_us: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Source {
    /// The limiter's own budget (the local backend).
    Own,
    /// The fallback budget of outage number `outage` of a shared backend.
    Fallback { outage: u64 },
    /// The shared budget.
    Shared,
}

impl Permit {
    /// Whether the slot came from the shared budget (rather than the limiter's own, or its
    /// fallback while the backend was away).
    pub fn is_shared(&self) -> bool {
        self.source == Source::Shared
    }

    /// The slot's time in microseconds on the clock of the budget that granted it (Redis's
    /// clock, the machine's wall clock for a file, the limiter's own clock otherwise): slots of
    /// one budget can be compared with each other, for diagnostics and tests.
    pub fn slot_us(&self) -> i64 {
        self.slot_us
    }
}
