//! Running core futures for Python: blocking (GIL released, Ctrl-C honoured) and as awaitables
//! on whatever asyncio loop is running.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::time::Duration;

use futures_util::FutureExt;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3_async_runtimes::generic::{ContextExt, JoinError, Runtime};
use pyo3_async_runtimes::TaskLocals;
use tokio::task::AbortHandle;

use crate::core::{runtime, Error};

/// How often a blocked call wakes to let Python run signal handlers (Ctrl-C).
const SIGNAL_CHECK_INTERVAL: Duration = Duration::from_millis(50);

struct AbortOnDrop(AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

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

/// Run `fut` to completion on the package runtime while this thread waits without the GIL.
/// Every `SIGNAL_CHECK_INTERVAL` it lets Python handle signals; a `KeyboardInterrupt` (or any
/// exception a handler raises) drops the task, which cancels the request.
pub fn block_on<T>(
    py: Python<'_>,
    fut: impl Future<Output = Result<T, Error>> + Send + 'static,
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
    let handle = runtime::handle();
    let mut task = handle.spawn(catching_panics(fut));
    let _abort = AbortOnDrop(task.abort_handle());
    py.detach(|| {
        handle.block_on(async {
            loop {
                tokio::select! {
                    joined = &mut task => {
                        return Ok(joined.unwrap_or_else(|e| Err(Error::Internal(e.to_string()))));
                    }
                    _ = tokio::time::sleep(SIGNAL_CHECK_INTERVAL) => {
                        Python::attach(|py| -> PyResult<()> {
                            // Running a statement gives the interpreter a chance to run pending
                            // signal handlers; check_signals covers the rest.
                            py.run(c"pass", None, None)?;
                            py.check_signals()
                        })?;
                    }
                }
            }
        })
    })
}

tokio::task_local! {
    static TASK_LOCALS: std::cell::OnceCell<TaskLocals>;
}

/// pyo3-async-runtimes, pointed at the package runtime (which is rebuilt after a fork; the
/// crate's own global tokio runtime cannot be).
pub struct PackageRuntime;

pub struct PackageJoinError(tokio::task::JoinError);

impl JoinError for PackageJoinError {
    fn is_panic(&self) -> bool {
        self.0.is_panic()
    }
    fn into_panic(self) -> Box<dyn std::any::Any + Send + 'static> {
        self.0.into_panic()
    }
}

type BoxedJoin = Pin<Box<dyn Future<Output = Result<(), PackageJoinError>> + Send>>;

impl Runtime for PackageRuntime {
    type JoinError = PackageJoinError;
    type JoinHandle = BoxedJoin;

    fn spawn<F>(fut: F) -> Self::JoinHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let handle = runtime::handle().spawn(fut);
        Box::pin(handle.map(|r| r.map_err(PackageJoinError)))
    }

    fn spawn_blocking<F>(f: F) -> Self::JoinHandle
    where
        F: FnOnce() + Send + 'static,
    {
        let handle = runtime::handle().spawn_blocking(f);
        Box::pin(handle.map(|r| r.map_err(PackageJoinError)))
    }
}

impl ContextExt for PackageRuntime {
    fn scope<F, R>(locals: TaskLocals, fut: F) -> Pin<Box<dyn Future<Output = R> + Send>>
    where
        F: Future<Output = R> + Send + 'static,
    {
        let cell = std::cell::OnceCell::new();
        let _ = cell.set(locals);
        Box::pin(TASK_LOCALS.scope(cell, fut))
    }

    fn get_task_locals() -> Option<TaskLocals> {
        TASK_LOCALS
            .try_with(|c| c.get().cloned())
            .unwrap_or_default()
    }
}

/// An awaitable for the running asyncio loop. Cancelling it drops the future (and the request).
pub fn into_awaitable<'py, T>(
    py: Python<'py>,
    fut: impl Future<Output = T> + Send + 'static,
) -> PyResult<Bound<'py, PyAny>>
where
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    pyo3_async_runtimes::generic::future_into_py::<PackageRuntime, _, T>(py, async move {
        Ok(fut.await)
    })
}
