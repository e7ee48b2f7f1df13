//! Client-side rate limiting: requests leave evenly spaced, never in bursts, so a job at
//! HelpCrunch's limit neither gets 429s nor idles.
//!
//! One [`RateLimiter`] paces a client. Its budget lives in a [`Backend`]:
//! - `Local`: the limiter's own (one client, one process);
//! - `Redis`: one budget per account for every client in any process on any machine;
//! - `File`: one budget per account for the processes of one machine.
//!
//! Every backend applies the same rule to the same state (see `gcra`): GCRA slots one interval
//! apart, at a rate that drops when HelpCrunch throttles anyway and climbs back to the
//! configured rate. A drop reaches the requests already waiting for a slot, in every process
//! of a shared budget: a slot is final only a short horizon ahead. A shared budget is keyed by
//! [`AccountId`], a hash: the API key never leaves the process.
//!
//! A shared backend that fails (down, refusing, slow, a file that cannot be written) never
//! holds a request for longer than one bounded operation: the limiter reports
//! [`Event::BackendLost`] once, paces this process alone at [`FALLBACK_SHARE`] of the rate,
//! probes the backend every [`PROBE_INTERVAL`] in the background, and rejoins the shared
//! budget ([`Event::BackendBack`]) as soon as it answers.
//!
//! The limiter knows nothing of logging: what happens is reported to an [`EventSink`].

mod account;
mod backend;
mod events;
mod file_store;
mod gcra;
mod limiter;
mod permit;
mod redis_store;
mod store;
#[cfg(test)]
mod tests;

pub use account::{AccountId, ACCOUNT_HASH_PREFIX};
pub use backend::{Backend, RedisTarget, SETTING};
pub use events::{Event, EventSink};
pub use gcra::{check_per_minute, interval_us, Tuning, MIN_PER_MINUTE, SAFETY_MARGIN};
pub use limiter::{RateLimitConfig, RateLimiter, FALLBACK_SHARE, PROBE_INTERVAL};
pub use permit::Permit;
pub use redis_store::{KEY_PREFIX, OPERATION_TIMEOUT};
pub use store::STATE_RETENTION;
