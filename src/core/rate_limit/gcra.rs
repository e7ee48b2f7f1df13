//! The pacing rule every backend applies to an account's state: GCRA (one "theoretical arrival
//! time" per account) at a rate that adapts to throttling.
//!
//! Times are whole microseconds on the backend's clock (Redis's `TIME`, the machine's clock
//! for a file, tokio's clock for a limiter of its own). `gcra.lua` is the same rule for Redis,
//! step for step and in the same floating-point order, so that every process computes the same
//! rate from the same state; `tests::lua_and_rust_agree` holds the two together.
//!
//! # Pacing
//! A grant reserves the slot `max(tat, now)` and moves `tat` one interval on: callers asking at
//! once get distinct slots one interval apart, whatever process they are in, and a budget left
//! idle does not bank a burst (no slot is ever earlier than `now`).
//!
//! # Adapting to throttling
//! After a 429 the rate drops to [`Tuning::decrease_factor`] of what it was, then climbs back
//! along CUBIC's curve: quickly at first, flattening out as it nears the rate that was
//! throttled (where the real limit probably is), then probing above it, up to the configured
//! rate and never beyond. The rate is a function of the time since the last decrease, so it
//! needs no update per response, and every process sharing the state reads the same rate from it.
//!
//! Why CUBIC's curve, and what differs from botocore's adaptive mode, which also uses it:
//! - botocore counts every throttled response as a decrease, so a burst of N answered at once
//!   cuts the rate N times. Here each grant carries the state's `epoch` (the number of decreases
//!   so far), and a 429 only decreases the rate when its grant is of the current epoch: all the
//!   requests in flight or already queued when the first 429 arrived count as one.
//! - botocore's curve constant is absolute (requests per second per second cubed), so the same
//!   constant recovers in about a second at 2 requests a second and very slowly at 2,000. Here
//!   the curve is scaled to the throttled rate: it always takes [`Tuning::recovery`] to return
//!   there, whatever the rate.
//! - botocore caps the rate at twice a measured send rate, which a noisy or idle client
//!   measures low, and its curve probes above the old maximum without bound. Here the ceiling
//!   is the configured rate, and the floor a share of it ([`Tuning::floor_share`]), so no sleep
//!   grows without bound.
//! - botocore's limiter is per client; here the state lives in the backend, so a fleet learns
//!   and recovers together.

use std::time::Duration;

/// Requests are spaced this much wider than the limit strictly needs (0.5 %), so the jitter
/// between when we send and when the server counts never puts one request too many into the
/// server's window.
pub const SAFETY_MARGIN: f64 = 1.005;

/// No interval is longer than this (about 31 years), so the arithmetic stays in range for any
/// positive rate; `gcra.lua` has the same cap.
const MAX_INTERVAL_US: f64 = 1e15;

/// How a rate adapts to throttling. `Default` is what clients use; tests shorten `recovery`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tuning {
    /// The share of the current rate kept after a throttle (CUBIC's β, and botocore's).
    pub decrease_factor: f64,
    /// How long the rate takes to climb back to the rate that was throttled (CUBIC's K,
    /// scaled to the rate). About the server's window: long enough that a limit which is
    /// really lower is not hit again at once, short enough that a passing burst from another
    /// integration costs little.
    pub recovery: Duration,
    /// The lowest the rate goes, as a share of the configured rate: an account throttled
    /// again and again still makes progress, and no wait grows without bound.
    pub floor_share: f64,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            decrease_factor: 0.7,
            recovery: Duration::from_secs(30),
            floor_share: 0.05,
        }
    }
}

impl Tuning {
    pub(crate) fn recovery_us(&self) -> f64 {
        // At least a microsecond: the curve divides by it.
        (self.recovery.as_micros() as f64).max(1.0)
    }

    /// Whether the numbers make a working limiter (the one check, used by the constructor).
    pub(crate) fn check(&self) -> Result<(), String> {
        if !(self.decrease_factor > 0.0 && self.decrease_factor < 1.0) {
            return Err(format!(
                "decrease_factor must be between 0 and 1 (exclusive), got {}",
                self.decrease_factor
            ));
        }
        if !(self.floor_share > 0.0 && self.floor_share <= 1.0) {
            return Err(format!(
                "floor_share must be more than 0 and at most 1, got {}",
                self.floor_share
            ));
        }
        if self.recovery.is_zero() {
            return Err("recovery must be longer than zero".into());
        }
        Ok(())
    }
}

/// The microseconds between two requests at `per_minute`, margin included, rounded up (never
/// faster than asked).
pub fn interval_us(per_minute: f64) -> i64 {
    (60_000_000.0 / per_minute * SAFETY_MARGIN)
        .ceil()
        .min(MAX_INTERVAL_US) as i64
}

