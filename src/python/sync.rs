//! Tag sync for Python: the audience's keys to core `KeyInput`s, a checked plan request, and a
//! plan back as typed objects (`NativePlan`, its `NativePlanItem`s each with the caller's own
//! key and its `Change`). The public `TagPlan` is built from them in `python/helpcrunch/_sync.py`.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt, PyList, PyString};

use super::change::Change;
use super::convert;
use super::errors::to_py_err;
use super::outcome::ToPython;
use crate::core::client::Observer;
use crate::core::sync::{
    KeyInput, Plan, PlanItem, PlanProgress, PlanRequest, PlanRequests, Reason,
};
use crate::core::{Client, Error};

/// A checked plan request and the core planner that answers it: `plan` (one tag) and
/// `plan_tags` (several) are one call on either (`NativeClient::plan_blocking`).
pub trait PlanCall: pyo3::PyClass<Frozen = pyo3::pyclass::boolean_struct::True> + Sync {
    /// The plan with the caller's key objects, as Python gets it.
    type Keyed: ToPython + Send + 'static;

    fn plan(
        &self,
        core: &Client,
        observer: Option<Arc<dyn Observer>>,
        progress: Arc<PlanProgress>,
    ) -> impl std::future::Future<Output = Result<Self::Keyed, Error>> + Send;
}

/// A plan request whose arguments were checked: nothing is sent by making one. It keeps the
/// caller's own key objects, which the plan's rows carry back.
#[pyclass(frozen, module = "helpcrunch._native")]
pub struct NativePlanRequest {
    pub request: PlanRequest,
    pub keys: Arc<Vec<Py<PyAny>>>,
}

impl PlanCall for NativePlanRequest {
    type Keyed = KeyedPlan;

    async fn plan(
        &self,
        core: &Client,
        observer: Option<Arc<dyn Observer>>,
        progress: Arc<PlanProgress>,
    ) -> Result<KeyedPlan, Error> {
        let plan = core
            .plan_tag_showing(&self.request, observer, progress)
            .await?;
        Ok(KeyedPlan {
            plan,
            keys: self.keys.clone(),
        })
    }
}

#[pymethods]
impl NativePlanRequest {
    /// Audience rows with a usable key.
    #[getter]
    fn usable_rows(&self) -> usize {
        self.request.audience.usable()
    }
}

/// How far a plan has got (see `core::sync::PlanProgress`): the planner stores numbers in it,
/// Python reads them (a display's tick while a blocking plan waits; a task polling beside an
/// awaited one). Nothing here calls Python.
#[pyclass(frozen, module = "helpcrunch._native")]
pub struct NativePlanProgress {
    pub progress: Arc<PlanProgress>,
}

#[pymethods]
impl NativePlanProgress {
    #[new]
    fn new() -> Self {
        NativePlanProgress {
            progress: Arc::new(PlanProgress::new()),
        }
    }

    /// Requests answered so far.
    #[getter]
    fn done(&self) -> u64 {
        self.progress.done()
    }

    /// About how many requests the plan takes in all (revised as it goes).
    #[getter]
    fn expected(&self) -> u64 {
        self.progress.expected()
    }
}

/// One audience row as the core sees it: its type decides, the rules are the core's.
pub(crate) fn key_input(obj: &Bound<'_, PyAny>) -> Result<KeyInput, convert::Refused> {
    if obj.is_none() {
        return Ok(KeyInput::Missing);
    }
    if obj.is_instance_of::<PyBool>() {
        return Ok(KeyInput::Other("bool".into()));
    }
    if obj.is_instance_of::<PyString>() {
        return Ok(match obj.extract::<String>() {
            Ok(text) => KeyInput::Text(text),
            // A lone surrogate cannot be sent.
            Err(_) => KeyInput::Other("str with a lone surrogate".into()),
        });
    }
    if obj.is_instance_of::<PyInt>() {
        return Ok(KeyInput::Integer(obj.extract::<i128>().ok()));
    }
    if obj.is_instance_of::<PyFloat>() {
        return Ok(match obj.extract::<f64>() {
            Ok(f) if f.is_nan() => KeyInput::Missing,
            _ => KeyInput::Other("float".into()),
        });
    }
    // A metaclass may make reading the name raise: that is passed on, not replaced.
    Ok(KeyInput::Other(convert::type_name(obj)?))
}

/// The audience's rows as the core's inputs.
pub fn key_inputs(py: Python<'_>, keys: &Bound<'_, PyList>) -> PyResult<Vec<KeyInput>> {
    keys.iter()
        .map(|k| key_input(&k))
        .collect::<Result<Vec<KeyInput>, _>>()
        .map_err(|e| e.into_py_err(py))
}

/// `lookup_batch=`: None, or a whole number the core's setting accepts.
pub fn lookup_batch_arg(py: Python<'_>, lookup_batch: &Bound<'_, PyAny>) -> PyResult<Option<i128>> {
    if lookup_batch.is_none() {
        return Ok(None);
    }
    let batch: u64 = convert::int_setting(crate::core::config::Setting::LookupBatch, lookup_batch)
        .map_err(|e| e.into_py_err(py))?;
    Ok(Some(i128::from(batch)))
}

