//! Several tags in one plan, for Python: the segments (tag, colour, keys, their places in a long
//! table) to a checked core `TagsRequest`, and the plan back as a `NativeTagsPlan`: one
//! `NativePlan` per tag (as `plan_tag` gives) and the merged `Change`s. The public `TagsPlan` is
//! built from it in `python/helpcrunch/_segments.py`.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyList;

use super::change::Change;
use super::errors::to_py_err;
use super::outcome::ToPython;
use super::sync::{key_inputs, lookup_batch_arg, native_plan, native_requests, KeyedPlan};
use super::sync::{NativePlan, NativePlanRequests, PlanCall};
use crate::core::client::Observer;
use crate::core::sync::{PlanProgress, SegmentInput, TagsPlan, TagsRequest};
use crate::core::{Client, Error};

/// A plan request for several tags, checked: nothing is sent by making one. It keeps each
/// segment's own key objects, which its plan's rows carry back.
#[pyclass(frozen, module = "helpcrunch._native")]
pub struct NativeTagsRequest {
    pub request: TagsRequest,
    pub keys: Vec<Arc<Vec<Py<PyAny>>>>,
}

impl PlanCall for NativeTagsRequest {
    type Keyed = KeyedTagsPlan;

    async fn plan(
        &self,
        core: &Client,
        observer: Option<Arc<dyn Observer>>,
        progress: Arc<PlanProgress>,
    ) -> Result<KeyedTagsPlan, Error> {
        let plan = core
            .plan_tags_showing(&self.request, observer, progress)
            .await?;
        Ok(KeyedTagsPlan {
            plan,
            keys: self.keys.clone(),
        })
    }
}

#[pymethods]
impl NativeTagsRequest {
    /// The managed tags, in order.
    #[getter]
    fn tags(&self) -> Vec<String> {
        self.request
            .segments
            .iter()
            .map(|s| s.tag.name.clone())
            .collect()
    }
}

/// A segment as `_segments.py` passes it.
type Segment<'py> = (
    String,
    Option<String>,
    Bound<'py, PyList>,
    Option<Vec<usize>>,
);

/// Check the arguments; `segments` is a list of `(tag, color, keys, positions)` tuples, each
/// `keys` a list already taken out of the caller's input and `positions` None or a list of
/// ints (each key's row in the caller's long table).
pub fn tags_request(
    py: Python<'_>,
    segments: &Bound<'_, PyList>,
    mode: &str,
    kind: &str,
    lookup_batch: &Bound<'_, PyAny>,
) -> PyResult<NativeTagsRequest> {
    let mut inputs = Vec::with_capacity(segments.len());
    let mut keys = Vec::with_capacity(segments.len());
    for segment in segments.iter() {
        let (tag, color, rows, positions): Segment<'_> = segment.extract()?;
        inputs.push(SegmentInput {
            tag,
            color,
            keys: key_inputs(py, &rows)?,
            positions,
        });
        keys.push(Arc::new(rows.iter().map(Bound::unbind).collect()));
    }
    let lookup_batch = lookup_batch_arg(py, lookup_batch)?;
    let request =
        TagsRequest::new(inputs, mode, kind, lookup_batch).map_err(|e| to_py_err(py, e))?;
    Ok(NativeTagsRequest { request, keys })
}

/// A plan of several tags, as the core made it.
#[pyclass(frozen, get_all, module = "helpcrunch._native")]
pub struct NativeTagsPlan {
    mode: &'static str,
    r#match: &'static str,
    strategy: &'static str,
    strategy_reason: String,
    lookup_batch: u64,
    page_size: u64,
    requests: Py<NativePlanRequests>,
    /// One per managed tag, in order.
    plans: Vec<Py<NativePlan>>,
    /// What applying sends, merged per customer: the adds, then the removals.
    changes: Vec<Py<Change>>,
}

/// A plan of several tags with each segment's key objects.
pub struct KeyedTagsPlan {
    pub plan: TagsPlan,
    pub keys: Vec<Arc<Vec<Py<PyAny>>>>,
}

impl ToPython for KeyedTagsPlan {
    fn to_python<'py>(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let KeyedTagsPlan { plan, keys } = self;
        let plans = plan
            .plans
            .into_iter()
            .zip(keys)
            .map(|(plan, keys)| Py::new(py, native_plan(py, KeyedPlan { plan, keys })?))
            .collect::<PyResult<Vec<_>>>()?;
        let changes = plan
            .changes
            .into_iter()
            .map(|c| Py::new(py, Change::new(c)))
            .collect::<PyResult<Vec<_>>>()?;
        let native = NativeTagsPlan {
            mode: plan.mode.name(),
            r#match: plan.kind.name(),
            strategy: plan.strategy.name(),
            strategy_reason: plan.strategy_reason,
            lookup_batch: plan.lookup_batch,
            page_size: plan.page_size,
            requests: Py::new(py, native_requests(&plan.requests))?,
            plans,
            changes,
        };
        Ok(Bound::new(py, native)?.into_any())
    }
}
