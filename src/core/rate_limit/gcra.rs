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
//! # A decrease reaches the waiting requests
//! A queue of waiters holds slots far ahead (128 requests in flight at 600 a minute hold 13 s
//! of them); were those slots final, a decrease would only reach requests that start waiting
//! after it, and a fleet would keep sending at the old rate for as long as it is throttled. So
//! a slot is final only within [`Tuning::horizon`] of the moment it was granted or confirmed: a
//! waiter whose slot is further off sleeps until it is within the horizon and asks again
//! ([`Op::Confirm`]). A decrease at `d` keeps the slots up to `d + horizon` (their waiters may
//! already be committed to them) and releases the later ones: `tat` goes back to just after
//! the horizon, and a released waiter's confirm gets it a new slot at the lowered rate. A
//! confirm knows its slot was released because the slot's epoch is older than the state's and
//! the slot lies past the last decrease's horizon; what a budget (in Redis, in a file) holds is
//! therefore enough for every process's waiters to see a decrease made by any of them.
//!
//! The climb back must reach them too: waiters released by a decrease take slots at the
//! lowered rate (far apart, at the floor), and a queue of them would keep the fleet slow long
//! after the rate has recovered. So whenever the rate has climbed [`RELAY_STEP`] above the
//! rate of the last release (or reached the ceiling), the next grant or confirm releases the
//! slots past the horizon again, as a decrease does; waiters ask again at least every two
//! horizons, so a released one finds out in time. A release, either kind, starts a new epoch.
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
//!   requests in flight or committed to a slot when the first 429 arrived count as one.
//! - Throttling that goes on (another client of the account filling the server's window) makes
//!   a decrease every round trip, each from the rate the last one left. Those 429s, less than
//!   [`Tuning::episode`] apart, are one episode: the rate keeps dropping, but climbs back to
//!   where the episode began (not to where its last 429 found it), within `recovery` of its last
//!   429. A 429 after a calm spell starts a new episode, whose rate is the new target.
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

/// The climb back re-lays the queue of slots each time the rate has risen this much above the
/// rate of the last release: the slots sent keep up with the rate to within 10 %.
pub const RELAY_STEP: f64 = 1.1;

/// The slowest rate a limiter paces at: one request in about 17 hours. Slower would make the
/// interval reach [`MAX_INTERVAL_US`], and is no pace a job can use.
pub const MIN_PER_MINUTE: f64 = 0.001;

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
    /// How far ahead a slot is final (see the module's doc): a decrease reaches every request
    /// sent later than this after it. Long enough for a waiter to confirm its slot (one
    /// round trip to the backend) and wake in time; short, so that a throttle takes effect
    /// within about a second.
    pub horizon: Duration,
    /// 429s closer together than this are one episode of throttling (see the module's doc):
    /// several round trips of a fleet throttled without a break, shorter than the climb back.
    pub episode: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            decrease_factor: 0.7,
            recovery: Duration::from_secs(30),
            floor_share: 0.05,
            horizon: Duration::from_secs(1),
            episode: Duration::from_secs(10),
        }
    }
}

fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX / 4)
}

impl Tuning {
    pub(crate) fn recovery_us(&self) -> f64 {
        // At least a microsecond: the curve divides by it.
        (self.recovery.as_micros() as f64).max(1.0)
    }

    pub(crate) fn horizon_us(&self) -> i64 {
        micros(self.horizon)
    }

