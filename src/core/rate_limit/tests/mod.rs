//! The limiter through its public API.
//!
//! - `local`: a budget of its own, on tokio's paused clock: spacing, no burst after idle,
//!   decrease on throttling (a burst counted once), climb back, events.
//!
//! `support` has the helpers.

mod local;
mod support;
