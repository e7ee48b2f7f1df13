//! Helpers of the limiter's tests.

use std::sync::{Arc, Mutex};

use crate::core::rate_limit::{AccountId, Backend, Event, EventSink, RateLimitConfig, RateLimiter};

/// Collects a limiter's events.
#[derive(Clone, Default)]
pub struct Recorder(Arc<Mutex<Vec<Event>>>);

impl Recorder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn sink(&self) -> Arc<dyn EventSink> {
        let events = self.0.clone();
        Arc::new(move |event: &Event| events.lock().unwrap().push(event.clone()))
    }

    /// The events so far, emptying the record.
    pub fn take(&self) -> Vec<Event> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// A limiter at `per_minute` on `backend` for the account of `api_key`.
pub fn limiter(
    per_minute: f64,
    backend: Backend,
    api_key: &str,
    events: Option<Arc<dyn EventSink>>,
) -> RateLimiter {
    let config = RateLimitConfig::new(per_minute, backend, AccountId::from_api_key(api_key));
    RateLimiter::new(config, events).expect("a valid limiter")
}
