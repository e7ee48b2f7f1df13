//! `helpcrunch._native.NativeQuery` and `NativeSearch`: a checked query, and a search paging
//! through it as Python pulls pages, blocking or awaited (the pure-Python side,
//! `python/helpcrunch/_search.py`, makes them iterators).

use std::sync::{Arc, Mutex, PoisonError};

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use super::bridge::{block_on, spawn_for_loop, LoopBridge, TaskHandle, Wait};
use super::convert;
use super::errors::to_py_err;
use super::outcome::{Outcome, ToPython};
use crate::core::query::Query;
use crate::core::search::{FoundPage, Pager, SearchStats, Stopper};
use crate::core::{Client, Error};

/// A query whose arguments were checked: nothing is sent by making one.
#[pyclass(frozen, module = "helpcrunch._native")]
pub struct NativeQuery {
    pub query: Arc<Query>,
}

#[pymethods]
impl NativeQuery {
    /// No filters: the whole account is listed rather than searched.
    #[getter]
    fn lists_everyone(&self) -> bool {
        self.query.lists_everyone()
    }

    fn __repr__(&self) -> String {
        let filters: Vec<String> = self
            .query
            .filters()
            .iter()
            .map(|f| format!("{} {} {}", f.field(), f.operator().symbol(), f.value()))
            .collect();
        format!(
            "NativeQuery([{}], comparison={})",
            filters.join(", "),
            self.query.matching().comparison()
        )
    }
}

/// What Python reads between pages without waiting for the pager.
#[derive(Clone, Copy)]
struct Progress {
    total: Option<u64>,
    stats: SearchStats,
}

/// A page, or the end, for Python: a list of customer dicts, None at the end. The client makes
/// a customer that cannot become Python values the page's error.
pub struct NextPage {
    page: Option<FoundPage>,
    client: Client,
}

impl ToPython for NextPage {
    fn to_python<'py>(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let Some(page) = self.page else {
            return Ok(py.None().into_bound(py));
        };
        let list = PyList::empty(py);
        for customer in page.customers() {
            let dict = convert::json_to_py_value(py, customer.json).map_err(|message| {
                to_py_err(py, self.client.unusable_body(page.response(), message))
            })?;
            list.append(dict)?;
        }
        Ok(list.into_any())
    }
}

#[pyclass(frozen, module = "helpcrunch._native")]
pub struct NativeSearch {
    pager: Arc<tokio::sync::Mutex<Pager>>,
    stopper: Stopper,
    client: Client,
    progress: Arc<Mutex<Progress>>,
}

impl NativeSearch {
    pub fn new(pager: Pager, client: Client) -> Self {
        let progress = Progress {
            total: None,
            stats: pager.stats(),
        };
        NativeSearch {
            stopper: pager.stopper(),
            pager: Arc::new(tokio::sync::Mutex::new(pager)),
            client,
            progress: Arc::new(Mutex::new(progress)),
        }
    }

    /// The next page, noting the total and stats for Python to read without waiting.
    fn next(&self) -> impl std::future::Future<Output = Result<Option<FoundPage>, Error>> {
        let pager = self.pager.clone();
        let progress = self.progress.clone();
        async move {
            let mut pager = pager.lock().await;
            let page = pager.next_page().await;
            *progress.lock().unwrap_or_else(PoisonError::into_inner) = Progress {
                total: pager.total(),
                stats: pager.stats(),
            };
            page
        }
    }

    fn progress(&self) -> Progress {
        *self.progress.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[pymethods]
impl NativeSearch {
    /// The most requests one surprise of a server's (a total it does not serve up to, a short
    /// or empty page, the same page for ever) costs a scan beyond `ceil(served / page_size)`.
    #[classattr]
    const EXTRA_REQUESTS: u64 = crate::core::paging::EXTRA_REQUESTS;

    /// Wait (GIL released, Ctrl-C honoured) for the next customers not handed out before;
    /// None when the search is over. The page after it is fetched meanwhile.
    fn next_page<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let outcome = block_on(py, Wait::PollFirst, self.next())?;
        let client = self.client.clone();
        Outcome(outcome.map(|page| NextPage { page, client })).into_pyobject(py)
    }

    /// `next_page` for asyncio: `future` (of the loop whose `bridge` this is) gets the page.
    fn next_page_async(&self, bridge: &Bound<'_, LoopBridge>, future: Py<PyAny>) -> TaskHandle {
        let next = self.next();
        let client = self.client.clone();
        spawn_for_loop(bridge.get(), future, async move {
            Outcome(next.await.map(|page| NextPage { page, client }))
        })
    }

    /// Stop: nothing more is sent, and the page being fetched ahead is dropped.
    fn close(&self) {
        self.stopper.stop();
    }

    /// HelpCrunch's total on the first page; None before it came.
    #[getter]
    fn total(&self) -> Option<u64> {
        self.progress().total
    }

    /// What the search did so far.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let stats = self.progress().stats;
        let d = PyDict::new(py);
        d.set_item("requests", stats.requests)?;
        d.set_item("found", stats.found)?;
        d.set_item("page_size", stats.page_size)?;
        d.set_item("pages", stats.paging.pages)?;
        d.set_item("rejected_pages", stats.paging.rejected)?;
        d.set_item("duplicates", stats.paging.duplicates)?;
        d.set_item("unchecked_tie_runs", stats.paging.unchecked_tie_runs)?;
        d.set_item("unstable_ties", stats.paging.unstable_ties)?;
        d.set_item("total_disagrees", stats.paging.total_disagrees)?;
        Ok(d)
    }
}

impl Drop for NativeSearch {
    fn drop(&mut self) {
        self.stopper.stop();
    }
}
