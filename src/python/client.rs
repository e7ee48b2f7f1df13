//! `helpcrunch._native.NativeClient`: the core client as Python sees it. The public `Client` and
//! `AsyncClient` in `python/helpcrunch/_client.py` wrap it.

use std::sync::Arc;
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple};

use super::bridge::{block_on, spawn_for_loop, LoopBridge, TaskHandle, Wait};
use super::bulk::NativeBulkRun;
use super::convert::{self, Refused};
use super::errors::to_py_err;
use crate::core::bulk::BulkRun;
use crate::core::client::{
    mask_key, AttemptEvent, Observer, Operation, DEFAULT_MAX_RESPONSE_BYTES,
};
use crate::core::{Client, ClientConfig, Customer, Error, TagUse};

const DEBUG: u8 = 10;
const INFO: u8 = 20;

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

/// Sends each attempt to the `helpcrunch` logger: DEBUG for every attempt, INFO for retries.
/// Only made when the logger would print something, so a quiet logger costs nothing per request.
struct LogObserver {
    min_level: u8,
}

impl LogObserver {
    fn for_current_level(py: Python<'_>) -> Option<Arc<dyn Observer>> {
        let logger = logger(py).ok()?;
        let enabled = |level: u8| {
            logger
                .call_method1("isEnabledFor", (level,))
                .and_then(|r| r.is_truthy())
                .unwrap_or(false)
        };
        let min_level = if enabled(DEBUG) {
            DEBUG
        } else if enabled(INFO) {
            INFO
        } else {
            return None;
        };
        Some(Arc::new(LogObserver { min_level }))
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
        // try_attach: a request finishing while the interpreter shuts down logs nothing.
        Python::try_attach(|py| {
            let result = (|| -> PyResult<()> {
                let extra = PyDict::new(py);
                extra.set_item("method", ev.method)?;
                extra.set_item("path", ev.path)?;
                extra.set_item("status", ev.status)?;
                extra.set_item("attempt", ev.attempt)?;
                extra.set_item("elapsed_ms", elapsed_ms)?;
                let kwargs = PyDict::new(py);
                kwargs.set_item("extra", extra)?;
                logger(py)?.call_method("log", (level, message), Some(&kwargs))?;
                Ok(())
            })();
            // A broken log handler must not break the request.
            if let Err(e) = result {
                e.print(py);
            }
        });
    }
}

/// The result of a call, converted to a dict (or raised) once the GIL is held. The client is
/// there for a body that cannot become Python values: it makes that the call's error.
pub struct CallOutcome {
    pub outcome: Result<Customer, Error>,
    pub client: Client,
}

impl<'py> IntoPyObject<'py> for CallOutcome {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let customer = self.outcome.map_err(|err| to_py_err(py, err))?;
        convert::customer_to_py(py, &customer)
            .map_err(|message| to_py_err(py, self.client.unusable_body(&customer, message)))
    }
}

#[pyclass(frozen, module = "helpcrunch._native")]
pub struct NativeClient {
    core: Client,
}

impl NativeClient {
    fn run_blocking(&self, py: Python<'_>, op: Result<Operation, Refused>) -> PyResult<Py<PyAny>> {
        let op = op.map_err(|e| e.into_py_err(py))?;
        let observer = LogObserver::for_current_level(py);
        let core = self.core.clone();
        let outcome = block_on(
            py,
            Wait::PollFirst,
            async move { core.call(op, observer).await },
        )?;
        let client = self.core.clone();
        Ok(CallOutcome { outcome, client }.into_pyobject(py)?.unbind())
    }

    fn run_async(
        &self,
        py: Python<'_>,
        op: Result<Operation, Refused>,
        bridge: &LoopBridge,
        future: Py<PyAny>,
    ) -> PyResult<TaskHandle> {
        let op = op.map_err(|e| e.into_py_err(py))?;
        let observer = LogObserver::for_current_level(py);
        let core = self.core.clone();
        Ok(spawn_for_loop(bridge, future, async move {
            let outcome = core.call(op, observer).await;
            CallOutcome {
                outcome,
                client: core,
            }
        }))
    }
}

#[pymethods]
impl NativeClient {
    #[new]
    #[allow(clippy::too_many_arguments)] // mirrors the Python constructor's keywords
    #[pyo3(signature = (api_key, base_url, timeout, max_retries, rate_limit, allow_insecure_http=false, max_response_bytes=DEFAULT_MAX_RESPONSE_BYTES))]
    fn new(
        py: Python<'_>,
        api_key: String,
        base_url: String,
        timeout: f64,
        max_retries: u32,
        rate_limit: Option<f64>,
        allow_insecure_http: bool,
        max_response_bytes: usize,
    ) -> PyResult<Self> {
        if !(timeout.is_finite() && timeout > 0.0) {
            return Err(to_py_err(
                py,
                Error::Configuration(format!(
                    "timeout must be a positive number of seconds, got {timeout}"
                )),
            ));
        }
        let config = ClientConfig {
            api_key,
            base_url,
            timeout: Duration::from_secs_f64(timeout),
            max_retries,
            rate_limit,
            allow_insecure_http,
            max_response_bytes,
        };
        let core = Client::new(config).map_err(|e| to_py_err(py, e))?;
        Ok(NativeClient { core })
    }

