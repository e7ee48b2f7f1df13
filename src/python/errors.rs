//! Core errors become the Python classes of `helpcrunch._exceptions`, which keeps the one table
//! from each error kind's name (`core::ErrorKind`) to its class; this side only hands over the
//! kind and the facts.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList};

use crate::core::Error;

static FROM_NATIVE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

pub fn to_py_err(py: Python<'_>, err: Error) -> PyErr {
    match build(py, err) {
        Ok(e) | Err(e) => e,
    }
}

fn build(py: Python<'_>, err: Error) -> PyResult<PyErr> {
    let fields = PyDict::new(py);
    let message = err.to_string();
    let kind = err.kind().name();
    match err {
        Error::Connection { attempts, .. } | Error::Timeout { attempts, .. } => {
            fields.set_item("attempts", attempts)?;
        }
        Error::ResponseValidation {
            status,
            body,
            attempts,
            ..
        } => {
            fields.set_item("status_code", status)?;
            fields.set_item("body", body)?;
            fields.set_item("attempts", attempts)?;
        }
        Error::Status(e) => {
            let errors = PyList::empty(py);
            for detail in &e.errors {
                let d = PyDict::new(py);
                d.set_item("code", &detail.code)?;
                d.set_item("message", &detail.message)?;
                errors.append(d)?;
            }
            let headers = PyDict::new(py);
            for (name, value) in &e.headers {
                // Repeated headers are joined as HTTP allows.
                let joined = match headers.get_item(name)? {
                    Some(prev) => format!("{}, {value}", prev.extract::<String>()?),
                    None => value.clone(),
                };
                headers.set_item(name, joined)?;
            }
            fields.set_item("status_code", e.status)?;
            fields.set_item("errors", errors)?;
            fields.set_item("body", &e.body)?;
            fields.set_item("headers", headers)?;
            fields.set_item("attempts", e.attempts)?;
            fields.set_item("retry_after", e.retry_after.map(|d| d.as_secs_f64()))?;
        }
        Error::InvalidInput {
            argument: Some(argument),
            ..
        } => {
            // What another layer needs to name the argument its own way (the CLI's options).
            fields.set_item("parameter", argument.name)?;
            fields.set_item("index", argument.index)?;
            fields.set_item("detail", &argument.detail)?;
        }
        Error::InvalidInput { argument: None, .. }
        | Error::Configuration(_)
        | Error::Closed
        | Error::Cancelled { .. }
        | Error::Internal(_) => {}
    }
    let from_native = FROM_NATIVE.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
        Ok(py
            .import("helpcrunch._exceptions")?
            .getattr("_from_native")?
            .unbind())
    })?;
    let exc = from_native.bind(py).call1((kind, message, fields))?;
    Ok(PyErr::from_value(exc))
}
