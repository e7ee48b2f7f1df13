//! What every shared backend must do, written once and run against Redis (`redis`) and a
//! file (`file`). Limiters stand for processes: each has a connection (or file handle) of its
//! own and nothing else in common. Checks are on the slots the budget granted, not on when
//! tasks woke up, so a slow machine cannot fail them.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;

use super::support::{assert_never_faster_than, limiter, reached_rate, Recorder};
use crate::core::rate_limit::{
    AccountId, Backend, Event, Permit, RateLimitConfig, RateLimiter, Tuning,
};

/// Fast enough to keep the tests short, slow enough that a budget's slots are reserved long
/// before they come: 20 a second.
pub const RATE: f64 = 1200.0;

/// `count` acquires at once from each limiter; every permit, in no particular order.
pub async fn acquire_all(limiters: &[Arc<RateLimiter>], count: usize) -> Vec<Permit> {
    let calls = limiters.iter().flat_map(|limiter| {
        (0..count).map(move |_| {
            let limiter = limiter.clone();
            async move { limiter.acquire().await }
        })
    });
    join_all(calls).await
}

fn fleet(backend: &Backend, api_key: &str, size: usize) -> Vec<Arc<RateLimiter>> {
    (0..size)
        .map(|_| Arc::new(limiter(RATE, backend.clone(), api_key, None)))
        .collect()
}

fn slots(permits: &[Permit]) -> Vec<i64> {
    assert!(permits.iter().all(Permit::is_shared), "{permits:?}");
    permits.iter().map(Permit::slot_us).collect()
}

/// Four limiters of one account together reach the rate and never exceed it.
pub async fn a_fleet_reaches_the_rate_without_exceeding_it(backend: Backend) {
    let limiters = fleet(&backend, "hc-fleet-key", 4);
    let slots = slots(&acquire_all(&limiters, 25).await);
    assert_eq!(slots.len(), 100);
    assert_never_faster_than(&slots, RATE);
    let reached = reached_rate(&slots);
    assert!(
        reached >= 0.97 * RATE,
        "the fleet reached {reached:.1} of {RATE} a minute"
    );
}

/// One limiter alone reaches the same rate: nothing is split in fixed shares.
pub async fn one_alone_reaches_the_whole_rate(backend: Backend) {
    let limiters = fleet(&backend, "hc-alone-key", 1);
    let slots = slots(&acquire_all(&limiters, 40).await);
    assert_never_faster_than(&slots, RATE);
    let reached = reached_rate(&slots);
    assert!(
        reached >= 0.97 * RATE,
        "one limiter reached {reached:.1} of {RATE} a minute"
    );
}

/// Two accounts at once each get their whole rate: their budgets are separate.
pub async fn accounts_have_separate_budgets(backend: Backend) {
    let first = fleet(&backend, "hc-first-account-key", 2);
    let second = fleet(&backend, "hc-second-account-key", 2);
    let (a, b) = tokio::join!(acquire_all(&first, 20), acquire_all(&second, 20));
    for permits in [&a, &b] {
        let slots = slots(permits);
        assert_never_faster_than(&slots, RATE);
        let reached = reached_rate(&slots);
        // Sharing one budget, each would get about half.
        assert!(
            reached >= 0.97 * RATE,
            "an account reached {reached:.1} of {RATE} a minute"
        );
    }
}

