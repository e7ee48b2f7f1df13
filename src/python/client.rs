//! `helpcrunch._native.NativeClient`: the core client as Python sees it. The public `Client` and
//! `AsyncClient` in `python/helpcrunch/_client.py` wrap it. Every call goes through one entry,
//! [`NativeClient::call`] (and its awaitable twin), which takes the call's name: a new call is a
//! new `core::Call` variant, not a new method here.

use std::future::Future;
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

use super::bridge::{
    block_on, block_on_ticking, spawn_for_loop, LoopBridge, LoopWaker, TaskHandle, Wait,
};
use super::bulk::NativeBulkRun;
use super::convert;
use super::errors::to_py_err;
use super::logging::{LimiterLog, LogObserver};
use super::outcome::{Outcome, ToPython};
use super::search::{NativeQuery, NativeSearch};
use super::segments::{tags_request, NativeTagsRequest};
use super::sync::{plan_request, NativePlanProgress, NativePlanRequest, PlanCall};
use crate::core::bulk::BulkRun;
use crate::core::config::{mask_key, Setting};
use crate::core::query::Query;
use crate::core::rate_limit;
use crate::core::search::SearchOptions;
use crate::core::{Client, ClientConfig, Error, Response};

/// A call's response, to become the customer as a dict. The client is there for a body that
/// cannot become Python values: it makes that the call's error.
pub struct CustomerBody {
    response: Response,
    client: Client,
}

impl ToPython for CustomerBody {
    fn to_python<'py>(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        convert::customer_to_py(py, &self.response)
            .map_err(|message| to_py_err(py, self.client.unusable_body(&self.response, message)))
    }
}

#[pyclass(frozen, module = "helpcrunch._native")]
pub struct NativeClient {
    core: Client,
}

impl NativeClient {
    /// A plan, blocking: searches only, nothing written; progress in `progress`, and `tick`
    /// called while it runs.
    fn plan_blocking<R: PlanCall>(
        &self,
        py: Python<'_>,
        request: Py<R>,
        progress: &NativePlanProgress,
        tick: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let observer = LogObserver::for_current_level(py, None)?;
        let core = self.core.clone();
        let progress = progress.progress.clone();
        let fut = async move { request.get().plan(&core, observer, progress).await };
        let outcome = block_on_ticking(py, Wait::Sleep, fut, tick.as_ref())?;
        Ok(Outcome(outcome).into_pyobject(py)?.unbind())
    }

    /// `plan_blocking` for asyncio: the plan resolves `future` on the loop.
    fn plan_for_loop<R: PlanCall>(
        &self,
        py: Python<'_>,
        request: Py<R>,
        progress: &NativePlanProgress,
        bridge: &Bound<'_, LoopBridge>,
        future: Py<PyAny>,
    ) -> PyResult<TaskHandle> {
        let observer = LogObserver::for_current_level(py, Some(bridge.get().waker()))?;
        let core = self.core.clone();
        let progress = progress.progress.clone();
        Ok(spawn_for_loop(bridge.get(), future, async move {
            Outcome(request.get().plan(&core, observer, progress).await)
        }))
    }

    /// The core client, for the calls other modules add (`customers`).
    pub fn core(&self) -> &Client {
        &self.core
    }

    /// The call for these arguments, checked (nothing is sent until it is awaited), with the
    /// logger's observer if it would print anything.
    fn prepare(
        &self,
        py: Python<'_>,
        call: &str,
        customer_id: &Bound<'_, PyAny>,
        tags: Option<&Bound<'_, PyAny>>,
        waker: Option<LoopWaker>,
    ) -> PyResult<impl Future<Output = Result<Response, Error>> + Send + 'static> {
        let op = convert::operation(call, customer_id, tags).map_err(|e| e.into_py_err(py))?;
        let observer = LogObserver::for_current_level(py, waker)?;
        let core = self.core.clone();
        Ok(async move { core.call(op, observer).await })
    }
}

