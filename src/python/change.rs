//! `helpcrunch.Change`: the core's one change to one customer (src/core/change.rs), as Python
//! sees it: what a plan item sends, what a log records, what undo reverses.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use super::errors::to_py_err;
use crate::core::Change as CoreChange;

/// One change to one customer. Frozen, comparable, picklable; its record is what a log holds.
#[pyclass(frozen, eq, module = "helpcrunch._native", name = "Change")]
#[derive(Clone, PartialEq)]
pub struct Change {
    pub inner: CoreChange,
}

impl Change {
    pub fn new(inner: CoreChange) -> Change {
        Change { inner }
    }
}

#[pymethods]
impl Change {
    /// The change a record (from :meth:`record`) describes; ValueError if it is not one.
    #[staticmethod]
    fn from_record(py: Python<'_>, record: &str) -> PyResult<Change> {
        CoreChange::from_record(record)
            .map(Change::new)
            .map_err(|e| to_py_err(py, e))
    }

    /// Its record, as JSON text: ``{"change": ..., "customer_id": ..., "tags": [...]}``.
    fn record(&self) -> String {
        self.inner.to_record()
    }

    /// The change that puts back what this one replaced.
    fn inverse(&self) -> Change {
        Change::new(self.inner.inverse())
    }

    #[getter]
    fn customer_id(&self) -> u64 {
        self.inner.customer_id.get()
    }

    /// ``add`` or ``remove`` (a plan item's action).
    #[getter]
    fn kind(&self) -> &'static str {
        self.inner.edit.kind()
    }

    /// The tags it adds or removes, as ``{"name": ..., "color": ...}`` dicts (colour only when
    /// known): for a removal, the colour the tag had, which undo puts back.
    #[getter]
    fn tags<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for tag in self.inner.edit.tags() {
            let d = PyDict::new(py);
            d.set_item("name", &tag.name)?;
            if let Some(color) = &tag.color {
                d.set_item("color", color)?;
            }
            list.append(d)?;
        }
        Ok(list)
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, (String,))> {
        let from_record = slf.get_type().getattr("from_record")?;
        Ok((from_record, (slf.get().inner.to_record(),)))
    }

    fn __repr__(&self) -> String {
        let names: Vec<&str> = self
            .inner
            .edit
            .tags()
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        format!(
            "Change({} {:?} on customer {})",
            self.inner.edit.kind(),
            names,
            self.inner.customer_id
        )
    }
}
