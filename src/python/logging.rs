//! The `helpcrunch` logger: what the core reports (each attempt, and what the rate limiter
//! does) becomes a log record.
//!
//! The core reports on whatever thread the work runs, tokio's included, and a tokio thread must
//! never take the GIL: at interpreter exit that aborts the process (CPython's
//! `PyGILState_Release` fatal error). So a report only queues a record, without the GIL, and
//! the package's Python code emits what is queued (`_logs.flush`) when a blocking call
//! returns, when an asyncio loop takes its results (an async call's report also wakes its
//! loop, so records are not held until the call ends) and when a bulk run hands over a batch;
//! the main thread also emits while it waits for a blocking call, and at exit
//! (`bridge::_prepare_exit`). Handlers run from Python frames, never from this extension's:
//! a handler doing I/O in a daemon thread at exit may have its thread ended by CPython, and
//! that must not unwind through Rust frames. Each record keeps the time its event happened.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList};

use crate::core::client::{AttemptEvent, Observer};
use crate::core::rate_limit::{Event, EventSink};
use crate::core::runtime::PerProcess;

const DEBUG: u8 = 10;
const INFO: u8 = 20;
const WARNING: u8 = 30;

/// Records kept while no Python thread comes to emit them (a daemon thread's call never
/// returning, say); past this the oldest are dropped, and the next emit says how many.
const MAX_QUEUED: usize = 10_000;

/// A log record waiting for a Python thread.
struct Record {
    level: u8,
    message: String,
    /// Seconds since the epoch, when the event happened.
    created: f64,
    /// The `extra` attributes: method, path, status, attempt, elapsed_ms.
    attempt: Option<AttemptFields>,
}

struct AttemptFields {
    method: &'static str,
    path: String,
    status: Option<u16>,
    attempt: u32,
    elapsed_ms: f64,
}

#[derive(Default)]
struct Queue {
    records: Mutex<VecDeque<Record>>,
    dropped: AtomicUsize,
    /// `records.len()`, readable without the lock, so emitting nothing costs one atomic load.
    len: AtomicUsize,
}

/// Per process: a record queued in a parent is not emitted again by a forked child, and a lock
/// held by a parent's thread at the fork (a tokio thread queuing a record) cannot block the
/// child.
static QUEUE: PerProcess<Queue> = PerProcess::new(Queue::default, drop);

