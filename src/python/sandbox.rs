//! `helpcrunch._native.SandboxServer`: the Rust sandbox as Python sees it. The public
//! `helpcrunch.sandbox.Sandbox` wraps it.

use std::io;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use pyo3::exceptions::{PyFileNotFoundError, PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyList;
use serde_json::{Map, Value};

use super::convert::{json_to_py, object_to_py};
use crate::core::runtime;
use crate::sandbox::{
    Customers, ErrorStyle, Fault, FaultMatch, Sandbox, SandboxConfig, WebhookConfig, WebhookStats,
    DEFAULT_LOG_CAPACITY, DEFAULT_SEED,
};

#[pyclass(frozen, module = "helpcrunch._native")]
pub struct SandboxServer {
    inner: Sandbox,
}

fn parse_customers(json: &str) -> PyResult<Vec<Map<String, Value>>> {
    let value: Value = serde_json::from_str(json)
        .map_err(|e| PyValueError::new_err(format!("customers are not JSON-serialisable: {e}")))?;
    let Value::Array(items) = value else {
        return Err(PyValueError::new_err("customers must be a list of dicts"));
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::Object(map) => Ok(map),
            _ => Err(PyValueError::new_err(format!(
                "customers[{i}] is not a dict"
            ))),
        })
        .collect()
}

/// Bad customers or settings are the caller's mistake (ValueError); a missing file or a
/// port in use are the machine's (OSError).
fn start_error(e: io::Error) -> PyErr {
    match e.kind() {
        io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData => {
            PyValueError::new_err(e.to_string())
        }
        io::ErrorKind::NotFound => PyFileNotFoundError::new_err(e.to_string()),
        _ => PyOSError::new_err(format!("cannot start the sandbox: {e}")),
    }
}

#[pymethods]
impl SandboxServer {
    #[classattr]
    const DEFAULT_LOG_CAPACITY: usize = DEFAULT_LOG_CAPACITY;

