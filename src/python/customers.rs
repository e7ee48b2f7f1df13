//! Customer sync for Python: a table's columns to fields, its rows to a checked request, the
//! plan back as typed objects (`NativeCustomersPlan`, its items each with the caller's key, the
//! changes per field and its `Change`), the low-level customer calls (PATCH, batch PUT, POST,
//! DELETE) and undo's reading of current values. Functions taking the `NativeClient`, so that
//! the client's one call entry stays the tag calls'. The public `CustomerPlan` is built from
//! them in `python/helpcrunch/_customers_sync.py`.

use std::sync::Arc;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use serde_json::{Map, Value};

use super::bridge::{block_on, spawn_for_loop, LoopBridge, TaskHandle, Wait};
use super::change::Change;
use super::client::NativeClient;
use super::convert;
use super::errors::to_py_err;
use super::logging::LogObserver;
use super::outcome::{Outcome, ToPython};
use super::sync::key_input;
use crate::core::fields::edit::{batch_entry, checked_fields};
use crate::core::fields::{resolve_columns, CustomersPlan, CustomersRequest, Field, FieldUndo};
use crate::core::sync::{KeyInput, MatchKind, Reason};
use crate::core::{Edit, Error, Operation, Response};

/// The most customers one batch update takes.
pub const BATCH_SIZE: usize = 10;

fn value_error(py: Python<'_>, message: impl Into<String>) -> PyErr {
    to_py_err(py, Error::value_error(message))
}

fn json_map(py: Python<'_>, text: &str, what: &str) -> PyResult<Map<String, Value>> {
    serde_json::from_str(text).map_err(|e| value_error(py, format!("{what}: {e}")))
}

