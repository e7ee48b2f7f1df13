//! `helpcrunch._native.NativeBulkRun`: a core bulk run as Python drives it. Python feeds items
//! and takes finished ones in batches (one GIL hand-over per batch, not per item); the pure-Python
//! side (`python/helpcrunch/_bulk.py`) handles inputs, progress, checkpoints and reports.

use std::sync::Arc;

use pyo3::exceptions::PyTypeError;
use pyo3::intern;
use pyo3::prelude::*;

use super::bridge::{block_on, spawn_for_loop, LoopBridge, TaskHandle, Wait};
use super::change::Change;
use super::convert;
use super::errors::to_py_err;
use super::outcome::Outcome;
use crate::core::bulk::{BulkRun, Finished};
use crate::core::validate::CustomerId;
use crate::core::{Call, Change as CoreChange, Client, Operation};

/// A finished item: its position in the input, the customer or the error, and the HTTP
/// attempts it took.
#[pyclass(frozen, get_all, module = "helpcrunch._native")]
pub struct FinishedItem {
    index: u64,
    customer: Py<PyAny>,
    error: Py<PyAny>,
    attempts: u32,
}

/// Append each finished item to `into` as a `FinishedItem`. The client makes a body that
/// cannot become Python values that item's error.
fn hand_over(
    py: Python<'_>,
    items: Vec<Finished>,
    client: &Client,
    into: &Bound<'_, PyAny>,
) -> PyResult<()> {
    for finished in items {
        let outcome = finished.outcome.and_then(|response| {
            let attempts = response.attempts;
            convert::customer_to_py(py, &response)
                .map(|dict| (dict, attempts))
                .map_err(|message| client.unusable_body(&response, message))
        });
        let (customer, error, attempts) = match outcome {
            Ok((customer, attempts)) => (customer.unbind(), py.None(), attempts),
            Err(err) => {
                let attempts = err.attempts();
                let error = to_py_err(py, err).into_value(py).into_any();
                (py.None(), error, attempts)
            }
        };
        let item = FinishedItem {
            index: finished.index,
            customer,
            error,
            attempts,
        };
        into.call_method1(intern!(py, "append"), (item,))?;
    }
    Ok(())
}

/// One input row, checked and ready to send: what the checkpoint knows it by is read from here,
/// so a generator of tags is consumed once, by the check.
#[pyclass(frozen, module = "helpcrunch._native")]
pub struct BulkItem {
    customer_id: CustomerId,
    op: Operation,
    /// The change it makes, for a run of changes.
    change: Option<CoreChange>,
}

#[pymethods]
impl BulkItem {
    /// The customer id, as a number.
    #[getter]
    fn customer_id(&self) -> u64 {
        self.customer_id.get()
    }

    /// The change it makes (a run of changes), or None.
    #[getter]
    fn change(&self) -> Option<Change> {
        self.change.clone().map(Change::new)
    }

    /// The names of the tags, each once, in the order given.
    #[getter]
    fn tag_names(&self) -> Vec<String> {
        match &self.op {
            Operation::RemoveTags(_, tags) | Operation::AddTags(_, tags) => {
                tags.iter().map(|t| t.name.clone()).collect()
            }
            _ => Vec::new(),
        }
    }
}

#[pyclass(frozen, module = "helpcrunch._native")]
pub struct NativeBulkRun {
    run: Arc<BulkRun>,
    /// The call every row makes; None for a run of changes.
    call: Option<Call>,
}

impl NativeBulkRun {
    pub fn new(run: BulkRun, call: Option<Call>) -> Self {
        NativeBulkRun {
            run: Arc::new(run),
            call,
        }
    }
}

#[pymethods]
impl NativeBulkRun {
    /// Check one row. Bad input raises `TypeError`/`ValueError`; nothing is sent.
    fn check(
        &self,
        py: Python<'_>,
        customer_id: &Bound<'_, PyAny>,
        tags: &Bound<'_, PyAny>,
    ) -> PyResult<BulkItem> {
        let call = self
            .call
            .ok_or_else(|| PyTypeError::new_err("a run of changes takes Change objects"))?;
        let op =
            convert::call_with(call, customer_id, Some(tags)).map_err(|e| e.into_py_err(py))?;
        // `call_with` makes only calls on one customer.
        let customer_id = op
            .customer_id()
            .ok_or_else(|| PyTypeError::new_err("a bulk run's calls are each on one customer"))?;
        Ok(BulkItem {
            customer_id,
            op,
            change: None,
        })
    }

    /// A change, ready to send (it was checked when it was made).
    fn check_change(&self, change: &Bound<'_, Change>) -> BulkItem {
        let change = change.get().inner.clone();
        BulkItem {
            customer_id: change.customer_id,
            op: change.operation(),
            change: Some(change),
        }
    }

    /// Start a checked row as item `index`.
    fn submit(&self, index: u64, item: &Bound<'_, BulkItem>) {
        self.run.submit(index, item.get().op.clone());
    }

    /// Wait (GIL released, Ctrl-C honoured) until a finished item is ready to take, or none is
    /// outstanding. Takes nothing, so an interrupt here loses nothing.
    fn wait_ready(&self, py: Python<'_>) -> PyResult<()> {
        let run = self.run.clone();
        let waited = block_on(py, Wait::Sleep, async move {
            run.wait_ready().await;
            Ok(())
        })?;
        waited.map_err(|e| to_py_err(py, e))
    }

    /// `wait_ready` for asyncio: `future` (of the loop whose `bridge` this is) gets None.
    /// Cancelling it loses nothing.
    fn wait_ready_async(&self, bridge: &Bound<'_, LoopBridge>, future: Py<PyAny>) -> TaskHandle {
        let run = self.run.clone();
        spawn_for_loop(bridge.get(), future, async move {
            run.wait_ready().await;
            Outcome(Ok(()))
        })
    }

    /// Append up to `max_items` finished items to `into` (a list or deque), without waiting.
    /// Each is appended as it is taken, so what an interrupt finds is either still here or
    /// already there.
    fn take_ready(
        &self,
        py: Python<'_>,
        into: &Bound<'_, PyAny>,
        max_items: usize,
    ) -> PyResult<()> {
        let items = self.run.take_ready(max_items);
        hand_over(py, items, self.run.client(), into)
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