    fn remove_tags(
        &self,
        py: Python<'_>,
        customer_id: &Bound<'_, PyAny>,
        tags: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        self.run_blocking(
            py,
            convert::tag_operation(TagUse::Remove, customer_id, tags),
        )
    }

    fn add_tags(
        &self,
        py: Python<'_>,
        customer_id: &Bound<'_, PyAny>,
        tags: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        self.run_blocking(py, convert::tag_operation(TagUse::Add, customer_id, tags))
    }

    fn get_customer(&self, py: Python<'_>, customer_id: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let op = convert::customer_id(customer_id).map(Operation::GetCustomer);
        self.run_blocking(py, op)
    }

    /// Start the call; `future` (of the running loop, whose `bridge` this is) gets the result.
    fn remove_tags_async(
        &self,
        py: Python<'_>,
        customer_id: &Bound<'_, PyAny>,
        tags: &Bound<'_, PyAny>,
        bridge: &Bound<'_, LoopBridge>,
        future: Py<PyAny>,
    ) -> PyResult<TaskHandle> {
        self.run_async(
            py,
            convert::tag_operation(TagUse::Remove, customer_id, tags),
            bridge.get(),
            future,
        )
    }

    /// Start the call; `future` (of the running loop, whose `bridge` this is) gets the result.
    fn add_tags_async(
        &self,
        py: Python<'_>,
        customer_id: &Bound<'_, PyAny>,
        tags: &Bound<'_, PyAny>,
        bridge: &Bound<'_, LoopBridge>,
        future: Py<PyAny>,
    ) -> PyResult<TaskHandle> {
        self.run_async(
            py,
            convert::tag_operation(TagUse::Add, customer_id, tags),
            bridge.get(),
            future,
        )
    }

    fn get_customer_async(
        &self,
        py: Python<'_>,
        customer_id: &Bound<'_, PyAny>,
        bridge: &Bound<'_, LoopBridge>,
        future: Py<PyAny>,
    ) -> PyResult<TaskHandle> {
        let op = convert::customer_id(customer_id).map(Operation::GetCustomer);
        self.run_async(py, op, bridge.get(), future)
    }

    /// A bulk run of `kind` ("remove" or "add") on this client, `concurrency` at a time.
    fn bulk(&self, py: Python<'_>, kind: &str, concurrency: usize) -> PyResult<NativeBulkRun> {
        let kind = match kind {
            "remove" => TagUse::Remove,
            "add" => TagUse::Add,
            other => {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "unknown bulk kind {other:?}"
                )))
            }
        };
        if concurrency == 0 {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "concurrency must be at least 1",
            ));
        }
        let observer = LogObserver::for_current_level(py);
        Ok(NativeBulkRun::new(
            BulkRun::new(self.core.clone(), concurrency, observer),
            kind,
        ))
    }

    fn close(&self) {
        self.core.close();
    }

    #[getter]
    fn closed(&self) -> bool {
        self.core.is_closed()
    }

    /// The settings, without the key (for repr and for rebuilding elsewhere).
    fn settings<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let c = self.core.config();
        let d = PyDict::new(py);
        d.set_item("base_url", self.core.base_url())?;
        d.set_item("timeout", c.timeout.as_secs_f64())?;
        d.set_item("max_retries", c.max_retries)?;
        d.set_item("rate_limit", c.rate_limit)?;
        d.set_item("allow_insecure_http", c.allow_insecure_http)?;
        d.set_item("max_response_bytes", c.max_response_bytes)?;
        Ok(d)
    }

    #[getter]
    fn masked_api_key(&self) -> String {
        mask_key(&self.core.config().api_key)
    }

    /// Pickling carries the key (the receiving process must be able to call HelpCrunch) and the
    /// settings; connections and the limiter's state are rebuilt there.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let this = slf.get();
        let c = this.core.config();
        let args = (
            c.api_key.clone(),
            c.base_url.clone(),
            c.timeout.as_secs_f64(),
            c.max_retries,
            c.rate_limit,
            c.allow_insecure_http,
            c.max_response_bytes,
        );
        PyTuple::new(
            py,
            [
                slf.get_type().into_any(),
                args.into_pyobject(py)?.into_any(),
            ],
        )
    }

    fn __repr__(&self) -> String {
        format!(
            "NativeClient(base_url={:?}, api_key={})",
            self.core.base_url(),
            mask_key(&self.core.config().api_key)
        )
    }
}
