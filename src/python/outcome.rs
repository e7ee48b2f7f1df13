//! A core result for Python, whether a blocking call returns it or an awaitable's future is
//! resolved with it: once the GIL is held, the payload becomes Python values, or the core error
//! is raised as the class `errors` maps its kind to. One wrapper for every call; each payload
//! says only how it becomes Python values.

use pyo3::prelude::*;

use super::errors::to_py_err;
use crate::core::Error;

/// What a call gives back, as Python values. The conversion may fail in its own right (a body
/// that cannot become Python values): it raises that as the call's error.
pub trait ToPython {
    fn to_python<'py>(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>>;
}

/// A core result, turned into Python values (or raised) once the GIL is held.
pub struct Outcome<T>(pub Result<T, Error>);

impl<'py, T: ToPython> IntoPyObject<'py> for Outcome<T> {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.0.map_err(|err| to_py_err(py, err))?.to_python(py)
    }
}

/// A count.
impl ToPython for u64 {
    fn to_python<'py>(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(self.into_pyobject(py)?.into_any())
    }
}

/// Done, with nothing to give: None.
impl ToPython for () {
    fn to_python<'py>(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(py.None().into_bound(py))
    }
}