/// One account's state, as every backend stores it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct State {
    /// The theoretical arrival time: the next free slot (µs).
    pub tat: i64,
    /// The clock at the last update (µs), to notice a clock stepped back.
    pub seen: i64,
    /// The rate in force when it was last decreased (per minute); 0 when it never was.
    pub throttled_rate: f64,
    /// When it was last decreased (µs).
    pub throttled_at: i64,
    /// How many times it was decreased: grants carry it, so a burst of 429s counts once.
    pub epoch: u64,
}

/// What a backend answers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reply {
    /// How long the caller waits for its slot (µs); 0 unless it was a grant.
    pub wait_us: i64,
    /// When the slot is, on the backend's clock (µs); for other operations, the time of the
    /// operation.
    pub slot_us: i64,
    /// The state's epoch after the operation.
    pub epoch: u64,
    /// The rate in force after the operation (per minute).
    pub rate: f64,
    /// Whether this operation decreased the rate.
    pub decreased: bool,
}

/// What a caller asks of an account's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Reserve the next slot.
    Grant,
    /// A request sent under `epoch` was throttled.
    Throttled { epoch: u64 },
    /// Read the rate without changing anything (a probe of a backend that was unreachable).
    Peek,
}

impl Op {
    /// The name `gcra.lua` knows it by.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Grant => "grant",
            Op::Throttled { .. } => "throttled",
            Op::Peek => "peek",
        }
    }
}

impl State {
    /// The rate in force at `now` for a caller whose configured rate is `ceiling`.
    pub fn rate(&self, now: i64, ceiling: f64, tuning: &Tuning) -> f64 {
        if self.throttled_rate <= 0.0 {
            return ceiling;
        }
        // CUBIC: W(t) = W_max (1 + (1 - β) ((t - K) / K)^3), which is β W_max at the decrease,
        // W_max after K, and grows beyond it after that.
        let x = (now - self.throttled_at) as f64 / tuning.recovery_us() - 1.0;
        let rate = self.throttled_rate * (1.0 + (1.0 - tuning.decrease_factor) * (x * x * x));
        rate.min(ceiling).max(ceiling * tuning.floor_share)
    }

