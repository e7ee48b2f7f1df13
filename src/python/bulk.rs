//! `helpcrunch._native.NativeBulkRun`: a core bulk run as Python drives it. Python feeds items
//! and takes finished ones in batches (one GIL hand-over per batch, not per item); the pure-Python
//! side (`python/helpcrunch/_bulk.py`) handles inputs, progress, checkpoints and reports.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

use super::bridge::{block_on, spawn_for_loop, LoopBridge, TaskHandle, Wait};
use super::convert;
use super::errors::to_py_err;
use crate::core::bulk::{BulkRun, Finished};
use crate::core::{Call, Client};

/// Finished items as a list of `(index, customer | None, error | None, attempts)`. The client
/// makes a body that cannot become Python values that item's error.
pub struct Batch {
    items: Vec<Finished>,
    client: Client,
}

impl<'py> IntoPyObject<'py> for Batch {
    type Target = PyList;
    type Output = Bound<'py, PyList>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for finished in self.items {
            let outcome = finished.outcome.and_then(|response| {
                let attempts = response.attempts;
                convert::customer_to_py(py, &response)
                    .map(|dict| (dict, attempts))
                    .map_err(|message| self.client.unusable_body(&response, message))
            });
            let row = match outcome {
                Ok((customer, attempts)) => PyTuple::new(
                    py,
                    [
                        finished.index.into_pyobject(py)?.into_any(),
                        customer,
                        py.None().into_bound(py),
                        attempts.into_pyobject(py)?.into_any(),
                    ],
                )?,
                Err(err) => {
                    let attempts = err.attempts();
                    PyTuple::new(
                        py,
                        [
                            finished.index.into_pyobject(py)?.into_any(),
                            py.None().into_bound(py),
                            to_py_err(py, err).into_value(py).into_bound(py).into_any(),
                            attempts.into_pyobject(py)?.into_any(),
                        ],
                    )?
                }
            };
            list.append(row)?;
        }
        Ok(list)
    }
}

#[pyclass(frozen, module = "helpcrunch._native")]
pub struct NativeBulkRun {
    run: Arc<BulkRun>,
    call: Call,
}

impl NativeBulkRun {
    pub fn new(run: BulkRun, call: Call) -> Self {
        NativeBulkRun {
            run: Arc::new(run),
            call,
        }
    }
}

#[pymethods]
impl NativeBulkRun {
    /// Check and start item `index`. Bad input raises `TypeError`/`ValueError` and sends nothing.
    fn submit(
        &self,
        py: Python<'_>,
        index: u64,
        customer_id: &Bound<'_, PyAny>,
        tags: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let op = convert::call_with(self.call, customer_id, Some(tags))
            .map_err(|e| e.into_py_err(py))?;
        self.run.submit(index, op);
        Ok(())
    }

    /// Wait (GIL released, Ctrl-C honoured) for finished items; `[]` once none is outstanding.
    fn next_batch<'py>(&self, py: Python<'py>, max_items: usize) -> PyResult<Bound<'py, PyList>> {
        let run = self.run.clone();
        let finished = block_on(py, Wait::Sleep, async move {
            Ok(run.next_batch(max_items).await)
        })?;
        match finished {
            Ok(items) => Batch {
                items,
                client: self.run.client().clone(),
            }
            .into_pyobject(py),
            Err(e) => Err(to_py_err(py, e)),
        }
    }

    /// `next_batch` for asyncio: `future` (of the loop whose `bridge` this is) gets the batch.
    fn next_batch_async(
        &self,
        max_items: usize,
        bridge: &Bound<'_, LoopBridge>,
        future: Py<PyAny>,
    ) -> TaskHandle {
        let run = self.run.clone();
        spawn_for_loop(bridge.get(), future, async move {
            let items = run.next_batch(max_items).await;
            let client = run.client().clone();
            Batch { items, client }
        })
    }

    /// Stop the run: every outstanding item finishes as cancelled.
    fn cancel(&self) {
        self.run.cancel();
    }

    #[getter]
    fn outstanding(&self) -> usize {
        self.run.outstanding()
    }
}