#[pymethods]
impl NativeClient {
    /// Every value is judged by the core (`core::config`); only types are checked here.
    #[new]
    #[allow(clippy::too_many_arguments)] // mirrors the Python constructor's keywords
    #[pyo3(signature = (api_key, base_url, timeout, max_retries, rate_limit, allow_insecure_http, max_response_bytes, rate_limit_backend))]
    fn new(
        py: Python<'_>,
        api_key: &Bound<'_, PyAny>,
        base_url: &Bound<'_, PyAny>,
        timeout: &Bound<'_, PyAny>,
        max_retries: &Bound<'_, PyAny>,
        rate_limit: &Bound<'_, PyAny>,
        allow_insecure_http: bool,
        max_response_bytes: &Bound<'_, PyAny>,
        rate_limit_backend: &Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        let config = (|| -> Result<ClientConfig, convert::Refused> {
            let (timeout, shown) = convert::float_setting(Setting::Timeout, timeout)?;
            let timeout = Setting::Timeout.seconds_shown(timeout, &shown)?;
            let rate_limit = if rate_limit.is_none() {
                None
            } else {
                let (rate, shown) = convert::float_setting(Setting::RateLimit, rate_limit)?;
                Some(Setting::RateLimit.per_minute_shown(rate, &shown)?)
            };
            Ok(ClientConfig {
                api_key: convert::text_setting("api_key", api_key)?,
                base_url: convert::text_setting("base_url", base_url)?,
                timeout,
                max_retries: convert::int_setting(Setting::MaxRetries, max_retries)?,
                rate_limit,
                rate_limit_backend: if rate_limit_backend.is_none() {
                    None
                } else {
                    Some(convert::text_setting(
                        rate_limit::SETTING,
                        rate_limit_backend,
                    )?)
                },
                allow_insecure_http,
                max_response_bytes: convert::int_setting(
                    Setting::MaxResponseBytes,
                    max_response_bytes,
                )?,
            })
        })()
        .map_err(|e| e.into_py_err(py))?;
        // The limiter's events become log records, queued without the GIL (see `logging`).
        let core = Client::with_events(config, Some(Arc::new(LimiterLog)))
            .map_err(|e| to_py_err(py, e))?;
        Ok(NativeClient { core })
    }

    /// Make the call named `call` (a `core::Call` name) and return the customer.
    #[pyo3(signature = (call, customer_id, tags=None))]
    fn call(
        &self,
        py: Python<'_>,
        call: &str,
        customer_id: &Bound<'_, PyAny>,
        tags: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let run = self.prepare(py, call, customer_id, tags, None)?;
        let outcome = block_on(py, Wait::PollFirst, run)?;
        let client = self.core.clone();
        let customer = outcome.map(|response| CustomerBody { response, client });
        Ok(Outcome(customer).into_pyobject(py)?.unbind())
    }

    /// Start the call; `future` (of the running loop, whose `bridge` this is) gets the result.
    fn call_async(
        &self,
        py: Python<'_>,
        call: &str,
        customer_id: &Bound<'_, PyAny>,
        tags: Option<&Bound<'_, PyAny>>,
        bridge: &Bound<'_, LoopBridge>,
        future: Py<PyAny>,
    ) -> PyResult<TaskHandle> {
        let run = self.prepare(py, call, customer_id, tags, Some(bridge.get().waker()))?;
        let client = self.core.clone();
        Ok(spawn_for_loop(bridge.get(), future, async move {
            Outcome(run.await.map(|response| CustomerBody { response, client }))
        }))
    }

    /// A bulk run of the call named `call` on this client, `concurrency` at a time; with no
    /// call, a run of `Change`s (each item says what it does).
    #[pyo3(signature = (call, concurrency))]
    fn bulk(
        &self,
        py: Python<'_>,
        call: Option<&str>,
        concurrency: &Bound<'_, PyAny>,
    ) -> PyResult<NativeBulkRun> {
        let call = call
            .map(convert::call)
            .transpose()
            .map_err(|e| e.into_py_err(py))?;
        let concurrency = convert::int_setting(Setting::Concurrency, concurrency)
            .map_err(|e| e.into_py_err(py))?;
        let observer = LogObserver::for_current_level(py, None)?;
        Ok(NativeBulkRun::new(
            BulkRun::new(self.core.clone(), concurrency, observer),
            call,
        ))
    }