    /// Apply `op` at `now`; `ceiling` is the caller's configured rate. The state changes only
    /// on a grant or a decrease, as in `gcra.lua`, which writes nothing otherwise.
    pub fn apply(&mut self, op: Op, now: i64, ceiling: f64, tuning: &Tuning) -> Reply {
        let mut next = *self;
        if next.seen > now {
            // The clock stepped back (a server failover, an NTP step): move the stored times
            // with it, so waits stay as long as they were rather than growing by the step.
            let back = next.seen - now;
            next.tat -= back;
            next.throttled_at -= back;
        }
        next.seen = now;
        let reply = match op {
            Op::Grant => {
                let rate = next.rate(now, ceiling, tuning);
                let slot = next.tat.max(now);
                next.tat = slot + interval_us(rate);
                Reply {
                    wait_us: slot - now,
                    slot_us: slot,
                    epoch: next.epoch,
                    rate,
                    decreased: false,
                }
            }
            Op::Throttled { epoch } => {
                let decreased = epoch == next.epoch;
                if decreased {
                    next.throttled_rate = next.rate(now, ceiling, tuning);
                    next.throttled_at = now;
                    next.epoch += 1;
                }
                Reply {
                    wait_us: 0,
                    slot_us: now,
                    epoch: next.epoch,
                    rate: next.rate(now, ceiling, tuning),
                    decreased,
                }
            }
            Op::Peek => Reply {
                wait_us: 0,
                slot_us: now,
                epoch: next.epoch,
                rate: next.rate(now, ceiling, tuning),
                decreased: false,
            },
        };
        if op == Op::Grant || reply.decreased {
            *self = next;
        }
        reply
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: i64 = 1_000_000;

    fn tuning() -> Tuning {
        Tuning::default()
    }

    #[test]
    fn grants_are_one_interval_apart_and_idle_banks_nothing() {
        let mut state = State::default();
        let t = tuning();
        let step = interval_us(600.0);
        assert_eq!(step, 100_500);
        let now = 1_000 * SECOND;
        for i in 0..5 {
            let reply = state.apply(Op::Grant, now, 600.0, &t);
            assert_eq!(reply.wait_us, i * step);
        }
        // Idle for a minute: the next goes at once, the one after waits a full interval.
        let later = now + 60 * SECOND;
        assert_eq!(state.apply(Op::Grant, later, 600.0, &t).wait_us, 0);
        assert_eq!(state.apply(Op::Grant, later, 600.0, &t).wait_us, step);
    }

    #[test]
    fn a_throttle_of_the_current_epoch_decreases_once() {
        let mut state = State::default();
        let t = tuning();
        let now = 5 * SECOND;
        let grants: Vec<Reply> = (0..4)
            .map(|_| state.apply(Op::Grant, now, 120.0, &t))
            .collect();
        assert!(grants.iter().all(|g| g.epoch == 0));
        let first = state.apply(Op::Throttled { epoch: 0 }, now, 120.0, &t);
        assert!(first.decreased);
        assert_eq!(first.epoch, 1);
        assert!((first.rate - 84.0).abs() < 1e-9, "{}", first.rate);
        // The other three were sent under epoch 0 too: the same burst.
        for _ in 1..4 {
            let again = state.apply(Op::Throttled { epoch: 0 }, now, 120.0, &t);
            assert!(!again.decreased);
            assert_eq!(again.epoch, 1);
            assert!((again.rate - 84.0).abs() < 1e-9);
        }
        // A request granted after the decrease and throttled too: a second decrease.
        let next = state.apply(Op::Grant, now, 120.0, &t);
        assert_eq!(next.epoch, 1);
        let second = state.apply(Op::Throttled { epoch: 1 }, now, 120.0, &t);
        assert!(second.decreased);
        assert!((second.rate - 84.0 * 0.7).abs() < 1e-9, "{}", second.rate);
    }

    #[test]
    fn the_rate_climbs_back_to_the_ceiling_and_never_above() {
        let mut state = State::default();
        let t = tuning();
        let k = t.recovery.as_micros() as i64;
        let at = 10 * SECOND;
        state.apply(Op::Throttled { epoch: 0 }, at, 120.0, &t);
        let rate = |dt: i64| state.rate(at + dt, 120.0, &t);
        assert!((rate(0) - 84.0).abs() < 1e-9);
        // Rises, quickly at first, to the throttled rate after `recovery`...
        assert!(rate(k / 4) > rate(0));
        assert!(rate(k / 4) - rate(0) > rate(k) - rate(3 * k / 4));
        assert!((rate(k) - 120.0).abs() < 1e-9);
        // ...and stays at the ceiling from then on.
        for dt in [k + 1, 2 * k, 100 * k, 1_000_000 * k] {
            assert_eq!(rate(dt), 120.0);
        }
        let mut previous = 0.0;
        for i in 0..=100 {
            let r = rate(k * i / 100);
            assert!(r >= previous && r <= 120.0);
            previous = r;
        }
    }

    #[test]
    fn a_lower_throttled_rate_climbs_past_itself_up_to_the_ceiling() {
        let mut state = State::default();
        let t = tuning();
        let k = t.recovery.as_micros() as i64;
        // Three decreases in a row: 120 → 84 → 58.8 → 41.16.
        for epoch in 0..3 {
            state.apply(Op::Throttled { epoch }, 0, 120.0, &t);
        }
        assert!((state.rate(0, 120.0, &t) - 41.16).abs() < 1e-9);
        assert!((state.rate(k, 120.0, &t) - 58.8).abs() < 1e-9);
        let after_2k = state.rate(2 * k, 120.0, &t);
        assert!(after_2k > 58.8 && after_2k < 120.0, "{after_2k}");
        assert_eq!(state.rate(10 * k, 120.0, &t), 120.0);
    }

    #[test]
    fn the_rate_never_drops_below_the_floor() {
        let mut state = State::default();
        let t = tuning();
        for epoch in 0..100 {
            let reply = state.apply(Op::Throttled { epoch }, 0, 120.0, &t);
            assert!(reply.rate >= 120.0 * t.floor_share - 1e-9, "{}", reply.rate);
        }
        assert!((state.rate(0, 120.0, &t) - 6.0).abs() < 1e-9);
    }

    #[test]
    fn a_clock_stepped_back_keeps_waits_as_they_were() {
        let mut state = State::default();
        let t = tuning();
        let now = 3_600 * SECOND;
        state.apply(Op::Grant, now, 60.0, &t);
        state.apply(Op::Grant, now, 60.0, &t);
        // The clock jumps back an hour: the third slot is still two intervals after the first.
        let back = now - 3_600 * SECOND;
        let reply = state.apply(Op::Grant, back, 60.0, &t);
        assert_eq!(reply.wait_us, 2 * interval_us(60.0));
    }

    #[test]
    fn peek_changes_nothing() {
        let mut state = State::default();
        let t = tuning();
        state.apply(Op::Grant, 7, 60.0, &t);
        let before = state;
        let reply = state.apply(Op::Peek, 7, 60.0, &t);
        assert_eq!(state, before);
        assert_eq!(reply.rate, 60.0);
    }

    #[test]
    fn absurd_rates_stay_in_range() {
        assert_eq!(interval_us(1e-300), MAX_INTERVAL_US as i64);
        assert_eq!(interval_us(1e300), 1);
        let mut state = State::default();
        let reply = state.apply(Op::Grant, i64::MAX / 4, 1e-300, &tuning());
        assert_eq!(reply.wait_us, 0);
    }

    #[test]
    fn bad_tunings_are_refused() {
        for bad in [
            Tuning {
                decrease_factor: 1.0,
                ..Tuning::default()
            },
            Tuning {
                decrease_factor: f64::NAN,
                ..Tuning::default()
            },
            Tuning {
                floor_share: 0.0,
                ..Tuning::default()
            },
            Tuning {
                recovery: Duration::ZERO,
                ..Tuning::default()
            },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
        assert!(Tuning::default().check().is_ok());
    }
}
