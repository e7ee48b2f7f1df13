//! Webhook delivery: when a customer changes through the API, the sandbox POSTs HelpCrunch's
//! event body to a URL, signed as HelpCrunch signs it (`X-HelpCrunch-Signature`: the hex
//! HMAC-SHA1 of the raw body under the webhook's secret).
//!
//! Requests never wait for delivery: an event goes into a bounded queue that one task empties
//! in order, trying each event a few times with a short backoff before dropping it. Counters
//! (queued, delivered, failed, attempts) let a test wait for delivery instead of sleeping.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Map, Value};
use sha1::Sha1;
use tokio::sync::{mpsc, watch};

use super::entry::Entry;

/// Where to deliver events, and the secret to sign them with.
#[derive(Clone)]
pub struct WebhookConfig {
    /// An `http://` or `https://` URL.
    pub url: String,
    pub secret: String,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("WebhookConfig")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// Events waiting beyond this are dropped (and counted as failed) rather than held.
const QUEUE: usize = 10_000;
/// Tries per event: the first and three retries.
pub const MAX_ATTEMPTS: u32 = 4;
/// Before the first retry; doubled before each next one.
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
/// One attempt's limit, connecting included.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// The customer events HelpCrunch sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Event {
    New,
    Deleted,
    TagsChanged,
    EmailUpdated,
    Unsubscribed,
    Subscribed,
    Blocked,
    Unblocked,
}

impl Event {
    fn name(self) -> &'static str {
        match self {
            Event::New => "customer.new",
            Event::Deleted => "customer.deleted",
            Event::TagsChanged => "customer.tags_changed",
            Event::EmailUpdated => "customer.email_updated",
            Event::Unsubscribed => "customer.unsubscribed",
            Event::Subscribed => "customer.subscribed",
            Event::Blocked => "customer.blocked",
            Event::Unblocked => "customer.unblocked",
        }
    }

    /// What an update that turned `before` into `after` announces, in this order: the email,
    /// then the subscription, then blocking.
    pub fn of_update(before: &Entry, after: &Entry) -> Vec<Event> {
        let (before, after) = (before.to_map(), after.to_map());
        let flag = |c: &Map<String, Value>, key: &str| c.get(key) == Some(&Value::Bool(true));
        let mut events = Vec::new();
        if before.get("email") != after.get("email") {
            events.push(Event::EmailUpdated);
        }
        for (key, on, off) in [
            ("unsubscribed", Event::Unsubscribed, Event::Subscribed),
            ("blocked", Event::Blocked, Event::Unblocked),
        ] {
            match (flag(&before, key), flag(&after, key)) {
                (false, true) => events.push(on),
                (true, false) => events.push(off),
                _ => {}
            }
        }
        events
    }
}

/// Delivery counters. `queued` = `delivered` + `failed` + those still on their way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookStats {
    /// Events made (including those dropped because the queue was full).
    pub queued: u64,
    /// Answered 2xx.
    pub delivered: u64,
    /// Given up on: every attempt failed, the queue was full, or the sandbox stopped first.
    pub failed: u64,
    /// POSTs sent, retries included.
    pub attempts: u64,
}

#[derive(Default)]
struct Counters {
    stats: Mutex<WebhookStats>,
    settled: Condvar,
}

impl Counters {
    fn change(&self, f: impl FnOnce(&mut WebhookStats)) {
        let mut stats = self.stats.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut stats);
        if stats.queued == stats.delivered + stats.failed {
            self.settled.notify_all();
        }
    }
}

/// One event on its way: everything but the per-attempt fields.
struct Pending {
    event: Event,
    data: Value,
    created_at: u64,
    id: String,
}

/// The sending side, kept by the server. Without a URL it only counts nothing.
pub(super) struct Webhooks {
    queue: Option<mpsc::Sender<Pending>>,
    counters: Arc<Counters>,
    /// Event ids are `<prefix>-<n>`: unique across sandboxes and runs.
    prefix: u64,
    next: AtomicU64,
}

