//! The limiter: its budget (its own, or a shared one with a budget of its own to fall back
//! on), the wait for a slot, the reports of 429s, and the events.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::account::AccountId;
use super::backend::{Backend, StoreError};
use super::events::{Event, EventSink};
use super::gcra::{check_per_minute, Op, Reply, State, Tuning};
use super::permit::{Permit, Source};
use super::store::Store;
use crate::core::error::{Error, Result};
use crate::core::runtime;

/// The share of the rate a process keeps for itself while its shared backend is unreachable.
/// The others of the fleet are cut off too and cannot be counted, so each takes a quarter of
/// the last shared rate: up to four processes together stay within the limit, and a larger
/// fleet overshoots by less than it would at full rate (its 429s then lower the rate as usual).
pub const FALLBACK_SHARE: f64 = 0.25;

/// How often an unreachable backend is tried again (in the background: no request waits on it).
pub const PROBE_INTERVAL: Duration = Duration::from_secs(5);

/// A rate change is reported when the rate has moved this share of the configured rate since
/// the last report (and always on a decrease caused here, and on getting back to the
/// configured rate): a climb back makes a few lines, not one per request.
const REPORT_STEP: f64 = 0.1;

/// A waiter far from its slot asks again at least this often, even with a horizon of zero.
const MIN_RECHECK_US: i64 = 100_000;

/// Everything a limiter is built from.
#[derive(Clone, Debug)]
pub struct RateLimitConfig {
    /// The configured rate: requests per minute, all of the budget's users together.
    pub per_minute: f64,
    pub backend: Backend,
    pub account: AccountId,
    pub tuning: Tuning,
}

impl RateLimitConfig {
    pub fn new(per_minute: f64, backend: Backend, account: AccountId) -> Self {
        RateLimitConfig {
            per_minute,
            backend,
            account,
            tuning: Tuning::default(),
        }
    }
}

/// A rate limiter: pace every request with [`acquire`](Self::acquire); report a 429 with
/// [`throttled`](Self::throttled). Share it between tasks and runtimes (it is `Sync`; its
/// Redis connection lives on the process's multi-thread runtime). A forked child should build
/// its own, as the client's pool does; one carried over still works there (it notices the
/// fork and connects again).
pub struct RateLimiter {
    inner: Arc<Inner>,
}

struct Inner {
    configured: f64,
    tuning: Tuning,
    backend: Backend,
    sink: Option<Arc<dyn EventSink>>,
    /// The local backend's budget, or the fallback budget of a shared backend's current outage.
    own: Mutex<Pacer>,
    shared: Option<Shared>,
    /// The rate in force (f64 bits) as of the shared backend's last answer.
    shared_rate: AtomicU64,
    /// The rate last reported in an event (or in force when the limiter was made).
    reported: Mutex<f64>,
}

/// A budget kept in this process, on tokio's clock (so tests can pause time).
struct Pacer {
    state: State,
    ceiling: f64,
    origin: Instant,
}

impl Pacer {
    fn new(ceiling: f64) -> Self {
        Pacer {
            state: State::default(),
            ceiling,
            origin: Instant::now(),
        }
    }

    fn now_us(&self) -> i64 {
        i64::try_from(self.origin.elapsed().as_micros()).unwrap_or(i64::MAX)
    }

    fn apply(&mut self, op: Op, tuning: &Tuning) -> Reply {
        let now = self.now_us();
        self.state.apply(op, now, self.ceiling, tuning)
    }

    fn rate(&self, tuning: &Tuning) -> f64 {
        self.state.rate(self.now_us(), self.ceiling, tuning)
    }
}

struct Shared {
    store: Store,
    link: Mutex<Link>,
}

struct Link {
    up: bool,
    /// Outages so far; fallback permits carry it, so a late 429 from one outage does not
    /// lower the fallback rate of the next.
    outage: u64,
    next_probe: Instant,
    probing: bool,
}

/// The budget a wait for a slot asks.
#[derive(Clone, Copy)]
enum Budget<'a> {
    Own,
    Shared(&'a Shared),
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every lock is held for a few instructions and never across an await; the data behind a
    // lock poisoned by a panic elsewhere is still consistent.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn sleep_us(wait: i64) {
    if wait > 0 {
        tokio::time::sleep(Duration::from_micros(wait as u64)).await;
    }
}

