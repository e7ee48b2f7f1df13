//! Running core futures for Python: blocking (GIL released, Ctrl-C honoured) and as awaitables
//! on whatever asyncio loop is running.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::{intern, IntoPyObjectExt};
use tokio::task::AbortHandle;

use super::errors::to_py_err;
use super::logging::{emit_queued, Wake};
use crate::core::runtime::{self, panic_message, PerProcess};
use crate::core::{wait, Error};

/// How often a blocked call wakes to let Python run signal handlers (Ctrl-C).
const SIGNAL_CHECK_INTERVAL: Duration = Duration::from_millis(50);

/// A future that turns a panic inside it into `Error::Internal` instead of unwinding.
pub fn catching_panics<T>(
    fut: impl Future<Output = Result<T, Error>> + Send + 'static,
) -> impl Future<Output = Result<T, Error>> + Send + 'static
where
    T: Send + 'static,
{
    AssertUnwindSafe(fut)
        .catch_unwind()
        .map(|r| r.unwrap_or_else(|payload| Err(Error::Internal(panic_message(&*payload)))))
}

/// How a blocked thread waits for its future.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// One HTTP call: look for the answer without sleeping first (`wait::block_on_polling`).
    PollFirst,
    /// Anything else (a bulk run's next batch, while the runtime's own threads work): sleep.
    Sleep,
}

/// Run `fut` to completion on the package runtime while this thread waits without the GIL.
/// Every `SIGNAL_CHECK_INTERVAL` it lets Python handle signals; a `KeyboardInterrupt` (or any
/// exception a handler raises) drops the task, which cancels the request. The spent future is
/// dropped after the GIL is taken again: what it holds (a Python object) is let go at once,
/// never through pyo3's pool of deferred releases, whose lock a fork must not find held (see
/// [`spawn_for_loop`]).
pub fn block_on<T>(
    py: Python<'_>,
    wait: Wait,
    fut: impl Future<Output = Result<T, Error>> + Send + 'static,
) -> PyResult<Result<T, Error>>
where
    T: Send + 'static,
{
    block_on_ticking(py, wait, fut, None)
}

/// [`block_on`], calling `tick()` (a Python callable: a progress display reading what the
/// future reports) each time it wakes for signals, on the main thread. An exception it raises
/// stops the wait as a `KeyboardInterrupt` does: nothing is swallowed.
pub fn block_on_ticking<T>(
    py: Python<'_>,
    wait: Wait,
    fut: impl Future<Output = Result<T, Error>> + Send + 'static,
    tick: Option<&Py<PyAny>>,
) -> PyResult<Result<T, Error>>
where
    T: Send + 'static,
{
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(PyRuntimeError::new_err(
            "a blocking helpcrunch call was made from inside helpcrunch's own async runtime; \
             use the async API there",
        ));
    }
    // Only the main thread receives signals, so only it wakes up to look for them. Other
    // threads never take the GIL while they wait, which also keeps a daemon thread from
    // touching an interpreter that is shutting down.
    let on_main_thread = is_main_thread(py)?;
    let mut fut = Box::pin(catching_panics(fut));
    let fut = &mut fut;
    let outcome = detach(py, || {
        // The call runs right here, on this thread (see core::runtime): no hand-off.
        let run = async {
            if !on_main_thread {
                return PyResult::Ok(fut.await);
            }
            loop {
                tokio::select! {
                    result = fut.as_mut() => return Ok(result),
                    _ = tokio::time::sleep(SIGNAL_CHECK_INTERVAL) => {
                        // An error (KeyboardInterrupt) returns, dropping the future: that
                        // cancels the request.
                        Python::try_attach(|py| -> PyResult<()> {
                            // Running a statement gives the interpreter a chance to run pending
                            // signal handlers; check_signals covers the rest.
                            py.run(c"pass", None, None)?;
                            py.check_signals()?;
                            if let Some(tick) = tick {
                                tick.call0(py)?;
                            }
                            // A retry's record appears while the call waits, not after it
                            // (safe here: the main thread is never ended by the exit).
                            emit_queued(py)
                        })
                        .transpose()?;
                    }
                }
            }
        };
        match wait {
            Wait::PollFirst => wait::block_on_polling(run),
            Wait::Sleep => runtime::block_on(run),
        }
    })?;
    Ok(outcome)
}