    /// The customers: `customers_json` (a JSON array), else `generate` customers from
    /// `seed`, else the file at `load`, else the demo set.
    #[new]
    #[pyo3(signature = (api_key, rate_limit=None, customers_json=None, host="127.0.0.1", port=0, log_capacity=DEFAULT_LOG_CAPACITY, *, generate=None, seed=None, load=None, max_page_size=None, max_filters=None, unstable_ties=false, error_style="mixed", webhook_url=None, webhook_secret=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        api_key: String,
        rate_limit: Option<u32>,
        customers_json: Option<&str>,
        host: &str,
        port: u16,
        log_capacity: usize,
        generate: Option<usize>,
        seed: Option<u64>,
        load: Option<PathBuf>,
        max_page_size: Option<usize>,
        max_filters: Option<usize>,
        unstable_ties: bool,
        error_style: &str,
        webhook_url: Option<String>,
        webhook_secret: Option<String>,
    ) -> PyResult<Self> {
        let error_style = ErrorStyle::parse(error_style).ok_or_else(|| {
            PyValueError::new_err(format!(
                "error_style must be \"mixed\", \"two\" or \"one\", got {error_style:?}"
            ))
        })?;
        let webhook = match (webhook_url, webhook_secret) {
            (Some(url), Some(secret)) => Some(WebhookConfig { url, secret }),
            (None, None) => None,
            // Never the secret's value in the message.
            _ => {
                return Err(PyValueError::new_err(
                    "webhook_url and webhook_secret go together: give both or neither",
                ))
            }
        };
        let host: IpAddr = host.parse().map_err(|_| {
            PyValueError::new_err(format!("host must be an IP address, got {host:?}"))
        })?;
        let customers = match (customers_json, generate, load) {
            (Some(json), _, _) => Customers::Given(parse_customers(json)?),
            (None, Some(count), _) => Customers::Generated {
                count,
                seed: seed.unwrap_or(DEFAULT_SEED),
            },
            (None, None, Some(path)) => Customers::File(path),
            (None, None, None) => Customers::Demo,
        };
        let config = SandboxConfig {
            api_key,
            rate_limit,
            customers,
            host,
            port,
            log_capacity,
            max_page_size,
            max_filters,
            unstable_ties,
            error_style,
            webhook,
        };
        // Generating or loading a large account takes a while: let other threads run.
        let inner = py
            .detach(|| Sandbox::start(config, &runtime::handle()))
            .map_err(start_error)?;
        Ok(SandboxServer { inner })
    }

    #[getter]
    fn base_url(&self) -> String {
        self.inner.base_url()
    }

    #[getter]
    fn api_key(&self) -> &str {
        self.inner.api_key()
    }

    #[getter]
    fn port(&self) -> u16 {
        self.inner.addr().port()
    }

    fn customer<'py>(&self, py: Python<'py>, id: u64) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.inner
            .customer(id)
            .map(|c| object_to_py(py, &c).map(Bound::into_any))
            .transpose()
    }

    fn customer_count(&self) -> usize {
        self.inner.customer_count()
    }

    fn customers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let all = Value::Array(
            self.inner
                .customers()
                .into_iter()
                .map(Value::Object)
                .collect(),
        );
        json_to_py(py, &all)
    }

    /// `(method, path, status)` of the most recent requests, oldest first.
    fn requests<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let records = self.inner.requests();
        PyList::new(
            py,
            records.into_iter().map(|r| (r.method, r.path, r.status)),
        )
    }

    fn request_count(&self) -> u64 {
        self.inner.request_count()
    }

    fn status_count(&self, status: u16) -> u64 {
        self.inner.status_count(status)
    }

    fn connection_count(&self) -> u64 {
        self.inner.connection_count()
    }

    fn clear_requests(&self) {
        self.inner.clear_requests();
    }

    fn pending_faults(&self) -> u64 {
        self.inner.pending_faults()
    }

    fn clear_faults(&self) {
        self.inner.clear_faults();
    }

    /// Queue a fault. `kind` is one of status, latency, drop, drop_after, not_json, truncated.
    #[pyo3(signature = (kind, times, status=500, retry_after=None, body=None, content_type=None, headers=Vec::new(), seconds=0.0, method=None, path_prefix=None))]
    #[allow(clippy::too_many_arguments)]
    fn fail_next(
        &self,
        kind: &str,
        times: u32,
        status: u16,
        retry_after: Option<String>,
        body: Option<Vec<u8>>,
        content_type: Option<String>,
        headers: Vec<(String, String)>,
        seconds: f64,
        method: Option<String>,
        path_prefix: Option<String>,
    ) -> PyResult<()> {
        let fault = match kind {
            "status" => Fault::Status {
                status,
                retry_after,
                body,
                content_type,
                headers,
            },
            "latency" => Fault::Latency(Duration::try_from_secs_f64(seconds).map_err(|_| {
                PyValueError::new_err(format!(
                    "seconds must be a non-negative number of seconds, got {}",
                    crate::core::config::Float(seconds)
                ))
            })?),
            "drop" => Fault::DropConnection,
            "drop_after" => Fault::DropAfterProcessing,
            "not_json" => Fault::NotJson,
            "truncated" => Fault::Truncated,
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown fault kind {other:?}"
                )))
            }
        };
        self.inner.fail_next_matching(
            fault,
            times,
            FaultMatch {
                method,
                path_prefix,
            },
        );
        Ok(())
    }

    /// `(queued, delivered, failed, attempts)` of the webhook events.
    fn webhook_stats(&self) -> (u64, u64, u64, u64) {
        stats_tuple(self.inner.webhook_stats())
    }

    /// Waits (without the GIL, waking for signals) until every webhook event is delivered or
    /// given up on, or `timeout` seconds pass; the stats either way.
    fn wait_webhooks(&self, py: Python<'_>, timeout: f64) -> PyResult<(u64, u64, u64, u64)> {
        let timeout = Duration::try_from_secs_f64(timeout).map_err(|_| {
            PyValueError::new_err(format!(
                "timeout must be a non-negative number of seconds, got {}",
                crate::core::config::Float(timeout)
            ))
        })?;
        // None: too far off to tell from forever.
        let deadline = std::time::Instant::now().checked_add(timeout);
        loop {
            let left = deadline.map_or(Duration::MAX, |d| {
                d.saturating_duration_since(std::time::Instant::now())
            });
            let step = left.min(Duration::from_millis(100));
            let stats = py.detach(|| self.inner.wait_webhooks(step));
            if stats.queued == stats.delivered + stats.failed || left <= step {
                return Ok(stats_tuple(stats));
            }
            py.check_signals()?;
        }
    }

    fn shutdown(&self) {
        self.inner.shutdown();
    }

    fn __repr__(&self) -> String {
        format!("SandboxServer(base_url={:?})", self.inner.base_url())
    }
}

fn stats_tuple(s: WebhookStats) -> (u64, u64, u64, u64) {
    (s.queued, s.delivered, s.failed, s.attempts)
}
