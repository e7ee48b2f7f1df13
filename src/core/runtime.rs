//! The package's tokio runtimes, one of each per process:
//!
//! - a multi-thread runtime for async calls, bulk runs and the sandbox ([`handle`]);
//! - a current-thread runtime for blocking calls ([`block_on`]): the calling thread drives the
//!   request itself, socket and timers included, with no hand-off to another thread, which
//!   is what makes a sequential blocking call cost little more than the round trip.
//!
//! A runtime built before `fork()` is dead in the child: its threads were not copied. So each
//! runtime is tagged with the [`process_generation`] that built it, and a process that finds
//! another generation's runtime builds its own. The old one is leaked on purpose: dropping it would try to join threads that
//! do not exist in this process. No lock is involved, so a fork taken while another thread was
//! here cannot leave the child blocked.

use std::cell::Cell;
use std::future::Future;
use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::runtime::{Builder, Handle, Runtime};

/// Bumped in the child after every `fork()` (a `pthread_atfork` handler).
static FORKS: AtomicU64 = AtomicU64::new(0);

/// Which process this is, as far as `fork()` is concerned: it changes in a child. State built
/// for one process (runtimes, connection pools) is tagged with it. Cheaper than comparing
/// pids: `getpid()` is a system call that glibc no longer caches, and bulk runs asked for it
/// several times per item.
pub fn process_generation() -> u64 {
    #[cfg(unix)]
    {
        static REGISTER: std::sync::Once = std::sync::Once::new();
        REGISTER.call_once(|| {
            extern "C" fn after_fork_in_child() {
                // Async-signal-safe: an atomic add and nothing else.
                FORKS.fetch_add(1, Ordering::Relaxed);
            }
            // SAFETY: registers a handler that only touches an atomic. Registration precedes
            // any state tagged with a generation, so every fork after that state was built
            // bumps the counter; the child inherits both the handler and the Once.
            let rc = unsafe { libc::pthread_atfork(None, None, Some(after_fork_in_child)) };
            assert_eq!(rc, 0, "pthread_atfork failed (out of memory)");
        });
    }
    FORKS.load(Ordering::Relaxed)
}

struct Slot {
    generation: u64,
    runtime: Runtime,
}

static MULTI_THREAD: AtomicPtr<Slot> = AtomicPtr::new(std::ptr::null_mut());
static CURRENT_THREAD: AtomicPtr<Slot> = AtomicPtr::new(std::ptr::null_mut());

fn build_multi_thread() -> Runtime {
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(2, 4);
    Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("helpcrunch-rt")
        .enable_all()
        .build()
        .expect("building a tokio runtime only fails when the OS refuses threads")
}

fn build_current_thread() -> Runtime {
    Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("building a tokio runtime only fails when the OS refuses resources")
}

/// This process's runtime in `cell`, built on first use (and again after a fork).
fn runtime(cell: &'static AtomicPtr<Slot>, build: fn() -> Runtime) -> &'static Runtime {
    let generation = process_generation();
    let current = cell.load(Ordering::Acquire);
    // SAFETY: slots are leaked, never freed, so a non-null pointer is always valid.
    if let Some(slot) = unsafe { current.as_ref() } {
        if slot.generation == generation {
            return &slot.runtime;
        }
    }
    let fresh = Box::into_raw(Box::new(Slot {
        generation,
        runtime: build(),
    }));
    match cell.compare_exchange(current, fresh, Ordering::AcqRel, Ordering::Acquire) {
        // SAFETY: `fresh` was just leaked and is now published; it is never freed.
        Ok(_) => unsafe { &(*fresh).runtime },
        Err(winner) => {
            // Another thread published first. Ours never ran anything: shut it down (in the
            // background, so this works from any context) and use the winner's.
            // SAFETY: `fresh` was never published, so we own it; `winner` is a leaked slot.
            let ours = unsafe { Box::from_raw(fresh) };
            ours.runtime.shutdown_background();
            unsafe { &(*winner).runtime }
        }
    }
}

/// The handle of this process's multi-thread runtime.
pub fn handle() -> Handle {
    runtime(&MULTI_THREAD, build_multi_thread).handle().clone()
}

/// Run `fut` to completion on this thread, on the process's current-thread runtime. Several
/// threads may do so at once: one of them drives the sockets and timers for all. Must not be
/// called from inside a runtime (the caller checks).
pub fn block_on<F: Future>(fut: F) -> F::Output {
    runtime(&CURRENT_THREAD, build_current_thread).block_on(fut)
}

/// Like [`block_on`], for a call whose answer may come back within microseconds (a server on
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

/// Threads polling right now, against [`max_pollers`].
static POLLERS: AtomicUsize = AtomicUsize::new(0);

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
    POLLERS.load(Ordering::Acquire)
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
        let previous = POLLERS.fetch_add(1, Ordering::AcqRel);
        if previous >= max_pollers() {
            POLLERS.fetch_sub(1, Ordering::AcqRel);
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
        POLLERS.fetch_sub(1, Ordering::AcqRel);
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