/// Where this process's blocking waits stand at exit. Per process: a child forked while
/// another thread was on its way back (waiting for the GIL the forking thread held) would
/// otherwise wait for a thread it does not have, at its own exit; nor does a parent's exit
/// make its child's.
#[derive(Default)]
struct ExitState {
    /// Threads between the end of a wait without the GIL and holding the GIL again.
    returning: AtomicUsize,
    /// Set by [`_prepare_exit`] (an `atexit` hook): the interpreter is about to finalize.
    exiting: AtomicBool,
}

static EXIT: PerProcess<ExitState> = PerProcess::new(ExitState::default, drop);

/// `py.detach(work)`, safe at interpreter exit. On CPython before 3.14 a thread that takes the
/// GIL again once finalization has begun (a daemon thread whose call just finished) is ended
/// with `pthread_exit`, whose forced unwinding through this extension's frames aborts the
/// process ("FATAL: exception not rethrown"). So a thread that finishes its wait after the
/// interpreter began to exit never takes the GIL again: it parks for good, as CPython 3.14 does
/// with such threads, and the process exits without it. A thread already on its way back when
/// the exit begins is waited for by [`_prepare_exit`] (the counter and the flag are each written
/// before the other is read, so no thread can slip between them).
fn detach<T: Send>(py: Python<'_>, work: impl FnOnce() -> T + Send) -> T {
    let value = py.detach(|| {
        let value = work();
        let exit = EXIT.get();
        exit.returning.fetch_add(1, Ordering::SeqCst);
        if exit.exiting.load(Ordering::SeqCst) {
            exit.returning.fetch_sub(1, Ordering::SeqCst);
            loop {
                std::thread::park();
            }
        }
        value
    });
    EXIT.get().returning.fetch_sub(1, Ordering::SeqCst);
    value
}

/// How long the exit waits for threads on their way back to Python.
const EXIT_WAIT: Duration = Duration::from_secs(2);

