//! Python values to core types and back, a file per concern: a call's arguments (customer ids,
//! tags, the call's name: `operation`), a search's arguments (`query`), the settings
//! (`settings`), and JSON out as plain dicts and lists (`output`). Here: how an input is
//! refused, and the readings of a Python object they share. Only types are judged on this side;
//! the core judges the values.

mod operation;
mod output;
mod query;
mod settings;

use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;

use super::errors::to_py_err;
use crate::core::Error;

pub use operation::{call, call_with, customer_id, operation};
pub use output::{customer_to_py, json_to_py, json_to_py_value, object_to_py};
pub use query::{limit_setting, query_input};
pub use settings::{float_setting, int_setting, text_setting};

/// Why an input was not taken: bad input (raised as `TypeError`/`ValueError`, with the
/// exception the caller's object raised, if any, as its `__cause__`), or an exception that is
/// nobody's input error, such as a `KeyboardInterrupt` while a generator of tags ran, which
/// passes through untouched. Nothing a Python call raised is ever dropped.
pub enum Refused {
    Input(Error),
    InputBecause(Error, PyErr),
    Passthrough(PyErr),
}

impl From<Error> for Refused {
    fn from(e: Error) -> Self {
        Refused::Input(e)
    }
}

impl From<PyErr> for Refused {
    fn from(e: PyErr) -> Self {
        Refused::Passthrough(e)
    }
}

impl Refused {
    pub fn into_py_err(self, py: Python<'_>) -> PyErr {
        match self {
            Refused::Input(e) => to_py_err(py, e),
            Refused::InputBecause(e, cause) => {
                let err = to_py_err(py, e);
                err.set_cause(py, Some(cause));
                err
            }
            Refused::Passthrough(e) => e,
        }
    }
}

/// An exception the caller's object raised while being read: an `Exception` means the input is
/// bad (described by `refuse`, the exception kept as the cause); a `BaseException` (Ctrl-C,
/// SystemExit) is passed on unchanged.
fn reading(py: Python<'_>, err: PyErr, refuse: impl FnOnce() -> Error) -> Refused {
    if err.is_instance_of::<PyException>(py) {
        Refused::InputBecause(refuse(), err)
    } else {
        Refused::Passthrough(err)
    }
}

/// The name of `obj`'s type, for messages. Python 3.10 reads it as an attribute of the type,
/// which a metaclass may turn into code that raises: that is not lost either.
pub fn type_name(obj: &Bound<'_, PyAny>) -> Result<String, Refused> {
    match obj.get_type().name() {
        Ok(name) => Ok(name.to_string_lossy().into_owned()),
        Err(e) => Err(reading(obj.py(), e, || {
            Error::type_error("an argument's type has a name that cannot be read")
        })),
    }
}

/// `repr(obj)`, for quoting a value in a message exactly as the caller would have typed it.
fn repr(obj: &Bound<'_, PyAny>) -> Result<String, Refused> {
    match obj.repr() {
        Ok(text) => Ok(text.to_string_lossy().into_owned()),
        Err(e) => Err(reading(obj.py(), e, || {
            Error::type_error("an argument's repr() failed")
        })),
    }
}

/// `{name} must be {wanted}, not {type}`, for an argument of the wrong type.
fn wrong_type(name: &str, wanted: &str, obj: &Bound<'_, PyAny>) -> Refused {
    match type_name(obj) {
        Ok(type_name) => {
            Error::type_error(format!("{name} must be {wanted}, not {type_name}")).into()
        }
        Err(e) => e,
    }
}

static MAPPING_ABC: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// `isinstance(obj, collections.abc.Mapping)`. The check may run the caller's code (a
/// metaclass's `__instancecheck__`, a `__class__` property), so what it raises is passed on:
/// pyo3's own `PyMapping` cast would print it as "Exception ignored" and carry on.
fn is_mapping(obj: &Bound<'_, PyAny>) -> PyResult<bool> {
    if obj.is_instance_of::<PyDict>() {
        return Ok(true);
    }
    let py = obj.py();
    let abc = MAPPING_ABC.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
        Ok(py.import("collections.abc")?.getattr("Mapping")?.unbind())
    })?;
    obj.is_instance(abc.bind(py))
}
