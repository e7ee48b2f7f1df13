//! The package's tokio runtime, one per process.
//!
//! A runtime built before `fork()` is dead in the child: its worker threads were not copied.
//! So the runtime is tagged with the pid that built it, and a process that finds someone
//! else's pid builds its own. The old one is leaked on purpose: dropping it would try to join
//! threads that do not exist in this process. No lock is involved, so a fork taken while
//! another thread was here cannot leave the child blocked.

use std::sync::atomic::{AtomicPtr, Ordering};
use tokio::runtime::{Builder, Handle, Runtime};

struct Slot {
    pid: u32,
    runtime: Runtime,
}

static CURRENT: AtomicPtr<Slot> = AtomicPtr::new(std::ptr::null_mut());

fn build() -> Runtime {
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

/// The handle of this process's runtime, built on first use.
pub fn handle() -> Handle {
    let pid = std::process::id();
    let current = CURRENT.load(Ordering::Acquire);
    // SAFETY: slots are leaked, never freed, so a non-null pointer is always valid.
    if let Some(slot) = unsafe { current.as_ref() } {
        if slot.pid == pid {
            return slot.runtime.handle().clone();
        }
    }
    let fresh = Box::into_raw(Box::new(Slot {
        pid,
        runtime: build(),
    }));
    match CURRENT.compare_exchange(current, fresh, Ordering::AcqRel, Ordering::Acquire) {
        // SAFETY: `fresh` was just leaked and is now published; it is never freed.
        Ok(_) => unsafe { (*fresh).runtime.handle().clone() },
        Err(winner) => {
            // Another thread published first. Our runtime never ran anything: shut it down
            // (in the background, so this works from any context) and use the winner's.
            // SAFETY: `fresh` was never published, so we own it; `winner` is a leaked slot.
            let ours = unsafe { Box::from_raw(fresh) };
            ours.runtime.shutdown_background();
            unsafe { (*winner).runtime.handle().clone() }
        }
    }
}