/// Check a plan's arguments; each audience row is checked too (a bad one becomes a rejected
/// row). `keys` is a list, already taken out of the caller's iterable or DataFrame.
pub fn plan_request(
    py: Python<'_>,
    tag: &str,
    color: Option<&str>,
    mode: &str,
    kind: &str,
    keys: &Bound<'_, PyList>,
    lookup_batch: &Bound<'_, PyAny>,
) -> PyResult<NativePlanRequest> {
    let inputs = key_inputs(py, keys)?;
    let lookup_batch = lookup_batch_arg(py, lookup_batch)?;
    let request = PlanRequest::new(tag, color, mode, kind, inputs, lookup_batch)
        .map_err(|e| to_py_err(py, e))?;
    let keys = Arc::new(keys.iter().map(Bound::unbind).collect());
    Ok(NativePlanRequest { request, keys })
}

/// What a plan's requests spent, by purpose (see `core::sync::PlanRequests`).
#[pyclass(frozen, get_all, module = "helpcrunch._native")]
pub struct NativePlanRequests {
    total: u64,
    probes: u64,
    holder_pages: u64,
    lookups: u64,
    scan_pages: u64,
    unused: u64,
}

/// Why applying a plan is refused without `allow_mass_removal=True`.
#[pyclass(frozen, get_all, module = "helpcrunch._native")]
pub struct NativeMassRemoval {
    removing: u64,
    holders: u64,
    empty_audience: bool,
    message: String,
}

/// One line of a plan: an audience row (with the caller's own key), or a holder outside it.
#[pyclass(frozen, get_all, module = "helpcrunch._native")]
pub struct NativePlanItem {
    row: Option<usize>,
    key: Py<PyAny>,
    customer_id: Option<u64>,
    action: &'static str,
    reason_code: Option<&'static str>,
    reason: Option<String>,
    customer: Py<PyAny>,
    color: Option<String>,
    /// For a duplicate row: the row kept in its place (a position, as `row` is), so a caller
    /// with numbers of its own (the CLI's lines) can name it.
    kept_row: Option<usize>,
    change: Option<Py<Change>>,
}

/// A plan, as the core made it.
#[pyclass(frozen, get_all, module = "helpcrunch._native")]
pub struct NativePlan {
    tag: String,
    color: Option<String>,
    known_color: Option<String>,
    mode: &'static str,
    r#match: &'static str,
    holders: u64,
    audience_rows: usize,
    usable_rows: usize,
    strategy: &'static str,
    strategy_reason: String,
    lookup_batch: u64,
    page_size: u64,
    requests: Py<NativePlanRequests>,
    mass_removal: Option<Py<NativeMassRemoval>>,
    items: Vec<Py<NativePlanItem>>,
}

/// A plan with the caller's key objects, one per audience row, which its rows carry back.
pub struct KeyedPlan {
    pub plan: Plan,
    pub keys: Arc<Vec<Py<PyAny>>>,
}

fn plan_item(py: Python<'_>, item: &PlanItem, keys: &[Py<PyAny>]) -> PyResult<NativePlanItem> {
    let customer = match &item.customer {
        Some(json) => convert::json_to_py_value(py, json)
            .map_err(|message| {
                to_py_err(
                    py,
                    Error::Internal(format!("a planned customer: {message}")),
                )
            })?
            .unbind(),
        None => py.None(),
    };
    let key = match item.row.and_then(|row| keys.get(row)) {
        Some(key) => key.clone_ref(py),
        None => py.None(),
    };
    let change = match &item.change {
        Some(change) => Some(Py::new(py, Change::new(change.clone()))?),
        None => None,
    };
    Ok(NativePlanItem {
        row: item.row,
        key,
        customer_id: item.customer_id.map(|id| id.get()),
        action: item.action.name(),
        reason_code: item.reason.as_ref().map(|r| r.code()),
        reason: item.reason.as_ref().map(ToString::to_string),
        customer,
        color: item.color.clone(),
        kept_row: match &item.reason {
            Some(Reason::Duplicate { kept_row }) => Some(*kept_row),
            _ => None,
        },
        change,
    })
}

/// What a plan's requests spent, for Python.
pub fn native_requests(r: &PlanRequests) -> NativePlanRequests {
    NativePlanRequests {
        total: r.total(),
        probes: r.probes,
        holder_pages: r.holder_pages,
        lookups: r.lookups,
        scan_pages: r.scan_pages,
        unused: r.unused,
    }
}

impl ToPython for KeyedPlan {
    fn to_python<'py>(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(Bound::new(py, native_plan(py, self)?)?.into_any())
    }
}

/// One plan (one tag's, of a plan of several) as Python reads it.
pub fn native_plan(py: Python<'_>, keyed: KeyedPlan) -> PyResult<NativePlan> {
    {
        let KeyedPlan { plan, keys } = keyed;
        let requests = native_requests(&plan.requests);
        let mass_removal = match plan.mass_removal() {
            Some(m) => Some(Py::new(
                py,
                NativeMassRemoval {
                    removing: m.removing,
                    holders: m.holders,
                    empty_audience: m.empty_audience,
                    message: m.to_string(),
                },
            )?),
            None => None,
        };
        let items = plan
            .items
            .iter()
            .map(|item| Py::new(py, plan_item(py, item, &keys)?))
            .collect::<PyResult<Vec<_>>>()?;
        let native = NativePlan {
            mode: plan.mode.name(),
            r#match: plan.kind.name(),
            strategy: plan.strategy.name(),
            requests: Py::new(py, requests)?,
            mass_removal,
            items,
            holders: plan.holders,
            audience_rows: plan.audience_rows,
            usable_rows: plan.usable_rows,
            strategy_reason: plan.strategy_reason,
            lookup_batch: plan.lookup_batch,
            page_size: plan.page_size,
            tag: plan.tag,
            color: plan.color,
            known_color: plan.known_color,
        };
        Ok(native)
    }
}