impl RateLimiter {
    /// Check `config` and build the limiter. Nothing is sent: a shared backend is first
    /// contacted by the first [`acquire`](Self::acquire).
    pub fn new(config: RateLimitConfig, events: Option<Arc<dyn EventSink>>) -> Result<Self> {
        check_per_minute(config.per_minute).map_err(|rule| {
            Error::Configuration(format!(
                "rate limit: per_minute must be {rule}, got {}",
                config.per_minute
            ))
        })?;
        config
            .tuning
            .check()
            .map_err(|why| Error::Configuration(format!("rate limit tuning: {why}")))?;
        let store = Store::open(&config.backend, &config.account)?;
        Ok(RateLimiter {
            inner: Arc::new(Inner {
                configured: config.per_minute,
                tuning: config.tuning,
                backend: config.backend,
                sink: events,
                own: Mutex::new(Pacer::new(config.per_minute)),
                shared: store.map(|store| Shared {
                    store,
                    link: Mutex::new(Link {
                        up: true,
                        outage: 0,
                        next_probe: Instant::now(),
                        probing: false,
                    }),
                }),
                shared_rate: AtomicU64::new(config.per_minute.to_bits()),
                reported: Mutex::new(config.per_minute),
            }),
        })
    }

    /// A limiter of its own at `per_minute` (checked by the caller), without events.
    pub fn per_minute(per_minute: f64) -> Self {
        let config = RateLimitConfig::new(per_minute, Backend::Local, AccountId::from_api_key(""));
        Self::new(config, None).expect("a local limiter at a checked rate")
    }

    /// Wait for this caller's slot. Slots are handed out in call order, one interval apart,
    /// across every user of the budget; a budget left idle starts again at once rather than
    /// letting a burst through. A decrease (this process's 429, or any other's through a
    /// shared budget) reaches callers already waiting: a slot further off than the horizon is
    /// confirmed when it comes within it, and one the decrease released is replaced by a slot
    /// at the lowered rate.
    pub async fn acquire(&self) -> Permit {
        let inner = &self.inner;
        if let Some(shared) = &inner.shared {
            if lock(&shared.link).up {
                match inner.wait_for_slot(Budget::Shared(shared)).await {
                    Ok(reply) => {
                        return Permit {
                            source: Source::Shared,
                            epoch: reply.epoch,
                            slot_us: reply.slot_us,
                        }
                    }
                    Err(error) => inner.lose(error),
                }
            } else {
                Inner::probe_if_due(&self.inner);
            }
        }
        let source = match &inner.shared {
            None => Source::Own,
            Some(shared) => Source::Fallback {
                outage: lock(&shared.link).outage,
            },
        };
        let reply = inner
            .wait_for_slot(Budget::Own)
            .await
            .expect("the limiter's own budget always answers");
        Permit {
            source,
            epoch: reply.epoch,
            slot_us: reply.slot_us,
        }
    }

    /// Report that the request paced by `permit` was throttled (429). The first 429 of the
    /// requests granted since the last decrease lowers the rate; the others of the same burst
    /// (granted before it) change nothing.
    pub async fn throttled(&self, permit: Permit) {
        let inner = &self.inner;
        match permit.source {
            Source::Own => inner.throttled_own(permit.epoch),
            Source::Fallback { outage } => {
                let current = inner.shared.as_ref().map(|shared| {
                    let link = lock(&shared.link);
                    !link.up && link.outage == outage
                });
                if current == Some(true) {
                    inner.throttled_own(permit.epoch);
                }
            }
            Source::Shared => {
                let Some(shared) = &inner.shared else { return };
                if !lock(&shared.link).up {
                    // Pacing alone already, at a fraction of the rate.
                    return;
                }
                let op = Op::Throttled {
                    epoch: permit.epoch,
                };
                match shared.store.run(op, inner.configured, &inner.tuning).await {
                    Ok(reply) => inner.observe_shared(reply.rate, reply.decreased),
                    Err(error) => inner.lose(error),
                }
            }
        }
    }

    /// The rate in force, in requests per minute: the configured rate unless HelpCrunch
    /// throttled requests lately, or a quarter of it while a shared backend is away. For a
    /// shared backend, as of its last answer.
    pub fn current_rate(&self) -> f64 {
        let inner = &self.inner;
        match &inner.shared {
            Some(shared) if lock(&shared.link).up => {
                f64::from_bits(inner.shared_rate.load(Ordering::Acquire))
            }
            _ => lock(&inner.own).rate(&inner.tuning),
        }
    }

    /// The rate it was configured with (requests per minute); the current rate never exceeds it.
    pub fn configured_rate(&self) -> f64 {
        self.inner.configured
    }

    pub fn backend(&self) -> &Backend {
        &self.inner.backend
    }
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("configured", &self.inner.configured)
            .field("current", &self.current_rate())
            .field("backend", &self.inner.backend)
            .finish()
    }
}