fn push(record: Record) {
    let queue = QUEUE.get();
    let mut records = queue.records.lock().unwrap_or_else(|e| e.into_inner());
    if records.len() >= MAX_QUEUED {
        records.pop_front();
        queue.dropped.fetch_add(1, Ordering::Relaxed);
    }
    records.push_back(record);
    queue.len.store(records.len(), Ordering::Release);
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Queue a record with no attempt fields, from any thread, without the GIL. The logger's level
/// is not known here: `_logs.emit` leaves out what it would not print.
pub fn queue(level: u8, message: String) {
    push(Record {
        level,
        message,
        created: now(),
        attempt: None,
    });
}

/// Turns what a client's rate limiter does into log records: a rate change and a shared
/// backend answering again at INFO, a shared backend lost at WARNING (once per outage: the
/// limiter says it once).
pub struct LimiterLog;

impl EventSink for LimiterLog {
    fn on_event(&self, event: &Event) {
        let level = match event {
            Event::BackendLost { .. } => WARNING,
            Event::RateChanged { .. } | Event::BackendBack { .. } => INFO,
        };
        queue(level, event.to_string());
    }
}

/// Every queued record as `(level, message, created, extra)`, in order, and how many were
/// dropped; `None` when there is nothing (one atomic load).
fn take_queued(py: Python<'_>) -> PyResult<Option<(Bound<'_, PyList>, usize)>> {
    let queue = QUEUE.get();
    if queue.len.load(Ordering::Acquire) == 0 {
        return Ok(None);
    }
    let records: Vec<Record> = {
        let mut records = queue.records.lock().unwrap_or_else(|e| e.into_inner());
        queue.len.store(0, Ordering::Release);
        records.drain(..).collect()
    };
    let dropped = queue.dropped.swap(0, Ordering::Relaxed);
    let batch = PyList::empty(py);
    for record in records {
        let extra = PyDict::new(py);
        if let Some(a) = &record.attempt {
            extra.set_item("method", a.method)?;
            extra.set_item("path", &a.path)?;
            extra.set_item("status", a.status)?;
            extra.set_item("attempt", a.attempt)?;
            extra.set_item("elapsed_ms", a.elapsed_ms)?;
        }
        batch.append((record.level, record.message, record.created, extra))?;
    }
    Ok(Some((batch, dropped)))
}

/// `_native._take_queued_logs()`: what `_logs.flush` emits.
#[pyfunction]
pub fn _take_queued_logs(py: Python<'_>) -> PyResult<Option<(Bound<'_, PyList>, usize)>> {
    take_queued(py)
}

/// Emit the queued records from here: only on the main thread, which the exit never ends.
/// Errors (a handler raising KeyboardInterrupt) propagate.
pub fn emit_queued(py: Python<'_>) -> PyResult<()> {
    if let Some((records, dropped)) = take_queued(py)? {
        emitter(py)?.call1((records, dropped))?;
    }
    Ok(())
}

/// `helpcrunch._logs.emit`, which turns the queued records into `logging` records. Looked up
/// each time there is something to emit (an imported module is a dictionary lookup away), not
/// kept in a lazily set static: a fork while another thread was setting one would leave the
/// child waiting for that thread forever.
fn emitter(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    py.import("helpcrunch._logs")?.getattr("emit")
}

/// The `helpcrunch` logger, asked before each call whether it is enabled. Set when the module
/// is imported ([`init`]), so that no thread can be setting it when a fork happens (a child
/// would wait for that thread forever).
static LOGGER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn logger(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    LOGGER
        .get_or_try_init(py, || -> PyResult<Py<PyAny>> {
            Ok(py
                .import("logging")?
                .call_method1("getLogger", ("helpcrunch",))?
                .unbind())
        })
        .map(|l| l.bind(py))
}

/// Called when the extension module is imported.
pub fn init(py: Python<'_>) -> PyResult<()> {
    logger(py).map(drop)
}

/// Called when a record is queued, from any thread and without the GIL: wakes the asyncio loop
/// of the async call the record is about, which then emits it (`bridge::LoopBridge::waker`).
pub type Wake = Arc<dyn Fn() + Send + Sync>;

/// Queues a record for each attempt: DEBUG for every attempt, INFO for retries. Only made when
/// the logger would print something, so a quiet logger costs nothing per request.
pub struct LogObserver {
    min_level: u8,
    /// The loop to wake when a record is queued (an async call's).
    waker: Option<Wake>,
}

impl LogObserver {
    /// The observer for a call starting now, if the logger is enabled for its records. `waker`:
    /// the loop that should emit them, for an async call. What asking the logger raised (it
    /// runs Python code: Ctrl-C can land there) is raised by the call, not dropped.
    pub fn for_current_level(
        py: Python<'_>,
        waker: Option<Wake>,
    ) -> PyResult<Option<Arc<dyn Observer>>> {
        let logger = logger(py)?;
        let enabled = |level: u8| -> PyResult<bool> {
            logger.call_method1("isEnabledFor", (level,))?.is_truthy()
        };
        let min_level = if enabled(DEBUG)? {
            DEBUG
        } else if enabled(INFO)? {
            INFO
        } else {
            return Ok(None);
        };
        Ok(Some(Arc::new(LogObserver { min_level, waker })))
    }
}

impl Observer for LogObserver {
    fn on_attempt(&self, ev: &AttemptEvent<'_>) {
        let level = if ev.retry_in.is_some() { INFO } else { DEBUG };
        if level < self.min_level {
            return;
        }
        let outcome = match (ev.status, ev.error) {
            (Some(status), _) => status.to_string(),
            (None, Some(error)) => error.to_string(),
            (None, None) => "no answer".to_string(),
        };
        let elapsed_ms = ev.elapsed.as_secs_f64() * 1000.0;
        let mut message = format!(
            "{} {} -> {} in {:.1} ms (attempt {})",
            ev.method, ev.path, outcome, elapsed_ms, ev.attempt
        );
        if let Some(wait) = ev.retry_in {
            message.push_str(&format!("; retrying in {:.2} s", wait.as_secs_f64()));
        }
        push(Record {
            level,
            message,
            created: now(),
            attempt: Some(AttemptFields {
                method: ev.method,
                path: ev.path.to_string(),
                status: ev.status,
                attempt: ev.attempt,
                elapsed_ms,
            }),
        });
        if let Some(wake) = &self.waker {
            wake();
        }
    }
}
