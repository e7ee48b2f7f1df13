//! The package's tokio runtimes, one of each per process:
//!
//! - a multi-thread runtime for async calls, bulk runs and the sandbox ([`handle`]);
//! - a current-thread runtime for blocking calls ([`block_on`]): the calling thread drives the
//!   request itself, socket and timers included, with no hand-off to another thread, which
//!   is what makes a sequential blocking call cost little more than the round trip.
//!
//! A runtime built before `fork()` is dead in the child: its threads were not copied. So each
//! runtime is tagged with the [`process_generation`] that built it, and a process that finds
//! another generation's runtime builds its own. The old one is leaked on purpose: dropping it
//! would try to join threads that do not exist in this process. No lock is involved, so a fork
//! taken while another thread was here cannot leave the child blocked.
//!
//! The same holds for everything that belongs to a parent's runtime (a connection, a task):
//! a child must neither use nor drop it, since that schedules work on the dead runtime, whose
//! locks one of the parent's threads may have held at the fork. See `pool` (a client's
//! connections) and `python::bridge` (an async call's task).

use std::future::Future;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

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

/// A value each process has its own of: built on first use, and built again in a child after
/// `fork()`. The parent's is leaked, never dropped: its threads (a runtime's) or a lock held by a
/// thread that does not exist in the child must not be touched. No lock is taken here, so a
/// fork in the middle cannot leave the child blocked.
pub struct PerProcess<T: 'static> {
    slot: AtomicPtr<(u64, T)>,
    build: fn() -> T,
    /// For a value built by a thread that lost the race to publish it (never used).
    discard: fn(T),
}

impl<T: 'static> PerProcess<T> {
    pub const fn new(build: fn() -> T, discard: fn(T)) -> Self {
        PerProcess {
            slot: AtomicPtr::new(std::ptr::null_mut()),
            build,
            discard,
        }
    }

    pub fn get(&'static self) -> &'static T {
        let generation = process_generation();
        let current = self.slot.load(Ordering::Acquire);
        // SAFETY: slots are leaked, never freed, so a non-null pointer is always valid.
        if let Some((built_in, value)) = unsafe { current.as_ref() } {
            if *built_in == generation {
                return value;
            }
        }
        let fresh = Box::into_raw(Box::new((generation, (self.build)())));
        match self
            .slot
            .compare_exchange(current, fresh, Ordering::AcqRel, Ordering::Acquire)
        {
            // SAFETY: `fresh` was just leaked and is now published; it is never freed.
            Ok(_) => unsafe { &(*fresh).1 },
            Err(winner) => {
                // SAFETY: `fresh` was never published, so we own it; `winner` is a leaked slot.
                let (_, ours) = *unsafe { Box::from_raw(fresh) };
                (self.discard)(ours);
                unsafe { &(*winner).1 }
            }
        }
    }
}

/// A runtime that lost the race to be published never ran anything: shut it down in the
/// background, which works from any context (dropping it inside a runtime would panic).
fn discard_runtime(runtime: Runtime) {
    runtime.shutdown_background();
}

static MULTI_THREAD: PerProcess<Runtime> = PerProcess::new(build_multi_thread, discard_runtime);
static CURRENT_THREAD: PerProcess<Runtime> = PerProcess::new(build_current_thread, discard_runtime);

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

/// The handle of this process's multi-thread runtime.
pub fn handle() -> Handle {
    MULTI_THREAD.get().handle().clone()
}

/// Run `fut` to completion on this thread, on the process's current-thread runtime. Several
/// threads may do so at once: one of them drives the sockets and timers for all. Must not be
/// called from inside a runtime (the caller checks).
pub fn block_on<F: Future>(fut: F) -> F::Output {
    CURRENT_THREAD.get().block_on(fut)
}

/// What a panic in a task (or a future run here) says: its message, when it has one. Both
/// places that turn a panic into `Error::Internal` (a page fetch's task, a Python call's future)
/// use this.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}