/// Which column is which field: (column position, field name) pairs; ValueError for a column
/// that is not a field (unless `ignore_columns`) and for a mapping that names none.
#[pyfunction]
pub fn customer_columns(
    py: Python<'_>,
    columns: Vec<String>,
    key_column: &str,
    r#match: &str,
    mapping: Vec<(String, String)>,
    ignore_columns: bool,
) -> PyResult<Vec<(usize, String)>> {
    let kind = MatchKind::parse(r#match).map_err(|e| to_py_err(py, e))?;
    let chosen = resolve_columns(&columns, key_column, kind, &mapping, ignore_columns)
        .map_err(|e| to_py_err(py, e))?;
    Ok(chosen
        .into_iter()
        .map(|(at, field)| (at, field.to_string()))
        .collect())
}

/// A customer sync's request, checked: nothing is sent by making one.
#[pyclass(frozen, module = "helpcrunch._native")]
pub struct NativeCustomersRequest {
    request: CustomersRequest,
    keys: Arc<Vec<Py<PyAny>>>,
}

/// Check a customer sync's arguments; each row too (a bad one becomes a rejected row).
/// `cells_json`: the rows' values, a JSON list of lists (a value per field).
#[pyfunction]
#[pyo3(signature = (r#match, keys, fields, cells_json, nulls, create_missing, lookup_batch))]
#[allow(clippy::too_many_arguments)] // mirrors the Python call's keywords
pub fn customers_request(
    py: Python<'_>,
    r#match: &str,
    keys: &Bound<'_, PyList>,
    fields: Vec<String>,
    cells_json: &str,
    nulls: &str,
    create_missing: bool,
    lookup_batch: Option<u64>,
) -> PyResult<NativeCustomersRequest> {
    let inputs = keys
        .iter()
        .map(|k| key_input(&k))
        .collect::<Result<Vec<KeyInput>, _>>()
        .map_err(|e| e.into_py_err(py))?;
    let fields = fields
        .iter()
        .map(|f| Field::named(f))
        .collect::<crate::core::Result<Vec<Field>>>()
        .map_err(|e| to_py_err(py, e))?;
    let cells: Vec<Vec<Value>> = serde_json::from_str(cells_json)
        .map_err(|e| value_error(py, format!("the table's values: {e}")))?;
    let request = CustomersRequest::new(
        r#match,
        inputs,
        fields,
        cells,
        nulls,
        create_missing,
        lookup_batch.map(i128::from),
    )
    .map_err(|e| to_py_err(py, e))?;
    let keys = Arc::new(keys.iter().map(Bound::unbind).collect());
    Ok(NativeCustomersRequest { request, keys })
}

/// One row of a customer plan.
#[pyclass(frozen, get_all, module = "helpcrunch._native")]
pub struct NativeCustomerItem {
    row: usize,
    key: Py<PyAny>,
    customer_id: Option<u64>,
    action: &'static str,
    reason_code: Option<&'static str>,
    reason: Option<String>,
    kept_row: Option<usize>,
    customer: Py<PyAny>,
    /// {field: (before, after)}
    changes: Py<PyDict>,
    change: Option<Py<Change>>,
    /// The body a create sends (a dict), or None.
    create: Py<PyAny>,
}

/// A customer plan, as the core made it.
#[pyclass(frozen, get_all, module = "helpcrunch._native")]
pub struct NativeCustomersPlan {
    r#match: &'static str,
    fields: Vec<String>,
    nulls: &'static str,
    usable_rows: usize,
    read: u64,
    strategy: &'static str,
    strategy_reason: String,
    lookup_batch: u64,
    page_size: u64,
    /// Requests by purpose: total, probes, lookups, scan_pages, unused.
    requests: Py<PyDict>,
    /// Why applying is refused without allow_mass_change=True: (message, updating, read,
    /// clearing), or None.
    mass_change: Option<(String, u64, u64, u64)>,
    items: Vec<Py<NativeCustomerItem>>,
}

fn value_to_py(py: Python<'_>, value: &Option<Value>) -> PyResult<Py<PyAny>> {
    match value {
        Some(v) => Ok(convert::json_to_py(py, v)?.unbind()),
        None => Ok(py.None()),
    }
}

struct KeyedCustomersPlan {
    plan: CustomersPlan,
    keys: Arc<Vec<Py<PyAny>>>,
}

impl ToPython for KeyedCustomersPlan {
    fn to_python<'py>(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let KeyedCustomersPlan { plan, keys } = self;
        let mut items = Vec::with_capacity(plan.items.len());
        for item in &plan.items {
            let changes = PyDict::new(py);
            for c in &item.changes {
                let pair = PyTuple::new(
                    py,
                    [value_to_py(py, &c.before)?, value_to_py(py, &c.after)?],
                )?;
                changes.set_item(c.field.to_string(), pair)?;
            }
            let customer = match &item.customer {
                Some(json) => convert::json_to_py_value(py, json)
                    .map_err(|m| to_py_err(py, Error::Internal(format!("a customer: {m}"))))?
                    .unbind(),
                None => py.None(),
            };
            let create = match &item.create {
                Some(fields) => {
                    let body = Value::Object(crate::core::fields::edit::create_body(fields));
                    convert::json_to_py(py, &body)?.unbind()
                }
                None => py.None(),
            };
            let change = match &item.change {
                Some(c) => Some(Py::new(py, Change::new(c.clone()))?),
                None => None,
            };
            items.push(Py::new(
                py,
                NativeCustomerItem {
                    row: item.row,
                    key: keys
                        .get(item.row)
                        .map_or_else(|| py.None(), |k| k.clone_ref(py)),
                    customer_id: item.customer_id.map(|id| id.get()),
                    action: item.action.name(),
                    reason_code: item.reason.as_ref().map(Reason::code),
                    reason: item.reason.as_ref().map(ToString::to_string),
                    kept_row: match &item.reason {
                        Some(Reason::Duplicate { kept_row }) => Some(*kept_row),
                        _ => None,
                    },
                    customer,
                    changes: changes.unbind(),
                    change,
                    create,
                },
            )?);
        }
        let r = plan.requests;
        let requests = PyDict::new(py);
        for (name, n) in [
            ("total", r.total()),
            ("probes", r.probes),
            ("lookups", r.lookups),
            ("scan_pages", r.scan_pages),
            ("unused", r.unused),
        ] {
            requests.set_item(name, n)?;
        }
        let native = NativeCustomersPlan {
            r#match: plan.kind.name(),
            fields: plan.fields.iter().map(ToString::to_string).collect(),
            nulls: plan.nulls.name(),
            usable_rows: plan.usable_rows,
            read: plan.read,
            strategy: plan.find.strategy.name(),
            strategy_reason: plan.find.strategy_reason.clone(),
            lookup_batch: plan.find.lookup_batch,
            page_size: plan.find.page_size,
            requests: requests.unbind(),
            mass_change: plan
                .mass_change()
                .map(|m| (m.to_string(), m.updating, m.read, m.clearing)),
            items,
        };
        Ok(Bound::new(py, native)?.into_any())
    }
}

