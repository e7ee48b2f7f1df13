//! The thin pyo3 layer: converts Python values to core types and back, runs core futures with
//! the GIL released, and maps core errors onto the Python exception classes.

mod bridge;
mod bulk;
mod change;
mod client;
mod convert;
mod customers;
mod errors;
mod logging;
mod outcome;
mod sandbox;
mod search;
mod segments;
mod sync;

use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::core::sync::{Action, MatchKind, Mode, Reason, Strategy};
use crate::core::{config, query, rate_limit, Call, ErrorKind, Setting};

/// The extension's own allocations (not Python's): tokio threads allocate what the Python thread
/// frees, which glibc's malloc handles slowly (a fifth of a bulk item's CPU).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Check a call's arguments exactly as the call itself does before sending, and send nothing
/// (for a dry run): `TypeError`/`ValueError` naming the problem, or None.
#[pyfunction]
#[pyo3(signature = (call, customer_id, tags=None))]
fn check_call(
    py: Python<'_>,
    call: &str,
    customer_id: &Bound<'_, PyAny>,
    tags: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    convert::operation(call, customer_id, tags)
        .map(drop)
        .map_err(|e| e.into_py_err(py))
}

/// For the test suite only: a panic inside a blocking call, which must surface as a
/// `HelpCrunchError` (never a `PanicException`, never an abort).
#[pyfunction]
fn _panic_in_blocking_call(py: Python<'_>) -> PyResult<()> {
    let outcome = bridge::block_on(py, bridge::Wait::PollFirst, async {
        if std::hint::black_box(true) {
            panic!("a panic the test suite asked for");
        }
        Ok(())
    })?;
    outcome.map_err(|e| errors::to_py_err(py, e))
}

/// For the test suite only: a panic inside an awaitable call.
#[pyfunction]
fn _panic_in_async_call(
    bridge: &Bound<'_, bridge::LoopBridge>,
    future: Py<PyAny>,
) -> bridge::TaskHandle {
    bridge::spawn_for_loop(bridge.get(), future, async {
        if std::hint::black_box(true) {
            panic!("a panic the test suite asked for");
        }
        // Never reached; the type is what a real call's future gives.
        None::<outcome::Outcome<client::CustomerBody>>
    })
}

/// Python's own `repr` of a str, so the core's messages quote values exactly as Python shows
/// them (the repr of an exact str runs no Python code). Not inside a runtime: a thread of the
/// core's (tokio's) must never take the GIL (see `logging`), and a blocking call's thread has
/// let it go; both get the core's own copy of `repr`.
fn python_repr(text: &str) -> Option<String> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return None;
    }
    Python::try_attach(|py| {
        pyo3::types::PyString::new(py, text)
            .repr()
            .ok()
            .map(|r| r.to_string_lossy().into_owned())
    })
    .flatten()
}

/// The names of the calls `keep` holds, in `Call::NAMES`' order.
fn calls(keep: impl Fn(Call) -> bool) -> Vec<&'static str> {
    Call::ALL
        .into_iter()
        .filter(|&call| keep(call))
        .map(Call::name)
        .collect()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    crate::core::error::set_quoter(python_repr);
    // Whatever is set once per process is set now, while the module is imported, not by a
    // first call on some thread that a fork could interrupt midway (see `runtime`).
    crate::core::runtime::process_generation();
    logging::init(m.py())?;
    m.add_function(wrap_pyfunction!(check_call, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_in_blocking_call, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_in_async_call, m)?)?;
    m.add_function(wrap_pyfunction!(bridge::_prepare_exit, m)?)?;
    m.add_function(wrap_pyfunction!(logging::_take_queued_logs, m)?)?;
    m.add_class::<client::NativeClient>()?;
    m.add_class::<sandbox::SandboxServer>()?;
    m.add_class::<bulk::NativeBulkRun>()?;
    m.add_class::<bulk::BulkItem>()?;
    m.add_class::<bulk::FinishedItem>()?;
    m.add_class::<search::NativeQuery>()?;
    m.add_class::<search::NativeSearch>()?;
    m.add_class::<sync::NativePlanRequest>()?;
    m.add_class::<sync::NativePlanProgress>()?;
    m.add_class::<sync::NativePlan>()?;
    m.add_class::<sync::NativePlanItem>()?;
    m.add_class::<sync::NativePlanRequests>()?;
    m.add_class::<sync::NativeMassRemoval>()?;
    m.add_class::<segments::NativeTagsRequest>()?;
    m.add_class::<segments::NativeTagsPlan>()?;
    m.add_class::<change::Change>()?;
    customers::register(m)?;
    m.add_class::<bridge::LoopBridge>()?;
    m.add_class::<bridge::TaskHandle>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    // The defaults, from their one home in the core, for the Python signatures and the CLI.
    m.add("DEFAULT_BASE_URL", config::DEFAULT_BASE_URL)?;
    m.add("DEFAULT_TIMEOUT", config::DEFAULT_TIMEOUT.as_secs_f64())?;
    m.add("DEFAULT_MAX_RETRIES", config::DEFAULT_MAX_RETRIES)?;
    m.add("DEFAULT_RATE_LIMIT", config::DEFAULT_RATE_LIMIT)?;
    m.add(
        "DEFAULT_MAX_RESPONSE_BYTES",
        config::DEFAULT_MAX_RESPONSE_BYTES,
    )?;
    m.add("DEFAULT_CONCURRENCY", config::DEFAULT_CONCURRENCY)?;
    // How much wider than `60 / rate_limit` seconds the limiter spaces requests: what a run's
    // shortest possible duration (a dry run's estimate, a progress bar's ETA) must count.
    m.add("RATE_LIMIT_MARGIN", rate_limit::SAFETY_MARGIN)?;
    m.add("DEFAULT_PAGE_SIZE", config::DEFAULT_PAGE_SIZE)?;
    m.add("MAX_PAGE_SIZE", config::MAX_PAGE_SIZE)?;
    m.add("DEFAULT_LOOKUP_BATCH", config::DEFAULT_LOOKUP_BATCH)?;
    // The name tables, from their one home in the core: the Python layer's `Literal`s and
    // tables are checked against them (tests/test_name_tables.py), the CLI's choices made
    // from them.
    let tables: [(&str, Vec<&str>); 14] = [
        ("CALLS", Call::NAMES.to_vec()),
        ("CUSTOMER_CALLS", calls(Call::is_per_customer)),
        ("TAG_CALLS", calls(|call| call.tag_use().is_some())),
        ("ERROR_KINDS", ErrorKind::NAMES.to_vec()),
        ("SETTINGS", Setting::NAMES.to_vec()),
        ("MODES", Mode::NAMES.to_vec()),
        ("MATCH_KINDS", MatchKind::NAMES.to_vec()),
        ("ACTIONS", Action::NAMES.to_vec()),
        ("CHANGE_KINDS", crate::core::change::CHANGE_KINDS.to_vec()),
        ("STRATEGIES", Strategy::NAMES.to_vec()),
        ("REASON_CODES", Reason::NAMES.to_vec()),
        ("MATCHES", query::Match::NAMES.to_vec()),
        ("OPERATORS", query::Operator::NAMES.to_vec()),
        ("FIELDS", query::FIELDS.map(|(name, _)| name).to_vec()),
    ];
    for (name, table) in tables {
        m.add(name, PyTuple::new(m.py(), table)?)?;
    }
    Ok(())
}