    pub(crate) fn episode_us(&self) -> i64 {
        micros(self.episode)
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

/// Whether a limiter can pace at `per_minute` requests a minute: the rule, for the message of
/// the setting that gave the rate, when it cannot.
pub fn check_per_minute(per_minute: f64) -> Result<f64, String> {
    if per_minute.is_finite() && per_minute >= MIN_PER_MINUTE {
        Ok(per_minute)
    } else {
        Err(format!(
            "a number of requests per minute from {MIN_PER_MINUTE} up"
        ))
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
    /// The rate the climb back after the last decrease heads for (per minute): the rate in
    /// force when the episode of throttling began; 0 when it never was decreased.
    pub throttled_rate: f64,
    /// When it was last decreased (µs).
    pub throttled_at: i64,
    /// How many times slots were released (a decrease, or the climb back re-laying them):
    /// grants carry it, so a burst of 429s counts once.
    pub epoch: u64,
    /// The rate right after the last decrease (per minute), where the climb back starts; 0 in
    /// a state written by a version that did not store it (see [`State::start_rate`]).
    pub low_rate: f64,
    /// When slots were last released (µs): by a decrease, or the climb back re-laying them.
    pub released_at: i64,
}

/// What a backend answers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reply {
    /// How long the caller waits for its slot (µs); 0 unless it was a grant or a confirm.
    pub wait_us: i64,
    /// When the slot is, on the backend's clock (µs); for other operations, the time of the
    /// operation.
    pub slot_us: i64,
    /// For a grant or a confirm, the epoch the slot was granted under; otherwise the state's
    /// epoch after the operation.
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
    /// A waiter whose slot (granted under `epoch`) is now within the horizon asks whether it
    /// still stands; if a decrease released it, the answer is a new slot.
    Confirm { epoch: u64, slot: i64 },
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
            Op::Confirm { .. } => "confirm",
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
        // CUBIC: W(t) = W_max + (W_max - W_0) ((t - K) / K)^3, which is W_0 at the decrease,
        // W_max after K, and grows beyond it after that.
        let top = self.throttled_rate;
        let x = (now - self.throttled_at) as f64 / tuning.recovery_us() - 1.0;
        let rate = top + (top - self.start_rate(tuning)) * (x * x * x);
        rate.min(ceiling).max(ceiling * tuning.floor_share)
    }

    /// Where the climb back starts: the stored rate, or (in a state an older version wrote,
    /// which has none or a stale one) one decrease below the target.
    fn start_rate(&self, tuning: &Tuning) -> f64 {
        if self.low_rate > 0.0 && self.low_rate < self.throttled_rate {
            self.low_rate
        } else {
            self.throttled_rate * tuning.decrease_factor
        }
    }

    /// Reserve the next slot at `now`.
    fn grant(&mut self, now: i64, ceiling: f64, tuning: &Tuning) -> Reply {
        let rate = self.rate(now, ceiling, tuning);
        let slot = self.tat.max(now);
        self.tat = slot + interval_us(rate);
        Reply {
            wait_us: slot - now,
            slot_us: slot,
            epoch: self.epoch,
            rate,
            decreased: false,
        }
    }

    /// Whether `slot`, granted under `epoch`, still stands: no decrease came since, or the one
    /// that did kept it (it was within the horizon then). A slot from before an earlier
    /// decrease is not known to have been kept, so it is given up: that costs a slot, never
    /// sends one too many. A slot at or past `tat` belongs to a state that was lost (a Redis
    /// restarted empty, a pruned file).
    fn stands(&self, epoch: u64, slot: i64, tuning: &Tuning) -> bool {
        slot < self.tat
            && (epoch == self.epoch
                || (epoch + 1 == self.epoch
                    && slot <= self.released_at.saturating_add(tuning.horizon_us())))
    }

    /// Release the slots past the horizon, as of `now` at `rate`: a new epoch. The next slot
    /// granted is an interval (at `rate`, the rate before for a decrease) after the last that
    /// is kept, so no two slots are ever closer than that.
    fn release(&mut self, now: i64, rate: f64, tuning: &Tuning) {
        self.epoch += 1;
        self.released_at = now;
        self.tat = self
            .tat
            .min(now.saturating_add(tuning.horizon_us()) + interval_us(rate));
    }

    /// Re-lay the queue if the climb back has left it behind (see the module's doc): slots
    /// past the horizon and a rate [`RELAY_STEP`] above the last release's, or at the ceiling.
    fn relay_if_behind(&mut self, now: i64, ceiling: f64, tuning: &Tuning) -> bool {
        let rate = self.rate(now, ceiling, tuning);
        let then = self.rate(self.released_at, ceiling, tuning);
        let queued = self.tat > now.saturating_add(tuning.horizon_us()) + interval_us(rate);
        let behind = rate >= then * RELAY_STEP || (rate >= ceiling && then < ceiling);
        if queued && behind {
            self.release(now, rate, tuning);
        }
        queued && behind
    }

    /// Apply `op` at `now`; `ceiling` is the caller's configured rate. The state changes only
    /// on a grant (a confirm whose slot was released is one) or a decrease, as in `gcra.lua`,
    /// which writes nothing otherwise.
    pub fn apply(&mut self, op: Op, now: i64, ceiling: f64, tuning: &Tuning) -> Reply {
        let mut next = *self;
        if next.seen > now {
            // The clock stepped back (a server failover, an NTP step): move the stored times
            // with it, so waits stay as long as they were rather than growing by the step.
            let back = next.seen - now;
            next.tat -= back;
            next.throttled_at -= back;
            next.released_at -= back;
        }
        next.seen = now;
        let mut changed = false;
        if matches!(op, Op::Grant | Op::Confirm { .. }) {
            changed = next.relay_if_behind(now, ceiling, tuning);
        }
        let reply = match op {
            Op::Grant => {
                changed = true;
                next.grant(now, ceiling, tuning)
            }
            Op::Confirm { epoch, slot } if next.stands(epoch, slot, tuning) => Reply {
                wait_us: (slot - now).max(0),
                slot_us: slot,
                epoch,
                rate: next.rate(now, ceiling, tuning),
                decreased: false,
            },
            Op::Confirm { .. } => {
                changed = true;
                next.grant(now, ceiling, tuning)
            }
            Op::Throttled { epoch } => {
                let decreased = epoch == next.epoch;
                if decreased {
                    changed = true;
                    next.decrease(now, ceiling, tuning);
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
        if changed {
            *self = next;
        }
        reply
    }

    fn decrease(&mut self, now: i64, ceiling: f64, tuning: &Tuning) {
        let rate = self.rate(now, ceiling, tuning);
        let same_episode = self.throttled_rate > 0.0
            && now - self.throttled_at < tuning.episode_us()
            && rate < self.throttled_rate;
        if !same_episode {
            self.throttled_rate = rate;
        }
        self.low_rate = rate * tuning.decrease_factor;
        self.throttled_at = now;
        self.release(now, rate, tuning);
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
    fn a_throttle_after_a_calm_spell_climbs_to_its_own_rate_then_past_it() {
        let mut state = State::default();
        let t = tuning();
        let k = t.recovery.as_micros() as i64;
        let calm = t.episode.as_micros() as i64 + 1;
        // Three decreases, each after a calm spell: 120 → 84, then each from where the climb
        // had got to, which becomes the new target (where the limit probably is).
        for epoch in 0..3 {
            state.apply(Op::Throttled { epoch }, epoch as i64 * calm, 120.0, &t);
        }
        let at = 2 * calm;
        let target = state.throttled_rate;
        assert!(target < 100.0, "{target}");
        assert!((state.rate(at, 120.0, &t) - target * 0.7).abs() < 1e-9);
        assert!((state.rate(at + k, 120.0, &t) - target).abs() < 1e-9);
        let past = state.rate(at + 3 * k / 2, 120.0, &t);
        assert!(past > target && past < 120.0, "{past}");
        assert_eq!(state.rate(at + 10 * k, 120.0, &t), 120.0);
    }

    /// Throttling without a break (another client filling the server's window): each round
    /// trip's 429 lowers the rate again, and the climb back heads for where the episode began,
    /// reaching 90 % of it within `recovery` of the last 429, however many there were.
    #[test]
    fn an_episode_of_throttling_keeps_dropping_and_climbs_back_to_where_it_began() {
        let t = tuning();
        let k = t.recovery.as_micros() as i64;
        for (decreases, apart) in [
            (1, 0),
            (2, SECOND),
            (5, SECOND),
            (9, 2 * SECOND),
            (60, SECOND / 2),
        ] {
            let mut state = State::default();
            let mut rates = Vec::new();
            for epoch in 0..decreases {
                let reply = state.apply(Op::Throttled { epoch }, epoch as i64 * apart, 600.0, &t);
                assert!(reply.decreased);
                rates.push(reply.rate);
            }
            assert!(
                rates.windows(2).all(|w| w[1] < w[0] || w[1] == 30.0),
                "{rates:?}"
            );
            assert_eq!(
                state.throttled_rate, 600.0,
                "the target stays where it began"
            );
            let last = (decreases as i64 - 1) * apart;
            let at = |dt: i64| state.rate(last + dt, 600.0, &t);
            assert!(at(k) >= 0.9 * 600.0 - 1e-9, "{decreases}: {}", at(k));
            let mut previous = 0.0;
            for i in 0..=200 {
                let r = at(2 * k * i / 200);
                assert!(r >= previous && r <= 600.0, "{decreases}: {r}");
                previous = r;
            }
        }
    }

    /// A decrease keeps the slots within the horizon and releases the later ones: a confirm
    /// of a kept slot stands, one of a released slot gets a new slot at the lowered rate, and
    /// no two slots (kept or new) are ever closer than an interval at the rate before.
    #[test]
    fn a_decrease_releases_the_slots_past_the_horizon() {
        let t = tuning();
        let h = t.horizon.as_micros() as i64;
        let step = interval_us(600.0);
        let now = 50 * SECOND;
        let mut state = State::default();
        // 40 waiters: 4 s of slots.
        let slots: Vec<Reply> = (0..40)
            .map(|_| state.apply(Op::Grant, now, 600.0, &t))
            .collect();
        // Before any decrease, every slot stands.
        for g in &slots {
            let c = state.apply(
                Op::Confirm {
                    epoch: 0,
                    slot: g.slot_us,
                },
                g.slot_us - h,
                600.0,
                &t,
            );
            assert_eq!((c.slot_us, c.epoch), (g.slot_us, 0));
        }
        let d = now + SECOND / 2;
        let before = state;
        assert!(
            state
                .apply(Op::Throttled { epoch: 0 }, d, 600.0, &t)
                .decreased
        );
        assert_eq!(state.tat, d + h + step);
        // Waiters confirm in slot order, each at its slot less the horizon, late or not.
        let mut kept = Vec::new();
        let mut new = Vec::new();
        for g in &slots {
            let at = (g.slot_us - h).max(d);
            let c = state.apply(
                Op::Confirm {
                    epoch: 0,
                    slot: g.slot_us,
                },
                at,
                600.0,
                &t,
            );
            if g.slot_us <= d + h {
                assert_eq!((c.slot_us, c.epoch), (g.slot_us, 0), "kept");
                kept.push(c.slot_us);
            } else {
                assert_eq!(c.epoch, 1, "a new slot, of the new epoch");
                new.push(c.slot_us);
            }
        }
        assert_eq!(kept.len(), 15, "{kept:?}");
        let lowered = interval_us(420.0);
        assert!(new[0] - kept.last().unwrap() >= step);
        for pair in new.windows(2) {
            // At the lowered rate, climbing back only slowly in the 4 s the queue lasts.
            assert!(
                pair[1] - pair[0] >= lowered * 9 / 10,
                "{}",
                pair[1] - pair[0]
            );
        }
        // A slot of an epoch before the last decrease is given up, as is one from a lost state.
        let mut again = state;
        again.apply(Op::Throttled { epoch: 1 }, d + 1, 600.0, &t);
        let c = again.apply(
            Op::Confirm {
                epoch: 0,
                slot: kept[0],
            },
            d + 2,
            600.0,
            &t,
        );
        assert_eq!(c.epoch, 2);
        let c = State::default().apply(
            Op::Confirm {
                epoch: 0,
                slot: kept[0],
            },
            d,
            600.0,
            &t,
        );
        assert_ne!(c.slot_us, kept[0]);
        // Only a grant or a decrease writes: a confirm that stands changes nothing.
        let mut quiet = before;
        quiet.apply(
            Op::Confirm {
                epoch: 0,
                slot: slots[3].slot_us,
            },
            now,
            600.0,
            &t,
        );
        assert_eq!(quiet, before);
    }

    /// As the rate climbs back, a queue granted at the lowered rate is re-laid each time the
    /// rate has risen a step, and once more on reaching the ceiling: a waiter then gets a slot
    /// at the rate of the moment, not the one its slot was granted at.
    #[test]
    fn the_climb_back_re_lays_a_queue_left_behind() {
        let t = tuning();
        let mut state = State::default();
        state.apply(Op::Throttled { epoch: 0 }, 0, 600.0, &t);
        let mut epochs = vec![state.epoch];
        let mut now = 0;
        let mut waiters: Vec<Reply> = (0..100)
            .map(|_| state.apply(Op::Grant, now, 600.0, &t))
            .collect();
        while now < 60 * SECOND {
            now += SECOND / 10;
            // Each waiter asks again: those at their slot go (and take another), the others
            // confirm theirs.
            for waiter in waiters.iter_mut() {
                let op = if waiter.slot_us <= now {
                    Op::Grant
                } else {
                    Op::Confirm {
                        epoch: waiter.epoch,
                        slot: waiter.slot_us,
                    }
                };
                *waiter = state.apply(op, now, 600.0, &t);
            }
            if epochs.last() != Some(&state.epoch) {
                epochs.push(state.epoch);
            }
        }
        // 420 → 600 by steps of at most 10 %: four re-layings, the last at the ceiling.
        assert!(epochs.len() >= 5, "{epochs:?}");
        let mut slots: Vec<i64> = waiters.iter().map(|w| w.slot_us).collect();
        slots.sort_unstable();
        let spread = slots[99] - slots[0];
        assert!(spread <= 100 * interval_us(600.0) * 11 / 10, "{spread}");
        // Without re-laying, the queue would still be paced as granted, right after the 429.
        let mut unrelayed = State::default();
        unrelayed.apply(Op::Throttled { epoch: 0 }, 0, 600.0, &t);
        let last = (0..100)
            .map(|_| unrelayed.apply(Op::Grant, 0, 600.0, &t))
            .last();
        assert!(last.unwrap().slot_us > 99 * interval_us(440.0));
    }

    /// A state an older version wrote has no start rate (or a stale one): the climb starts one
    /// decrease below the target, as it did then.
    #[test]
    fn a_state_without_a_start_rate_climbs_from_one_decrease_below() {
        let t = tuning();
        for low_rate in [0.0, 200.0] {
            let state = State {
                throttled_rate: 120.0,
                throttled_at: 0,
                epoch: 1,
                low_rate,
                ..State::default()
            };
            assert!((state.rate(0, 120.0, &t) - 84.0).abs() < 1e-9);
        }
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