/// Plan the customer sync (searches only).
#[pyfunction]
pub fn plan_customers(
    py: Python<'_>,
    client: &NativeClient,
    request: Py<NativeCustomersRequest>,
) -> PyResult<Py<PyAny>> {
    let observer = LogObserver::for_current_level(py, None)?;
    let core = client.core().clone();
    let keys = request.get().keys.clone();
    let outcome = block_on(py, Wait::Sleep, async move {
        core.plan_customers(&request.get().request, observer).await
    })?;
    let plan = outcome.map(|plan| KeyedCustomersPlan { plan, keys });
    Ok(Outcome(plan).into_pyobject(py)?.unbind())
}

/// `plan_customers` for asyncio.
#[pyfunction]
pub fn plan_customers_async(
    py: Python<'_>,
    client: &NativeClient,
    request: Py<NativeCustomersRequest>,
    bridge: &Bound<'_, LoopBridge>,
    future: Py<PyAny>,
) -> PyResult<TaskHandle> {
    let observer = LogObserver::for_current_level(py, Some(bridge.get().waker()))?;
    let core = client.core().clone();
    let keys = request.get().keys.clone();
    Ok(spawn_for_loop(bridge.get(), future, async move {
        let plan = core.plan_customers(&request.get().request, observer).await;
        Outcome(plan.map(|plan| KeyedCustomersPlan { plan, keys }))
    }))
}

// --- the low-level calls ---------------------------------------------------------------------

/// A call's answer as Python values: the customer (or whatever JSON came), None for an empty
/// body.
struct AnyBody(Response);

impl ToPython for AnyBody {
    fn to_python<'py>(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        if self.0.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(py.None().into_bound(py));
        }
        convert::json_to_py_value(py, &self.0.body)
            .map_err(|m| to_py_err(py, Error::Internal(format!("a response: {m}"))))
    }
}

/// The operation for a low-level customer call: `update_customer` (id, fields),
/// `create_customer` (fields), `delete_customer` (id), `update_customers` (a list of fields
/// each with `customer`), a `Change` (what it sends), or a batch of `SetFields` changes.
fn customer_operation(
    py: Python<'_>,
    call: &str,
    customer_id: &Bound<'_, PyAny>,
    body_json: Option<&str>,
) -> PyResult<Operation> {
    let id = || convert::customer_id(customer_id).map_err(|e| e.into_py_err(py));
    let fields = || -> PyResult<Map<String, Value>> {
        let map = json_map(py, body_json.unwrap_or("{}"), "fields")?;
        checked_fields(map)
            .map(|f| f.0)
            .map_err(|e| to_py_err(py, e))
    };
    match call {
        "update_customer" => Ok(Operation::UpdateCustomer(id()?, fields()?)),
        "create_customer" => Ok(Operation::CreateCustomer(fields()?)),
        "delete_customer" => Ok(Operation::DeleteCustomer(id()?)),
        "update_customers" => {
            let list: Vec<Map<String, Value>> = serde_json::from_str(body_json.unwrap_or("[]"))
                .map_err(|e| value_error(py, format!("customers: {e}")))?;
            if list.is_empty() || list.len() > BATCH_SIZE {
                return Err(value_error(
                    py,
                    format!(
                        "a batch update takes 1 to {BATCH_SIZE} customers, not {}",
                        list.len()
                    ),
                ));
            }
            let mut checked = Vec::with_capacity(list.len());
            for mut entry in list {
                let id = entry
                    .shift_remove("customer")
                    .and_then(|v| v.as_u64())
                    .and_then(|n| crate::core::CustomerId::new(n).ok())
                    .ok_or_else(|| {
                        value_error(py, "each customer of a batch needs \"customer\": its id")
                    })?;
                let fields = checked_fields(entry).map_err(|e| to_py_err(py, e))?;
                let mut out = Map::new();
                out.insert("customer".into(), Value::from(id.get()));
                out.extend(fields.0);
                checked.push(out);
            }
            Ok(Operation::UpdateCustomers(checked))
        }
        other => Err(value_error(py, format!("{other:?} is not a customer call"))),
    }
}