/// `_native._prepare_exit()`, registered with `atexit`: from now on a thread ending a blocking
/// wait parks instead of re-entering the interpreter (see [`detach`]); the ones already on their
/// way back are let through first; then the log records still queued are emitted.
#[pyfunction]
pub fn _prepare_exit(py: Python<'_>) -> PyResult<()> {
    let exit = EXIT.get();
    exit.exiting.store(true, Ordering::SeqCst);
    py.detach(|| {
        let deadline = std::time::Instant::now() + EXIT_WAIT;
        while exit.returning.load(Ordering::SeqCst) > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    emit_queued(py)
}

/// Asked each time: after a fork from another thread, that thread is the child's main one. It
/// runs Python code, where a pending Ctrl-C may be raised: that is the call's outcome, before
/// anything is sent.
fn is_main_thread(py: Python<'_>) -> PyResult<bool> {
    let threading = py.import("threading")?;
    let main = threading.call_method0("main_thread")?;
    Ok(threading.call_method0("current_thread")?.is(&main))
}

/// A completed task's value, turned into a Python object on the loop's thread.
type MakeValue = Box<dyn for<'py> FnOnce(Python<'py>) -> PyResult<Bound<'py, PyAny>> + Send>;

struct Completion {
    future: Py<PyAny>,
    value: MakeValue,
    /// The task's spent future, which may hold Python objects: dropped on the loop's thread
    /// with the completion, attached (see [`spawn_for_loop`]).
    _spent: Box<dyn Send>,
}

/// Wakes a loop's bridge from any thread without the GIL, so that the loop emits queued log
/// records (see `logging`): what [`LoopBridge::waker`] gives.
pub type LoopWaker = Wake;

/// Hands results from tokio tasks to one asyncio loop, many at a time.
///
/// A finished task queues its value and, if no wake-up is pending, writes one byte to a socket
/// the loop watches (`loop.add_reader`); the loop then drains everything queued in one go,
/// converting values and resolving futures on its own thread. So tokio threads never take the
/// GIL, and one wake-up serves every result that finished meanwhile. Loops without
/// `add_reader` (Windows' proactor) are woken with `call_soon_threadsafe` instead.
#[pyclass(frozen, module = "helpcrunch._native")]
pub struct LoopBridge {
    inner: Arc<BridgeInner>,
}

struct BridgeInner {
    queue: Mutex<Vec<Completion>>,
    wake_pending: AtomicBool,
    #[cfg(unix)]
    socket: (
        std::os::unix::net::UnixStream,
        std::os::unix::net::UnixStream,
    ),
    /// The fallback waker: `functools.partial(loop.call_soon_threadsafe, bridge.drain)`.
    call_soon: Mutex<Option<Py<PyAny>>>,
    woken_by_call_soon: AtomicBool,
}

impl LoopBridge {
    /// Put completions back at the head of the queue and make sure the loop is woken for them.
    fn requeue(&self, rest: impl Iterator<Item = Completion>) {
        let mut queue = self.inner.queue.lock().unwrap_or_else(|e| e.into_inner());
        queue.splice(0..0, rest);
        let wake = !queue.is_empty();
        drop(queue);
        if wake && !self.inner.wake_pending.swap(true, Ordering::AcqRel) {
            self.inner.wake();
        }
    }
}

impl BridgeInner {
    fn complete(&self, completion: Completion) {
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(completion);
        self.wake_once();
    }

    /// Wake the loop unless a wake-up is already pending.
    fn wake_once(&self) {
        if !self.wake_pending.swap(true, Ordering::AcqRel) {
            self.wake();
        }
    }

    fn wake(&self) {
        if self.woken_by_call_soon.load(Ordering::Acquire) {
            // try_attach fails only while the interpreter shuts down: nobody is waiting then.
            Python::try_attach(|py| {
                let waker = self.call_soon.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(waker) = waker.as_ref() {
                    if let Err(e) = waker.call0(py) {
                        e.print(py);
                    }
                }
            });
            return;
        }
        #[cfg(unix)]
        {
            use std::io::Write;
            // A full socket already holds a pending wake-up; a closed one has no listener.
            let _ = (&self.socket.0).write(&[1]);
        }
    }
}

#[pymethods]
impl LoopBridge {
    #[new]
    fn new() -> PyResult<Self> {
        #[cfg(unix)]
        let socket = {
            let (write, read) = std::os::unix::net::UnixStream::pair()?;
            write.set_nonblocking(true)?;
            read.set_nonblocking(true)?;
            (write, read)
        };
        Ok(LoopBridge {
            inner: Arc::new(BridgeInner {
                queue: Mutex::new(Vec::new()),
                wake_pending: AtomicBool::new(false),
                #[cfg(unix)]
                socket,
                call_soon: Mutex::new(None),
                woken_by_call_soon: AtomicBool::new(false),
            }),
        })
    }

    /// The socket to pass to `loop.add_reader`, or None where there is none.
    fn fileno(&self) -> Option<i64> {
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            Some(i64::from(self.inner.socket.1.as_raw_fd()))
        }
        #[cfg(not(unix))]
        None
    }

    /// Use `waker()` (e.g. `partial(loop.call_soon_threadsafe, bridge.drain)`) to wake the loop.
    fn wake_with(&self, waker: Py<PyAny>) {
        *self
            .inner
            .call_soon
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(waker);
        self.inner.woken_by_call_soon.store(true, Ordering::Release);
    }

    /// Resolve the futures of everything finished so far. Runs on the loop's thread (whose
    /// reader callback then emits the queued log records, see `_aio.py`). What the loop's code
    /// raises meanwhile (Ctrl-C lands where it may) is raised from here, and the completions not
    /// yet handed over are queued again for the next wake-up.
    fn drain(&self, py: Python<'_>) -> PyResult<()> {
        // Order matters: empty the socket, then clear the flag, then take the queue. Clearing
        // the flag first would let a task's wake-up byte be swallowed here while the flag stays
        // set, and nothing would wake the loop again.
        #[cfg(unix)]
        {
            use std::io::Read;
            let mut buf = [0u8; 256];
            while matches!((&self.inner.socket.1).read(&mut buf), Ok(n) if n > 0) {}
        }
        self.inner.wake_pending.store(false, Ordering::Release);
        let ready =
            std::mem::take(&mut *self.inner.queue.lock().unwrap_or_else(|e| e.into_inner()));
        let mut ready = ready.into_iter();
        while let Some(completion) = ready.next() {
            let future = completion.future.bind(py);
            let cancelled = future
                .call_method0(intern!(py, "cancelled"))
                .and_then(|c| c.is_truthy());
            let outcome = match cancelled {
                // A cancelled future wants no result (its task was aborted, or lost the race).
                Ok(true) => Ok(()),
                Ok(false) => match (completion.value)(py) {
                    Ok(v) => future
                        .call_method1(intern!(py, "set_result"), (v,))
                        .map(drop),
                    Err(e) => future
                        .call_method1(intern!(py, "set_exception"), (e.into_value(py),))
                        .map(drop),
                },
                Err(e) => {
                    self.requeue(std::iter::once(completion).chain(ready));
                    return Err(e);
                }
            };
            if let Err(e) = outcome {
                self.requeue(ready);
                return Err(e);
            }
        }
        Ok(())
    }

    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        if let Some(waker) = &*self
            .inner
            .call_soon
            .lock()
            .unwrap_or_else(|e| e.into_inner())
        {
            visit.call(waker)?;
        }
        Ok(())
    }

    fn __clear__(&self) {
        self.inner
            .call_soon
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
    }
}