impl Webhooks {
    /// Starts the delivery task on `rt` when `config` is given. Checks the URL.
    pub fn start(
        config: Option<WebhookConfig>,
        rt: &tokio::runtime::Handle,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Webhooks, String> {
        let counters = Arc::new(Counters::default());
        let queue = match config {
            None => None,
            Some(config) => {
                let url = reqwest::Url::parse(&config.url)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https"))
                    .ok_or_else(|| {
                        format!("webhook_url must be an http(s) URL, got {:?}", config.url)
                    })?;
                let http = {
                    let _guard = rt.enter();
                    reqwest::Client::builder()
                        .timeout(ATTEMPT_TIMEOUT)
                        .no_proxy()
                        .build()
                        .map_err(|e| format!("cannot make the webhook client: {e}"))?
                };
                let (tx, rx) = mpsc::channel(QUEUE);
                let sender = Sender {
                    http,
                    url,
                    secret: config.secret.into_bytes(),
                    counters: counters.clone(),
                };
                rt.spawn(sender.run(rx, shutdown));
                Some(tx)
            }
        };
        Ok(Webhooks {
            queue,
            counters,
            prefix: fastrand::u64(..),
            next: AtomicU64::new(1),
        })
    }

    /// Queues `event` about the customer as `entry` holds it. Never waits.
    pub fn send(&self, event: Event, entry: &Entry) {
        let Some(queue) = &self.queue else {
            return;
        };
        let customer = entry.to_map();
        let mut data = Map::new();
        // The docs' eventData: the customer without its tags (and the rest of its profile).
        for key in [
            "id",
            "name",
            "email",
            "userId",
            "unsubscribed",
            "customData",
        ] {
            data.insert(
                key.into(),
                customer.get(key).cloned().unwrap_or(Value::Null),
            );
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let pending = Pending {
            event,
            data: Value::Object(data),
            created_at: unix_now(),
            id: format!("{:016x}-{n}", self.prefix),
        };
        self.counters.change(|s| s.queued += 1);
        if queue.try_send(pending).is_err() {
            self.counters.change(|s| s.failed += 1);
        }
    }

    pub fn stats(&self) -> WebhookStats {
        *self
            .counters
            .stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until every queued event is delivered or given up on, or `timeout` passes.
    /// The stats either way; settled when `queued == delivered + failed`.
    pub fn wait_settled(&self, timeout: Duration) -> WebhookStats {
        let deadline = Instant::now().checked_add(timeout);
        let mut stats = self
            .counters
            .stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        loop {
            let left = deadline.map_or(Duration::MAX, |d| {
                d.saturating_duration_since(Instant::now())
            });
            if stats.queued == stats.delivered + stats.failed || left.is_zero() {
                return *stats;
            }
            stats = self
                .counters
                .settled
                .wait_timeout(stats, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The body of one attempt (`attempts`: the attempts before it), as sent.
fn body(pending: &Pending, attempts: u32, now: u64) -> Vec<u8> {
    let value = json!({
        "event": pending.event.name(),
        "eventData": pending.data,
        "attempts": attempts,
        "lastAttemptAt": now,
        "createdAt": pending.created_at,
        "id": pending.id,
    });
    serde_json::to_vec(&value).expect("a Value serializes")
}

/// Lowercase hex HMAC-SHA1 of `body` under `secret`.
pub(super) fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(secret).expect("HMAC takes any key");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

struct Sender {
    http: reqwest::Client,
    url: reqwest::Url,
    secret: Vec<u8>,
    counters: Arc<Counters>,
}

impl Sender {
    async fn run(self, mut queue: mpsc::Receiver<Pending>, mut shutdown: watch::Receiver<bool>) {
        loop {
            let pending = tokio::select! {
                biased;
                _ = shutdown.wait_for(|stop| *stop) => break,
                next = queue.recv() => match next {
                    Some(pending) => pending,
                    None => return,
                },
            };
            let delivered = tokio::select! {
                biased;
                _ = shutdown.wait_for(|stop| *stop) => {
                    self.counters.change(|s| s.failed += 1);
                    break;
                }
                delivered = self.deliver(&pending) => delivered,
            };
            self.counters.change(|s| {
                if delivered {
                    s.delivered += 1;
                } else {
                    s.failed += 1;
                }
            });
        }
        // Stopped: whatever is still queued is given up on, so waiters are released.
        queue.close();
        while queue.try_recv().is_ok() {
            self.counters.change(|s| s.failed += 1);
        }
    }

    /// Up to [`MAX_ATTEMPTS`] POSTs; true once one is answered 2xx.
    async fn deliver(&self, pending: &Pending) -> bool {
        let mut backoff = FIRST_BACKOFF;
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
            let body = body(pending, attempt, unix_now());
            let signature = signature(&self.secret, &body);
            self.counters.change(|s| s.attempts += 1);
            let sent = self
                .http
                .post(self.url.clone())
                .header("Content-Type", "application/json")
                .header("X-HelpCrunch-Signature", signature)
                .body(body)
                .send()
                .await;
            if let Ok(response) = sent {
                let ok = response.status().is_success();
                // Read the answer so the connection can be reused.
                let _ = response.bytes().await;
                if ok {
                    return true;
                }
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hex_hmac_sha1() {
        // RFC 2202, test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
    }

    #[test]
    fn updates_announce_email_subscription_and_blocking_in_order() {
        let entry = |v: Value| Entry::from_map(v.as_object().unwrap()).unwrap();
        let before =
            entry(json!({"id": 1, "email": "a@x", "unsubscribed": true, "blocked": false}));
        let after = entry(json!({"id": 1, "email": "b@x", "unsubscribed": null, "blocked": true}));
        assert_eq!(
            Event::of_update(&before, &after),
            [Event::EmailUpdated, Event::Subscribed, Event::Blocked]
        );
        assert_eq!(Event::of_update(&after, &after), []);
    }

    #[test]
    fn bodies_have_helpcrunchs_fields_in_order_and_no_secret_in_debug() {
        let pending = Pending {
            event: Event::TagsChanged,
            data: json!({"id": 1}),
            created_at: 7,
            id: "e-1".into(),
        };
        let body: Value = serde_json::from_slice(&body(&pending, 2, 9)).unwrap();
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "event",
                "eventData",
                "attempts",
                "lastAttemptAt",
                "createdAt",
                "id"
            ]
        );
        assert_eq!(body["event"], "customer.tags_changed");
        assert_eq!(
            (body["attempts"].as_u64(), body["createdAt"].as_u64()),
            (Some(2), Some(7))
        );
        let config = WebhookConfig {
            url: "http://127.0.0.1:1/".into(),
            secret: "s3cr3t-value".into(),
        };
        assert!(!format!("{config:?}").contains("s3cr3t"));
    }
}