    /// The query for a search's arguments, checked; nothing is sent.
    #[pyo3(signature = (tag=None, email=None, user_id=None, r#where=None, r#match=None))]
    fn query(
        &self,
        py: Python<'_>,
        tag: Option<&Bound<'_, PyAny>>,
        email: Option<&Bound<'_, PyAny>>,
        user_id: Option<&Bound<'_, PyAny>>,
        r#where: Option<&Bound<'_, PyAny>>,
        r#match: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<NativeQuery> {
        let input = convert::query_input(tag, email, user_id, r#where, r#match)
            .map_err(|e| e.into_py_err(py))?;
        let query = Query::from_input(input).map_err(|e| to_py_err(py, e))?;
        Ok(NativeQuery {
            query: Arc::new(query),
        })
    }

    /// A search of `query`, `page_size` customers a request, at most `limit` (None: all).
    /// Nothing is sent until its first page is asked for.
    fn search(
        &self,
        py: Python<'_>,
        query: &NativeQuery,
        page_size: &Bound<'_, PyAny>,
        limit: &Bound<'_, PyAny>,
    ) -> PyResult<NativeSearch> {
        let options = (|| -> Result<SearchOptions, convert::Refused> {
            Ok(SearchOptions {
                page_size: convert::int_setting(Setting::PageSize, page_size)?,
                limit: convert::limit_setting(limit)?,
            })
        })()
        .map_err(|e| e.into_py_err(py))?;
        let observer = LogObserver::for_current_level(py, None)?;
        let pager = self.core.search(query.query.clone(), options, observer);
        Ok(NativeSearch::new(pager, self.core.clone()))
    }

    /// How many customers `query` matches: one request.
    fn count(&self, py: Python<'_>, query: &NativeQuery) -> PyResult<u64> {
        let observer = LogObserver::for_current_level(py, None)?;
        let core = self.core.clone();
        let query = query.query.clone();
        let outcome = block_on(py, Wait::PollFirst, async move {
            core.count_customers(&query, observer).await
        })?;
        outcome.map_err(|e| to_py_err(py, e))
    }

    /// `count` for asyncio.
    fn count_async(
        &self,
        py: Python<'_>,
        query: &NativeQuery,
        bridge: &Bound<'_, LoopBridge>,
        future: Py<PyAny>,
    ) -> PyResult<TaskHandle> {
        let observer = LogObserver::for_current_level(py, Some(bridge.get().waker()))?;
        let core = self.core.clone();
        let query = query.query.clone();
        Ok(spawn_for_loop(bridge.get(), future, async move {
            Outcome(core.count_customers(&query, observer).await)
        }))
    }

    /// A tag sync's arguments and audience, checked (bad rows become rejected ones); nothing
    /// is sent.
    #[pyo3(signature = (tag, color, mode, r#match, keys, lookup_batch))]
    #[allow(clippy::too_many_arguments)]
    fn plan_request(
        &self,
        py: Python<'_>,
        tag: &str,
        color: Option<&str>,
        mode: &str,
        r#match: &str,
        keys: &Bound<'_, PyList>,
        lookup_batch: &Bound<'_, PyAny>,
    ) -> PyResult<NativePlanRequest> {
        plan_request(py, tag, color, mode, r#match, keys, lookup_batch)
    }

    /// Plan the sync (searches only, nothing written), saying how far it has got in
    /// `progress`; `tick()` is called while it waits (on the main thread), to show it.
    #[pyo3(signature = (request, progress, tick=None))]
    fn plan(
        &self,
        py: Python<'_>,
        request: Py<NativePlanRequest>,
        progress: &NativePlanProgress,
        tick: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        self.plan_blocking(py, request, progress, tick)
    }

    /// `plan` for asyncio.
    fn plan_async(
        &self,
        py: Python<'_>,
        request: Py<NativePlanRequest>,
        progress: &NativePlanProgress,
        bridge: &Bound<'_, LoopBridge>,
        future: Py<PyAny>,
    ) -> PyResult<TaskHandle> {
        self.plan_for_loop(py, request, progress, bridge, future)
    }

    /// Several tags' segments, checked (`segments`: a list of `(tag, color, keys, positions)`);
    /// nothing is sent.
    #[pyo3(signature = (segments, mode, r#match, lookup_batch))]
    fn plan_tags_request(
        &self,
        py: Python<'_>,
        segments: &Bound<'_, PyList>,
        mode: &str,
        r#match: &str,
        lookup_batch: &Bound<'_, PyAny>,
    ) -> PyResult<NativeTagsRequest> {
        tags_request(py, segments, mode, r#match, lookup_batch)
    }

    /// Plan several tags together (searches only, nothing written), showing progress as
    /// `plan` does.
    #[pyo3(signature = (request, progress, tick=None))]
    fn plan_tags(
        &self,
        py: Python<'_>,
        request: Py<NativeTagsRequest>,
        progress: &NativePlanProgress,
        tick: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        self.plan_blocking(py, request, progress, tick)
    }

    /// `plan_tags` for asyncio.
    fn plan_tags_async(
        &self,
        py: Python<'_>,
        request: Py<NativeTagsRequest>,
        progress: &NativePlanProgress,
        bridge: &Bound<'_, LoopBridge>,
        future: Py<PyAny>,
    ) -> PyResult<TaskHandle> {
        self.plan_for_loop(py, request, progress, bridge, future)
    }

    fn close(&self) {
        self.core.close();
    }

    #[getter]
    fn closed(&self) -> bool {
        self.core.is_closed()
    }

    /// The rate in force in this process (requests a minute), or None without a rate limit.
    #[getter]
    fn current_rate_limit(&self, py: Python<'_>) -> PyResult<Option<f64>> {
        self.core.current_rate_limit().map_err(|e| to_py_err(py, e))
    }

    /// The settings, without the key (for repr and properties); a Redis password is masked.
    fn settings<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let c = self.core.config();
        let d = PyDict::new(py);
        d.set_item("base_url", self.core.base_url())?;
        d.set_item("timeout", c.timeout.as_secs_f64())?;
        d.set_item("max_retries", c.max_retries)?;
        d.set_item("rate_limit", c.rate_limit)?;
        d.set_item(
            "rate_limit_backend",
            self.core.rate_limit_backend().map(|b| b.describe()),
        )?;
        d.set_item("allow_insecure_http", c.allow_insecure_http)?;
        d.set_item("max_response_bytes", c.max_response_bytes)?;
        Ok(d)
    }

    #[getter]
    fn masked_api_key(&self) -> String {
        mask_key(&self.core.config().api_key)
    }

    /// Pickling carries the key (the receiving process must be able to call HelpCrunch) and the
    /// settings, the rate limit backend as given (with any password: a worker must reach the
    /// same budget); connections and the limiter are rebuilt there.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let this = slf.get();
        let c = this.core.config();
        let args = (
            c.api_key.clone(),
            c.base_url.clone(),
            c.timeout.as_secs_f64(),
            c.max_retries,
            c.rate_limit,
            c.allow_insecure_http,
            c.max_response_bytes,
            c.rate_limit_backend.clone(),
        );
        PyTuple::new(
            py,
            [
                slf.get_type().into_any(),
                args.into_pyobject(py)?.into_any(),
            ],
        )
    }

    fn __repr__(&self) -> String {
        format!(
            "NativeClient(base_url={:?}, api_key={})",
            self.core.base_url(),
            mask_key(&self.core.config().api_key)
        )
    }
}
