//! How a blocking call waits for its answer: it first polls its sockets for a short while, as
//! an answer from a nearby server comes back sooner than a sleeping CPU wakes, and stops doing
//! so for a thread whose answers do not come that fast.

use std::cell::Cell;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::task::Poll;
use std::time::{Duration, Instant};

use super::runtime::{block_on, PerProcess};

/// Like [`block_on`](super::runtime::block_on), for a call whose answer may come back within microseconds (a server on
/// this machine or the next rack): the thread first keeps looking at its sockets, without
/// sleeping, for up to [`POLL_WINDOW`], and only then sleeps.
///
/// Why: a thread that sleeps in `epoll_wait` leaves its CPU idle, and waking an idle CPU (in a
/// VM especially) costs more than a fast server's whole round trip; the work done right after
/// waking also runs on cold caches. Polling first made a sequential call to a local server
/// about twice as fast. Each look also yields the CPU, so a server sharing it still runs.
///
/// It costs CPU only where it pays: a thread whose recent calls were not answered within the
/// window (a remote API, a rate-limited run) stops polling and only probes now and then, and
/// at most half the CPUs poll at once.
pub fn block_on_polling<F: Future>(fut: F) -> F::Output {
    let Some(slot) = PollSlot::take() else {
        return block_on(fut);
    };
    block_on(async move {
        let deadline = Instant::now() + POLL_WINDOW;
        let mut fut = std::pin::pin!(fut);
        loop {
            if let Poll::Ready(value) =
                std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await
            {
                slot.finish(true);
                return value;
            }
            if Instant::now() >= deadline {
                break;
            }
            // A non-blocking look at the sockets and timers (the runtime polls its driver with
            // a zero timeout before running a yielded task again)...
            tokio::task::yield_now().await;
            // ...and the CPU for anything else runnable on it, such as the server itself.
            std::thread::yield_now();
        }
        slot.finish(false);
        fut.await
    })
}

/// How long [`block_on_polling`] looks for an answer before sleeping: a few loopback round
/// trips, far below any remote API's latency.
pub const POLL_WINDOW: Duration = Duration::from_micros(200);

/// Threads polling right now, against [`max_pollers`]. Per process: the slot of a thread that
/// was polling when another one forked would otherwise stay taken in the child for good.
static POLLERS: PerProcess<AtomicUsize> = PerProcess::new(AtomicUsize::default, drop);

fn max_pollers() -> usize {
    static MAX: OnceLock<usize> = OnceLock::new();
    *MAX.get_or_init(|| {
        std::thread::available_parallelism()
            .map(|n| n.get() / 2)
            .unwrap_or(1)
            .max(1)
    })
}

thread_local! {
    static POLICY: Cell<PollPolicy> = const { Cell::new(PollPolicy::new()) };
}

/// This thread's policy as it stands (for tests and diagnostics; asking counts nothing).
pub fn poll_policy() -> PollPolicy {
    POLICY.get()
}

/// Threads polling right now.
pub fn pollers() -> usize {
    POLLERS.get().load(Ordering::Acquire)
}

/// Permission for this thread to poll during one call; finishing it records whether it paid.
struct PollSlot;

impl PollSlot {
    fn take() -> Option<PollSlot> {
        let mut policy = POLICY.get();
        let wanted = policy.should_poll();
        POLICY.set(policy);
        if !wanted {
            return None;
        }
        let previous = POLLERS.get().fetch_add(1, Ordering::AcqRel);
        if previous >= max_pollers() {
            POLLERS.get().fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(PollSlot)
    }

    fn finish(self, answered: bool) {
        let mut policy = POLICY.get();
        policy.record(answered);
        POLICY.set(policy);
        // Drop releases the slot.
    }
}

impl Drop for PollSlot {
    fn drop(&mut self) {
        POLLERS.get().fetch_sub(1, Ordering::AcqRel);
    }
}

/// When a thread polls: while its calls are answered within the window, always; after
/// [`PollPolicy::MISSES_TO_STOP`] calls in a row that were not, once every
/// [`PollPolicy::PROBE_EVERY`] calls, to notice when answers get fast again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PollPolicy {
    misses: u8,
    since_probe: u16,
}

impl PollPolicy {
    pub const MISSES_TO_STOP: u8 = 2;
    pub const PROBE_EVERY: u16 = 64;

    pub const fn new() -> Self {
        PollPolicy {
            misses: 0,
            since_probe: 0,
        }
    }

    /// Whether calls are being polled (rather than only probed now and then).
    pub fn is_polling(&self) -> bool {
        self.misses < Self::MISSES_TO_STOP
    }

    /// Whether the next call should poll; counts the call.
    pub fn should_poll(&mut self) -> bool {
        if self.is_polling() {
            return true;
        }
        self.since_probe += 1;
        if self.since_probe >= Self::PROBE_EVERY {
            self.since_probe = 0;
            return true;
        }
        false
    }

    /// What a call that polled found: its answer within the window, or not.
    pub fn record(&mut self, answered: bool) {
        self.misses = if answered {
            0
        } else {
            self.misses.saturating_add(1)
        };
    }
}

impl Default for PollPolicy {
    fn default() -> Self {
        Self::new()
    }
}
