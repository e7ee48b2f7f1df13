//! When to retry and how long to wait: exponential backoff with jitter, and the server's own
//! hints (`Retry-After` as seconds or an HTTP date, `retry-after-ms`, `X-RateLimit-Reset`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// First backoff, before jitter.
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(500);
/// Backoff never grows past this.
pub const MAX_BACKOFF: Duration = Duration::from_secs(8);
/// A server asking for a longer wait than this gets no retry: the error is raised at once, with
/// `retry_after` set, so a pipeline can decide for itself (sleep, reschedule, give up).
pub const MAX_SERVER_WAIT: Duration = Duration::from_secs(60);

/// HelpCrunch's answer past the account's rate limit: retried, and reported to the limiter.
pub const TOO_MANY_REQUESTS: u16 = 429;

/// Statuses worth another attempt: the request may succeed as sent if tried again.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 409 | TOO_MANY_REQUESTS) || status >= 500
}

/// The wait before attempt `retry + 1` (`retry` counts from 1): 0.5 s, 1 s, 2 s … capped at 8 s,
/// each shortened by up to a quarter at random so that many clients do not retry in lockstep.
pub fn backoff(retry: u32) -> Duration {
    let exp = INITIAL_BACKOFF.saturating_mul(1u32 << retry.saturating_sub(1).min(16));
    let capped = exp.min(MAX_BACKOFF);
    capped.mul_f64(1.0 - 0.25 * fastrand::f64())
}

/// What the server asked us to wait, from whichever hint it sent (first one that parses wins:
/// `retry-after-ms`, `Retry-After`, `X-RateLimit-Reset`). Negative or unparsable values are
/// ignored; a date in the past means "now" (zero).
pub fn server_wait<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a str)> + Clone,
    now: SystemTime,
) -> Option<Duration> {
    let find = |name: &str| {
        headers
            .clone()
            .into_iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    };
    if let Some(ms) = find("retry-after-ms").and_then(parse_non_negative) {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    if let Some(value) = find("retry-after") {
        if let Some(secs) = parse_non_negative(value) {
            return Some(Duration::from_secs_f64(secs));
        }
        if let Ok(when) = httpdate::parse_http_date(value) {
            return Some(when.duration_since(now).unwrap_or(Duration::ZERO));
        }
    }
    if let Some(reset) = find("x-ratelimit-reset").and_then(parse_non_negative) {
        // Servers send either seconds to wait or a UNIX time; no sane wait is over a billion
        // seconds, so a value that large is a moment in time.
        if reset >= 1e9 {
            let now_secs = now
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0);
            return Some(Duration::from_secs_f64((reset - now_secs).max(0.0)));
        }
        return Some(Duration::from_secs_f64(reset));
    }
    None
}

fn parse_non_negative(text: &str) -> Option<f64> {
    let value: f64 = text.parse().ok()?;
    // Cap absurd values (1e300) so Duration arithmetic cannot overflow; they are "too long" anyway.
    (value.is_finite() && value >= 0.0).then(|| value.min(1e12))
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    RetryAfter(Duration),
    /// Give up: out of attempts, not retryable, or the server's wait is past the cap.
    Stop,
}

/// Decide on a retry after attempt number `attempt` (from 1) of at most `max_retries + 1`.
/// `server_hint` is the wait the server asked for, if any.
pub fn decide(attempt: u32, max_retries: u32, server_hint: Option<Duration>) -> Decision {
    if attempt > max_retries {
        return Decision::Stop;
    }
    match server_hint {
        Some(wait) if wait > MAX_SERVER_WAIT => Decision::Stop,
        // "Retry-After: 0" (or a date in the past) from a server that just refused us would make
        // an immediate hammering retry; fall back to our own backoff.
        Some(wait) if !wait.is_zero() => Decision::RetryAfter(wait),
        _ => Decision::RetryAfter(backoff(attempt)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait(headers: &[(&str, &str)]) -> Option<Duration> {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        server_wait(headers.iter().copied(), now)
    }

    #[test]
    fn backoff_grows_exponentially_with_jitter_and_a_cap() {
        for _ in 0..200 {
            let first = backoff(1);
            assert!(first <= Duration::from_millis(500) && first >= Duration::from_millis(375));
            let second = backoff(2);
            assert!(second <= Duration::from_secs(1) && second >= Duration::from_millis(750));
            let late = backoff(30);
            assert!(late <= MAX_BACKOFF && late >= MAX_BACKOFF.mul_f64(0.75));
        }
    }

    #[test]
    fn retryable_statuses() {
        for s in [408, 409, 429, 500, 502, 503, 504, 599] {
            assert!(is_retryable_status(s), "{s}");
        }
        for s in [200, 301, 400, 401, 403, 404, 413, 422] {
            assert!(!is_retryable_status(s), "{s}");
        }
    }

    #[test]
    fn retry_after_seconds_dates_and_milliseconds() {
        assert_eq!(wait(&[("Retry-After", "3")]), Some(Duration::from_secs(3)));
        assert_eq!(
            wait(&[("retry-after", " 1.5 ")]),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            wait(&[("retry-after-ms", "250"), ("Retry-After", "9")]),
            Some(Duration::from_millis(250))
        );
        let in_ten = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(1_700_000_000 + 10));
        assert_eq!(
            wait(&[("Retry-After", &in_ten)]),
            Some(Duration::from_secs(10))
        );
        let past = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(1_000_000_000));
        assert_eq!(wait(&[("Retry-After", &past)]), Some(Duration::ZERO));
    }

    #[test]
    fn ratelimit_reset_as_delta_or_unix_time() {
        assert_eq!(
            wait(&[("X-RateLimit-Reset", "7")]),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            wait(&[("x-ratelimit-reset", "1700000020")]),
            Some(Duration::from_secs(20))
        );
    }

    #[test]
    fn garbage_hints_are_ignored() {
        for bad in ["-1", "abc", "", "NaN", "inf", "1,5"] {
            assert_eq!(wait(&[("Retry-After", bad)]), None, "{bad:?}");
        }
        assert_eq!(wait(&[]), None);
        // Huge but well-formed: kept, so the caller can see it is past the cap.
        assert!(wait(&[("Retry-After", "1e9")]).unwrap() > MAX_SERVER_WAIT);
    }

    #[test]
    fn decisions() {
        assert_eq!(decide(3, 2, None), Decision::Stop);
        assert_eq!(
            decide(1, 2, Some(Duration::from_secs(2))),
            Decision::RetryAfter(Duration::from_secs(2))
        );
        assert_eq!(decide(1, 2, Some(Duration::from_secs(61))), Decision::Stop);
        match decide(1, 2, Some(Duration::ZERO)) {
            Decision::RetryAfter(d) => assert!(d >= Duration::from_millis(375)),
            Decision::Stop => panic!("a zero hint should fall back to backoff"),
        }
    }
}
