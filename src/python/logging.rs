//! The `helpcrunch` logger: each attempt the core reports becomes a log record.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;

use crate::core::client::{AttemptEvent, Observer};

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
pub struct LogObserver {
    min_level: u8,
}

impl LogObserver {
    /// What asking the logger raised (it runs Python code: Ctrl-C can land there) is raised
    /// by the call, not dropped.
    pub fn for_current_level(py: Python<'_>) -> PyResult<Option<Arc<dyn Observer>>> {
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
        Ok(Some(Arc::new(LogObserver { min_level })))
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
