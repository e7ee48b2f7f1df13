//! A smooth client-side rate limiter: requests leave evenly spaced, never in bursts, so a job
//! at HelpCrunch's limit neither gets 429s nor idles.

use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// Requests are spaced this much wider than the limit strictly needs (0.5 %), so the jitter
/// between when we send and when the server counts never puts one request too many into the
/// server's window. At 120/min that is 2.5 ms per request.
const SAFETY_MARGIN: f64 = 1.005;

#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    next_slot: Mutex<Option<Instant>>,
}

impl RateLimiter {
    /// `per_minute` requests a minute; must be positive and finite (checked by the config).
    pub fn per_minute(per_minute: f64) -> Self {
        RateLimiter {
            interval: Duration::from_secs_f64(60.0 / per_minute * SAFETY_MARGIN),
            next_slot: Mutex::new(None),
        }
    }

    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Wait for this caller's slot. Slots are handed out in call order, one `interval` apart;
    /// a limiter that has been idle starts again at once rather than letting a burst through.
    pub async fn acquire(&self) {
        let now = Instant::now();
        let slot = {
            // The lock is held for a few instructions only and never across an await; a poisoned
            // lock (a panic elsewhere) still holds a valid Instant.
            let mut next = self.next_slot.lock().unwrap_or_else(|e| e.into_inner());
            let slot = match *next {
                Some(at) if at > now => at,
                _ => now,
            };
            *next = Some(slot + self.interval);
            slot
        };
        if slot > now {
            tokio::time::sleep_until(slot).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn requests_are_evenly_spaced_without_a_burst() {
        let limiter = std::sync::Arc::new(RateLimiter::per_minute(600.0)); // one per ~100 ms
        let start = Instant::now();
        let mut handles = Vec::new();
        for _ in 0..10 {
            let l = limiter.clone();
            handles.push(tokio::spawn(async move {
                l.acquire().await;
                Instant::now()
            }));
        }
        let mut times: Vec<Duration> = Vec::new();
        for h in handles {
            times.push(h.await.unwrap() - start);
        }
        times.sort();
        let step = limiter.interval();
        assert!(step > Duration::from_millis(100) && step < Duration::from_millis(101));
        for (i, t) in times.iter().enumerate() {
            // tokio's timer has millisecond resolution: a slot is met within that.
            let due = step * i as u32;
            assert!(
                *t >= due && *t <= due + Duration::from_millis(1),
                "request {i}: {t:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_limiter_does_not_bank_a_burst() {
        let limiter = RateLimiter::per_minute(60.0);
        limiter.acquire().await;
        tokio::time::sleep(Duration::from_secs(30)).await;
        let before = Instant::now();
        limiter.acquire().await;
        assert_eq!(Instant::now(), before, "first after idle goes at once");
        limiter.acquire().await;
        let waited = Instant::now() - before;
        assert!(
            waited >= limiter.interval(),
            "the next waits its turn: {waited:?}"
        );
        assert!(waited <= limiter.interval() + Duration::from_millis(1));
    }
}
