//! The limiter through its public API.
//!
//! - `local`: a budget of its own, on tokio's paused clock: spacing, no burst after idle,
//!   decrease on throttling (a burst counted once), climb back, events.
//! - `shared`: what every shared backend must do, run by `redis` and `file`: a fleet of
//!   limiters (standing for processes) reaches the rate without exceeding it, one alone
//!   reaches it too, accounts are separate, throttling is shared and a burst counts once.
//! - `redis`: through a real `redis-server` (one per test, on a free port): the key never
//!   reaches the server (`KEYS *`, `MONITOR`), the Lua script matches `gcra.rs`, outages
//!   (refused, killed and restarted, frozen) fall back once and rejoin, passwords stay hidden,
//!   TLS, blocking and async callers, a forked child.
//! - `file`: through a file: the key never in it, a missing directory, a foreign file, a lock
//!   held forever.
//!
//! `support` has the helpers: events recorded, the Redis server, the sliding-window check.

mod file;
mod local;
mod redis;
mod shared;
mod support;