/// A 429 reported by one limiter lowers the rate of all; a burst of them (granted before the
/// decrease) counts once; the rate then climbs back to the configured rate, never above.
pub async fn throttling_is_shared_and_a_burst_counts_once(backend: Backend) {
    let tuning = Tuning {
        recovery: Duration::from_secs(6),
        ..Tuning::default()
    };
    let events: Vec<Recorder> = (0..2).map(|_| Recorder::new()).collect();
    let limiters: Vec<Arc<RateLimiter>> = events
        .iter()
        .map(|recorder| {
            let mut config =
                RateLimitConfig::new(RATE, backend.clone(), AccountId::from_api_key("hc-429-key"));
            config.tuning = tuning;
            Arc::new(RateLimiter::new(config, Some(recorder.sink())).unwrap())
        })
        .collect();

    // Six requests in flight at once, three from each, all answered 429.
    let permits = acquire_all(&limiters, 3).await;
    for (i, permit) in permits.iter().enumerate() {
        limiters[i / 3].throttled(*permit).await;
    }
    // Lowered once: not below one decrease, and (read a moment later, while it already
    // climbs back) still well under the configured rate.
    let lowered = RATE * tuning.decrease_factor;
    let well_under = RATE * 0.8;
    let rates: Vec<f64> = limiters.iter().map(|l| l.current_rate()).collect();
    for rate in &rates {
        assert!(*rate >= lowered && *rate < well_under, "{rates:?}");
    }
    let decreases: Vec<Event> = events
        .iter()
        .flat_map(|e| e.take())
        .filter(|e| {
            matches!(
                e,
                Event::RateChanged {
                    throttled: true,
                    ..
                }
            )
        })
        .collect();
    assert_eq!(decreases.len(), 1, "one burst, one decrease: {decreases:?}");

    // The other limiter learns it from the budget, without a 429 of its own.
    let other = Arc::new(limiter(RATE, backend.clone(), "hc-429-key", None));
    other.acquire().await;
    assert!(
        other.current_rate() < well_under,
        "{}",
        other.current_rate()
    );

    // Climbs back to the configured rate and never above (structure, not timing: however long
    // the machine takes, the rate only rises and stops at the ceiling).
    let mut seen = Vec::new();
    for _ in 0..2_000 {
        limiters[0].acquire().await;
        seen.push(limiters[0].current_rate());
        if *seen.last().unwrap() == RATE {
            break;
        }
    }
    assert_eq!(seen.last(), Some(&RATE), "{seen:?}");
    assert!(seen.windows(2).all(|w| w[1] >= w[0]), "{seen:?}");
    assert!(seen.iter().all(|r| *r <= RATE));
    let reports: Vec<Event> = events[0].take();
    assert_eq!(
        reports.last(),
        Some(&Event::RateChanged {
            per_minute: RATE,
            configured: RATE,
            throttled: false
        })
    );
}

/// What a test reads of the budget's stored state: `tat` and the time of the last release.
pub type ReadState = Box<dyn Fn() -> Option<(i64, i64)> + Send>;

/// The class of issue 19's bug, across processes: a 429 reported through one limiter reaches
/// the requests already waiting in every limiter of the budget. Two limiters (standing for
/// processes) queue 40 waiters each, four seconds of slots; once every waiter holds a slot,
/// the first request to go is throttled. The slots past the horizon are released, and each
/// limiter's waiters get new ones at the lowered rate: from the horizon on, the schedule of
/// slots reaches at most 85 % of the rate (before the fix: all of it, for the whole four
/// seconds). Checked on the slots granted, not on when tasks woke.
pub async fn a_decrease_reaches_the_waiting_requests_of_every_limiter(
    backend: Backend,
    read: ReadState,
) {
    const EACH: usize = 40;
    let limiters = fleet(&backend, "hc-queued-key", 2);
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
    for (i, limiter) in limiters.iter().enumerate() {
        for _ in 0..EACH {
            let (limiter, sender) = (limiter.clone(), sender.clone());
            tokio::spawn(async move { sender.send((i, limiter.acquire().await)) });
        }
    }
    drop(sender);
    let (_, first) = receiver.recv().await.expect("a first permit");
    let step = crate::core::rate_limit::interval_us(RATE);
    let all_granted = first.slot_us() + (2 * EACH as i64 - 1) * step;
    tokio::time::timeout(HANG, async {
        while read().is_none_or(|(tat, _)| tat < all_granted) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
    .expect("every waiter gets a slot");

    limiters[0].throttled(first).await;
    assert!(limiters[0].current_rate() < RATE);
    let (_, released_at) = read().expect("the state");
    let mut permits = vec![(0, first)];
    while let Some(permit) = receiver.recv().await {
        permits.push(permit);
    }
    assert_eq!(permits.len(), 2 * EACH);
    let all: Vec<Permit> = permits.iter().map(|(_, p)| *p).collect();
    assert_never_faster_than(&slots(&all), RATE);

    let horizon = Tuning::default().horizon.as_micros() as i64;
    let late = |p: &&(usize, Permit)| p.1.slot_us() > released_at + horizon;
    let released: Vec<i64> = permits.iter().filter(late).map(|p| p.1.slot_us()).collect();
    assert!(
        released.len() >= EACH,
        "the machine took too long: only {} of {} slots were past the horizon",
        released.len(),
        2 * EACH
    );
    for i in 0..2 {
        let its = permits.iter().filter(late).filter(|p| p.0 == i).count();
        assert!(its >= EACH / 4, "limiter {i}: {its} slots past the horizon");
    }
    let reached = reached_rate(&released);
    assert!(
        reached <= 0.85 * RATE,
        "past the horizon the slots still reach {reached:.1} of {RATE} a minute"
    );
}

/// Long enough for any wait here; only a hang reaches it.
const HANG: Duration = Duration::from_secs(90);
