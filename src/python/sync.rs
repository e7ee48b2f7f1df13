//! Tag sync for Python: the audience's keys to core `KeyInput`s, a checked plan request, and a
//! plan back as a dict of plain values (customers as dicts). The public `TagPlan` is built from
//! that dict in `python/helpcrunch/_sync.py`.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use super::convert;
use super::errors::to_py_err;
use crate::core::sync::{KeyInput, Plan, PlanRequest, Reason};
use crate::core::Error;

/// A plan request whose arguments were checked: nothing is sent by making one.
#[pyclass(frozen, module = "helpcrunch._native")]
pub struct NativePlanRequest {
    pub request: PlanRequest,
}

#[pymethods]
impl NativePlanRequest {
    /// Audience rows with a usable key.
    #[getter]
    fn usable_rows(&self) -> usize {
        self.request.audience.usable()
    }
}

/// One audience row as the core sees it: its type decides, the rules are the core's.
fn key_input(obj: &Bound<'_, PyAny>) -> Result<KeyInput, convert::Refused> {
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
    let keys = keys
        .iter()
        .map(|k| key_input(&k))
        .collect::<Result<Vec<KeyInput>, _>>()
        .map_err(|e| e.into_py_err(py))?;
    let lookup_batch = if lookup_batch.is_none() {
        None
    } else {
        let batch: u64 =
            convert::int_setting(crate::core::config::Setting::LookupBatch, lookup_batch)
                .map_err(|e| e.into_py_err(py))?;
        Some(i128::from(batch))
    };
    let request = PlanRequest::new(tag, color, mode, kind, keys, lookup_batch)
        .map_err(|e| to_py_err(py, e))?;
    Ok(NativePlanRequest { request })
}

/// A plan, or its error, turned into Python values once the GIL is held.
pub struct PlanOutcome(pub Result<Plan, Error>);

impl<'py> IntoPyObject<'py> for PlanOutcome {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let plan = self.0.map_err(|e| to_py_err(py, e))?;
        let d = PyDict::new(py);
        d.set_item("tag", &plan.tag)?;
        d.set_item("color", &plan.color)?;
        d.set_item("known_color", &plan.known_color)?;
        d.set_item("mode", plan.mode.name())?;
        d.set_item("match", plan.kind.name())?;
        d.set_item("holders", plan.holders)?;
        d.set_item("audience_rows", plan.audience_rows)?;
        d.set_item("usable_rows", plan.usable_rows)?;
        d.set_item("strategy", plan.strategy.name())?;
        d.set_item("strategy_reason", &plan.strategy_reason)?;
        d.set_item("lookup_batch", plan.lookup_batch)?;
        d.set_item("page_size", plan.page_size)?;
        let r = plan.requests;
        let requests = PyDict::new(py);
        requests.set_item("total", r.total())?;
        requests.set_item("probes", r.probes)?;
        requests.set_item("holder_pages", r.holder_pages)?;
        requests.set_item("lookups", r.lookups)?;
        requests.set_item("scan_pages", r.scan_pages)?;
        requests.set_item("unused", r.unused)?;
        d.set_item("requests", requests)?;
        match plan.mass_removal() {
            Some(m) => d.set_item(
                "mass_removal",
                (m.removing, m.holders, m.empty_audience, m.to_string()),
            )?,
            None => d.set_item("mass_removal", py.None())?,
        }
        // A duplicate row's kept row, by row: the reason's words count from 0, as Python
        // positions do; a caller with numbers of its own (the CLI's lines) names it from this.
        let duplicates = PyDict::new(py);
        let items = PyList::empty(py);
        for item in &plan.items {
            if let (Some(row), Some(Reason::Duplicate { kept_row })) = (item.row, &item.reason) {
                duplicates.set_item(row, kept_row)?;
            }
            let customer = match &item.customer {
                Some(json) => convert::json_to_py_value(py, json).map_err(|message| {
                    to_py_err(
                        py,
                        Error::Internal(format!("a planned customer: {message}")),
                    )
                })?,
                None => py.None().into_bound(py),
            };
            let reason = item.reason.as_ref();
            let values: [Bound<'py, PyAny>; 7] = [
                item.row.into_pyobject(py)?.into_any(),
                item.customer_id
                    .map(|id| id.get())
                    .into_pyobject(py)?
                    .into_any(),
                item.action.name().into_pyobject(py)?.into_any(),
                reason.map(|r| r.code()).into_pyobject(py)?.into_any(),
                reason
                    .map(ToString::to_string)
                    .into_pyobject(py)?
                    .into_any(),
                customer,
                item.color.as_deref().into_pyobject(py)?.into_any(),
            ];
            items.append(PyTuple::new(py, values)?)?;
        }
        d.set_item("items", items)?;
        d.set_item("duplicates", duplicates)?;
        Ok(d.into_any())
    }
}
