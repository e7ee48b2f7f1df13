//! What a limiter reports (its rate changing, a shared backend lost and back), and where to.

use std::fmt;

/// What a limiter reports. `Display` is the sentence a log line carries.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// The rate in force changed: lowered after a 429 (`throttled`, when this limiter's report
    /// lowered it), or another process's report, or climbing back.
    RateChanged {
        per_minute: f64,
        configured: f64,
        throttled: bool,
    },
    /// The shared backend stopped answering; this process paces itself alone at
    /// `fallback_per_minute` until it answers again.
    BackendLost {
        backend: String,
        reason: String,
        fallback_per_minute: f64,
    },
    /// The shared backend answers again; its budget is used from now on.
    BackendBack { backend: String },
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::RateChanged {
                per_minute,
                configured,
                throttled: true,
            } => write!(
                f,
                "HelpCrunch throttled a request (429): rate limit lowered to {per_minute:.1} \
                 requests a minute (configured {configured})"
            ),
            Event::RateChanged {
                per_minute,
                configured,
                throttled: false,
            } => write!(
                f,
                "rate limit now {per_minute:.1} requests a minute (configured {configured})"
            ),
            Event::BackendLost {
                backend,
                reason,
                fallback_per_minute,
            } => write!(
                f,
                "rate limit backend {backend} is unavailable ({reason}); this process paces \
                 itself alone at {fallback_per_minute:.1} requests a minute until it answers again"
            ),
            Event::BackendBack { backend } => write!(
                f,
                "rate limit backend {backend} answers again; sharing its budget"
            ),
        }
    }
}

/// Where a limiter's events go (the client turns them into log lines). Called on the task that
/// caused the event (a caller of `acquire` or `throttled`, or for [`Event::BackendBack`] the
/// background probe on a worker of the multi-thread runtime), never with a lock of the limiter
/// held; it should return quickly.
pub trait EventSink: Send + Sync {
    fn on_event(&self, event: &Event);
}

impl<F: Fn(&Event) + Send + Sync> EventSink for F {
    fn on_event(&self, event: &Event) {
        self(event)
    }
}