impl Inner {
    /// Ask `budget` once.
    async fn ask(&self, budget: Budget<'_>, op: Op) -> std::result::Result<Reply, StoreError> {
        match budget {
            Budget::Own => {
                let reply = lock(&self.own).apply(op, &self.tuning);
                self.observe(reply.rate, false);
                Ok(reply)
            }
            Budget::Shared(shared) => {
                let reply = shared.store.run(op, self.configured, &self.tuning).await?;
                self.observe_shared(reply.rate, false);
                Ok(reply)
            }
        }
    }

    /// Take a slot of `budget` and wait until it comes. A slot further off than the horizon is
    /// not final: sleep until it is within it (with a quarter of the horizon to spare, for the
    /// round trip), or for two horizons if that is sooner (the climb back may re-lay the queue
    /// earlier), then confirm it, which gives a new slot if it was released. Each turn sleeps
    /// at least a quarter of the horizon, and a slot only moves later by a decrease, so the
    /// turns are bounded.
    async fn wait_for_slot(&self, budget: Budget<'_>) -> std::result::Result<Reply, StoreError> {
        let horizon = self.tuning.horizon_us();
        let recheck = (2 * horizon).max(MIN_RECHECK_US);
        let mut reply = self.ask(budget, Op::Grant).await?;
        while reply.wait_us > horizon {
            sleep_us((reply.wait_us - horizon + horizon / 4).min(recheck)).await;
            let confirm = Op::Confirm {
                epoch: reply.epoch,
                slot: reply.slot_us,
            };
            reply = self.ask(budget, confirm).await?;
        }
        sleep_us(reply.wait_us).await;
        Ok(reply)
    }

    fn emit(&self, event: Event) {
        if let Some(sink) = &self.sink {
            sink.on_event(&event);
        }
    }

    fn observe_shared(&self, rate: f64, decreased_here: bool) {
        self.shared_rate.store(rate.to_bits(), Ordering::Release);
        self.observe(rate, decreased_here);
    }

    /// Report `rate` if it moved enough since the last report (see [`REPORT_STEP`]).
    fn observe(&self, rate: f64, decreased_here: bool) {
        let event = {
            let mut reported = lock(&self.reported);
            let moved = (rate - *reported).abs() >= self.configured * REPORT_STEP;
            let recovered = rate >= self.configured && *reported < self.configured;
            if !(decreased_here || moved || recovered) {
                return;
            }
            *reported = rate;
            Event::RateChanged {
                per_minute: rate,
                configured: self.configured,
                throttled: decreased_here,
            }
        };
        self.emit(event);
    }

    fn throttled_own(&self, epoch: u64) {
        let reply = lock(&self.own).apply(Op::Throttled { epoch }, &self.tuning);
        if reply.decreased {
            self.observe(reply.rate, true);
        }
    }

    /// The shared backend failed: pace alone from now on, and say so once per outage.
    fn lose(&self, error: StoreError) {
        let Some(shared) = &self.shared else { return };
        let fallback = {
            let mut link = lock(&shared.link);
            if !link.up {
                return;
            }
            link.up = false;
            link.outage += 1;
            link.next_probe = Instant::now() + PROBE_INTERVAL;
            link.probing = false;
            let last = f64::from_bits(self.shared_rate.load(Ordering::Acquire));
            let fallback = last * FALLBACK_SHARE;
            *lock(&self.own) = Pacer::new(fallback);
            *lock(&self.reported) = fallback;
            fallback
        };
        self.emit(Event::BackendLost {
            backend: self.backend.describe(),
            reason: error.0,
            fallback_per_minute: fallback,
        });
    }

    /// Start a probe of the unreachable backend if one is due, in the background on the
    /// process's multi-thread runtime: the request that noticed goes on at once.
    fn probe_if_due(this: &Arc<Inner>) {
        let Some(shared) = &this.shared else { return };
        {
            let mut link = lock(&shared.link);
            if link.up || link.probing || Instant::now() < link.next_probe {
                return;
            }
            link.probing = true;
        }
        let inner = Arc::clone(this);
        runtime::handle().spawn(async move {
            let Some(shared) = &inner.shared else { return };
            let result = shared
                .store
                .run(Op::Peek, inner.configured, &inner.tuning)
                .await;
            let back = {
                let mut link = lock(&shared.link);
                link.probing = false;
                match &result {
                    Ok(_) => {
                        link.up = true;
                        true
                    }
                    Err(_) => {
                        link.next_probe = Instant::now() + PROBE_INTERVAL;
                        false
                    }
                }
            };
            if let (true, Ok(reply)) = (back, result) {
                inner.emit(Event::BackendBack {
                    backend: inner.backend.describe(),
                });
                inner.observe_shared(reply.rate, false);
            }
        });
    }
}