impl LoopBridge {
    /// A handle that wakes this loop from any thread (see [`LoopWaker`]).
    pub fn waker(&self) -> LoopWaker {
        let inner = self.inner.clone();
        Arc::new(move || inner.wake_once())
    }
}

/// The running task of an awaitable call; `cancel()` drops it, and with it the request.
#[pyclass(frozen, module = "helpcrunch._native")]
pub struct TaskHandle {
    task: AbortHandle,
    /// The process whose runtime runs it (see `runtime::process_generation`).
    generation: u64,
}

#[pymethods]
impl TaskHandle {
    fn cancel(&self) {
        // A parent's task, seen from a forked child, runs nowhere: there is nothing to stop,
        // and aborting it would schedule it on the parent's runtime, whose locks a thread
        // missing here may hold.
        if self.generation == runtime::process_generation() {
            self.task.abort();
        }
    }
}

/// A task's way back to its loop. It owns what the task holds that belongs to Python (the
/// asyncio future, and the call's own future, which may hold Python objects) and hands it to
/// the loop's thread, where it is let go with the GIL held: the spent call with its value, and
/// the asyncio future of a task aborted (or dropped unpolled), from `Drop`. So a tokio thread
/// seldom releases a Python object; pyo3 defers that through a global pool behind a lock, and
/// a fork taken while a tokio thread held that lock would leave it locked in the child, whose
/// first call into this extension would wait for it forever. (An aborted call's own future is
/// dropped at once, as it must be: that is what cancels its request.)
struct Delivery<F: Future + Send + 'static> {
    inner: Arc<BridgeInner>,
    future: Option<Py<PyAny>>,
    work: Option<Pin<Box<F>>>,
}

impl<F: Future + Send + 'static> Delivery<F> {
    /// Queue the completion for the loop's thread (once: later calls do nothing).
    fn hand_over(&mut self, value: MakeValue) {
        let spent: Box<dyn Send> = match self.work.take() {
            Some(work) => Box::new(work),
            None => Box::new(()),
        };
        if let Some(future) = self.future.take() {
            self.inner.complete(Completion {
                future,
                value,
                _spent: spent,
            });
        }
    }
}

impl<F: Future + Send + 'static> Drop for Delivery<F> {
    fn drop(&mut self) {
        // Not handed over yet: the task was aborted (its asyncio future is cancelled, so this
        // value is never asked for) or dropped unpolled. Its request goes now.
        drop(self.work.take());
        self.hand_over(Box::new(|py| {
            Err(to_py_err(
                py,
                Error::Internal("the call's task ended before it finished".into()),
            ))
        }));
    }
}

/// Run `fut` on the package runtime and resolve the asyncio `future` with its value through
/// `bridge`. A panic inside becomes a `HelpCrunchError`.
pub fn spawn_for_loop<T>(
    bridge: &LoopBridge,
    future: Py<PyAny>,
    fut: impl Future<Output = T> + Send + 'static,
) -> TaskHandle
where
    T: for<'py> IntoPyObject<'py, Error = PyErr> + Send + 'static,
{
    // Built here, not in the task: a task aborted before its first poll drops it too.
    let mut delivery = Delivery {
        inner: bridge.inner.clone(),
        future: Some(future),
        work: Some(Box::pin(AssertUnwindSafe(fut).catch_unwind())),
    };
    let task = runtime::handle().spawn(async move {
        let Some(work) = delivery.work.as_mut() else {
            return;
        };
        let value: MakeValue = match work.as_mut().await {
            Ok(value) => Box::new(move |py| value.into_bound_py_any(py)),
            Err(payload) => {
                let message = panic_message(&*payload);
                Box::new(move |py| Err(to_py_err(py, Error::Internal(message))))
            }
        };
        delivery.hand_over(value);
    });
    TaskHandle {
        task: task.abort_handle(),
        generation: runtime::process_generation(),
    }
}
