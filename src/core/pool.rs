//! A client's connections and rate limiter, one set per process: rebuilt after `fork()`, since
//! the parent's connections and locks must not be used from the child, nor even dropped there
//! (see [`Pool`]'s `Drop`).

use std::mem::ManuallyDrop;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use reqwest::header::HeaderMap;

use super::config::CheckedConfig;
use super::error::{Error, Result};
use super::rate_limit::{EventSink, RateLimiter};
use super::runtime;

/// How long an idle connection stays in the pool: under the shortest keep-alive of common
/// servers (gunicorn closes idle connections after 2 s; Apache, Node and uvicorn after 5 s;
/// load balancers after 60 s or more), so a connection is let go before the server is likely
/// to close it, and a request is not written into a connection the server is closing at that
/// very moment. A job at HelpCrunch's pace (one request every 0.5 s) keeps its connections.
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_millis(1500);

/// The connection pools and limiter of one process.
///
/// A connection belongs to the runtime that opened it (its socket is registered there, and its
/// driving task runs there), so each runtime gets a pool of its own: blocking calls use the
/// current-thread one, async calls and bulk runs the multi-thread one.
pub(crate) struct Pool {
    /// The process it was built in (see `runtime::process_generation`).
    generation: u64,
    multi_thread: ManuallyDrop<reqwest::Client>,
    current_thread: ManuallyDrop<reqwest::Client>,
    pub limiter: Option<Arc<RateLimiter>>,
}

/// In a forked child, a parent's pool is leaked, not dropped. Dropping it would close its idle
/// connections (and a shared limiter's Redis connection), which wakes their driving tasks: that
/// schedules them on the parent's runtime, whose locks (its task queue's, its parker's) may
/// have been held by one of the parent's threads at the fork. Those threads do not exist in
/// the child, so the lock is never let go and the child's call that replaced the pool hangs.
impl Drop for Pool {
    fn drop(&mut self) {
        if self.generation == runtime::process_generation() {
            // SAFETY: dropped once, here, and never used again.
            unsafe {
                ManuallyDrop::drop(&mut self.multi_thread);
                ManuallyDrop::drop(&mut self.current_thread);
            }
        } else {
            std::mem::forget(self.limiter.take());
        }
    }
}

impl Pool {
    fn build(
        checked: &CheckedConfig,
        headers: &HeaderMap,
        events: &Option<Arc<dyn EventSink>>,
    ) -> Result<Pool> {
        let limiter = match &checked.rate_limit {
            // Contacts nothing: a shared backend is first reached by the first request.
            Some(config) => Some(Arc::new(RateLimiter::new(config.clone(), events.clone())?)),
            None => None,
        };
        Ok(Pool {
            generation: runtime::process_generation(),
            multi_thread: ManuallyDrop::new(build_http(checked, headers)?),
            current_thread: ManuallyDrop::new(build_http(checked, headers)?),
            limiter,
        })
    }

    /// The HTTP client for the runtime this task runs on.
    pub fn http(&self) -> &reqwest::Client {
        match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::CurrentThread) => &self.current_thread,
            _ => &self.multi_thread,
        }
    }
}

fn build_http(checked: &CheckedConfig, headers: &HeaderMap) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        // A redirect could carry the Authorization header to another host: never follow one.
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(checked.config.timeout.min(Duration::from_secs(10)))
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .tcp_nodelay(true)
        // Every request's headers, set once here: reqwest adds them to each request, which
        // costs less than cloning a HeaderMap per request and merging it in.
        .default_headers(headers.clone());
    if checked.base.loopback {
        // A proxy from the environment must not capture traffic meant for this machine.
        builder = builder.no_proxy();
    }
    builder
        .build()
        .map_err(|e| Error::Configuration(format!("cannot build the HTTP client: {e}")))
}

/// This process's pool, built again when the process is not the one that built it.
pub(crate) struct ProcessPool {
    current: ArcSwap<Pool>,
    /// Where every process's limiter reports (rate changes, a shared backend lost and back).
    events: Option<Arc<dyn EventSink>>,
}

impl ProcessPool {
    pub fn new(
        checked: &CheckedConfig,
        headers: &HeaderMap,
        events: Option<Arc<dyn EventSink>>,
    ) -> Result<ProcessPool> {
        Ok(ProcessPool {
            current: ArcSwap::from_pointee(Pool::build(checked, headers, &events)?),
            events,
        })
    }

    pub fn get(&self, checked: &CheckedConfig, headers: &HeaderMap) -> Result<Arc<Pool>> {
        let pool = self.current.load_full();
        if pool.generation == runtime::process_generation() {
            return Ok(pool);
        }
        // Forked: this process gets its own connections and limiter.
        let fresh = Arc::new(Pool::build(checked, headers, &self.events)?);
        self.current.store(fresh.clone());
        Ok(fresh)
    }
}