/// The batch update of up to ten field changes: each customer whole.
fn batch_operation(py: Python<'_>, changes: &Bound<'_, PyList>) -> PyResult<Operation> {
    let mut entries = Vec::with_capacity(changes.len());
    for change in changes.iter() {
        let change = change.cast::<Change>()?;
        let inner = &change.get().inner;
        let Edit::SetFields { changes, base } = &inner.edit else {
            return Err(PyTypeError::new_err(
                "a batch update takes changes of fields",
            ));
        };
        entries.push(batch_entry(inner.customer_id, base, changes));
    }
    if entries.is_empty() || entries.len() > BATCH_SIZE {
        return Err(value_error(
            py,
            format!("a batch update takes 1 to {BATCH_SIZE} customers"),
        ));
    }
    Ok(Operation::UpdateCustomers(entries))
}

fn operation_of(
    py: Python<'_>,
    call: &Bound<'_, PyAny>,
    customer_id: &Bound<'_, PyAny>,
    body_json: Option<&str>,
) -> PyResult<Operation> {
    if let Ok(change) = call.cast::<Change>() {
        return Ok(change.get().inner.operation());
    }
    if let Ok(batch) = call.cast::<PyList>() {
        return batch_operation(py, batch);
    }
    let name: String = call.extract()?;
    customer_operation(py, &name, customer_id, body_json)
}

/// Make a customer call (see [`customer_operation`]); `call` may also be a `Change` or a list
/// of them (one batch update). Returns the answer's JSON as Python values.
#[pyfunction]
#[pyo3(signature = (client, call, customer_id=None, body_json=None))]
pub fn customer_call(
    py: Python<'_>,
    client: &NativeClient,
    call: &Bound<'_, PyAny>,
    customer_id: Option<&Bound<'_, PyAny>>,
    body_json: Option<&str>,
) -> PyResult<Py<PyAny>> {
    let none = py.None().into_bound(py);
    let op = operation_of(py, call, customer_id.unwrap_or(&none), body_json)?;
    let observer = LogObserver::for_current_level(py, None)?;
    let core = client.core().clone();
    let outcome = block_on(
        py,
        Wait::PollFirst,
        async move { core.call(op, observer).await },
    )?;
    Ok(Outcome(outcome.map(AnyBody)).into_pyobject(py)?.unbind())
}

/// `customer_call` for asyncio.
#[pyfunction]
#[pyo3(signature = (client, call, customer_id, body_json, bridge, future))]
pub fn customer_call_async(
    py: Python<'_>,
    client: &NativeClient,
    call: &Bound<'_, PyAny>,
    customer_id: Option<&Bound<'_, PyAny>>,
    body_json: Option<&str>,
    bridge: &Bound<'_, LoopBridge>,
    future: Py<PyAny>,
) -> PyResult<TaskHandle> {
    let none = py.None().into_bound(py);
    let op = operation_of(py, call, customer_id.unwrap_or(&none), body_json)?;
    let observer = LogObserver::for_current_level(py, Some(bridge.get().waker()))?;
    let core = client.core().clone();
    Ok(spawn_for_loop(bridge.get(), future, async move {
        Outcome(core.call(op, observer).await.map(AnyBody))
    }))
}

// --- undo ------------------------------------------------------------------------------------

/// What undoing a log's field changes sends and leaves.
#[pyclass(frozen, get_all, module = "helpcrunch._native")]
pub struct NativeFieldUndo {
    changes: Vec<Py<Change>>,
    /// (customer id, field, what the run wrote, what it holds now)
    conflicts: Vec<(u64, String, Py<PyAny>, Py<PyAny>)>,
    missing: Vec<u64>,
    requests: u64,
}

impl ToPython for FieldUndo {
    fn to_python<'py>(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let changes = self
            .changes
            .into_iter()
            .map(|c| Py::new(py, Change::new(c)))
            .collect::<PyResult<_>>()?;
        let conflicts = self
            .conflicts
            .iter()
            .map(|c| {
                Ok((
                    c.customer_id.get(),
                    c.field.to_string(),
                    value_to_py(py, &c.wrote)?,
                    value_to_py(py, &c.now)?,
                ))
            })
            .collect::<PyResult<_>>()?;
        let native = NativeFieldUndo {
            changes,
            conflicts,
            missing: self.missing.iter().map(|id| id.get()).collect(),
            requests: self.requests.total(),
        };
        Ok(Bound::new(py, native)?.into_any())
    }
}

fn field_changes(changes: &Bound<'_, PyList>) -> PyResult<Vec<crate::core::Change>> {
    changes
        .iter()
        .map(|c| Ok(c.cast::<Change>()?.get().inner.clone()))
        .collect()
}

/// Read the customers the field changes touched (ids joined by OR) and decide what undo puts
/// back and what it leaves.
#[pyfunction]
pub fn plan_field_undo(
    py: Python<'_>,
    client: &NativeClient,
    changes: &Bound<'_, PyList>,
) -> PyResult<Py<PyAny>> {
    let changes = field_changes(changes)?;
    let observer = LogObserver::for_current_level(py, None)?;
    let core = client.core().clone();
    let outcome = block_on(py, Wait::Sleep, async move {
        core.plan_field_undo(&changes, observer).await
    })?;
    Ok(Outcome(outcome).into_pyobject(py)?.unbind())
}

/// `plan_field_undo` for asyncio.
#[pyfunction]
pub fn plan_field_undo_async(
    py: Python<'_>,
    client: &NativeClient,
    changes: &Bound<'_, PyList>,
    bridge: &Bound<'_, LoopBridge>,
    future: Py<PyAny>,
) -> PyResult<TaskHandle> {
    let changes = field_changes(changes)?;
    let observer = LogObserver::for_current_level(py, Some(bridge.get().waker()))?;
    let core = client.core().clone();
    Ok(spawn_for_loop(bridge.get(), future, async move {
        Outcome(core.plan_field_undo(&changes, observer).await)
    }))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(customer_columns, m)?)?;
    m.add_function(wrap_pyfunction!(customers_request, m)?)?;
    m.add_function(wrap_pyfunction!(plan_customers, m)?)?;
    m.add_function(wrap_pyfunction!(plan_customers_async, m)?)?;
    m.add_function(wrap_pyfunction!(customer_call, m)?)?;
    m.add_function(wrap_pyfunction!(customer_call_async, m)?)?;
    m.add_function(wrap_pyfunction!(plan_field_undo, m)?)?;
    m.add_function(wrap_pyfunction!(plan_field_undo_async, m)?)?;
    m.add_class::<NativeCustomersRequest>()?;
    m.add_class::<NativeCustomersPlan>()?;
    m.add_class::<NativeCustomerItem>()?;
    m.add_class::<NativeFieldUndo>()?;
    m.add(
        "CUSTOMER_ACTIONS",
        PyTuple::new(m.py(), crate::core::fields::CustomerAction::NAMES)?,
    )?;
    m.add(
        "NULLS",
        PyTuple::new(m.py(), crate::core::fields::Nulls::NAMES)?,
    )?;
    m.add(
        "CUSTOMER_CHANGE_KINDS",
        PyTuple::new(m.py(), crate::core::change::CUSTOMER_CHANGE_KINDS)?,
    )?;
    m.add(
        "CUSTOMER_FIELDS",
        PyTuple::new(m.py(), crate::core::fields::field::TOP_FIELDS)?,
    )?;
    m.add("BATCH_SIZE", BATCH_SIZE)?;
    Ok(())
}
