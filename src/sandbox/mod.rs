//! The sandbox: a fake HelpCrunch v1 API on a real HTTP/1.1 socket, for tests and benchmarks.
//!
//! It serves, under `/v1`, the calls this project makes (get, create, update, delete, list
//! and search customers; tag and untag a customer) with HelpCrunch's bodies, error format, auth and an
//! optional strict rate limit, keeps customers in memory, logs requests, and injects faults
//! on demand ([`Sandbox::fail_next`]). Nothing here knows about Python.
//!
//! Where HelpCrunch's docs are silent the sandbox picks one documented-compatible answer; the
//! choices are listed on [`Sandbox`].

mod columns;
mod data;
mod entry;
mod errors;
mod faults;
mod fields;
mod generate;
mod load;
mod log;
mod query;
mod rng;
mod routes;
mod search;
mod server;
mod sliding_window;
mod state;
mod webhooks;
mod writes;

#[cfg(test)]
mod tests;

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde_json::{Map, Value};
use tokio::sync::watch;

pub use errors::ErrorStyle;
pub use faults::{Fault, FaultMatch};
pub use generate::MAX_GENERATED;
pub use log::RequestRecord;
pub use webhooks::{WebhookConfig, WebhookStats, MAX_ATTEMPTS as WEBHOOK_MAX_ATTEMPTS};

use faults::FaultQueue;
use log::RequestLog;
use query::Caps;
use search::RecentMatches;
use sliding_window::SlidingWindow;
use state::{Store, StoreBuilder};
use webhooks::Webhooks;

/// Requests kept in the log by default: enough to inspect any test, bounded for benchmarks.
pub const DEFAULT_LOG_CAPACITY: usize = 100_000;

/// A path outside `/v1` that answers 200 `{"status":"ok"}` to any method, without auth,
/// faults, rate limiting or logging: for readiness checks that must not disturb a test.
pub const HEALTH_PATH: &str = "/__sandbox/health";

/// The seed of a generated account when none is given.
pub const DEFAULT_SEED: u64 = 0;

/// The customers a sandbox starts with.
#[derive(Debug, Clone, Default)]
pub enum Customers {
    /// HelpCrunch's example customer and nine more, ids 542335..=542344.
    #[default]
    Demo,
    /// These, as the API returns customers. One without an integer `id` gets one past the
    /// largest given id.
    Given(Vec<Map<String, Value>>),
    /// `count` (at most [`MAX_GENERATED`]) made-up customers, ids 1..=count, as a real
    /// account has them: names, emails, userIds, companies, locations, tags, and `firstSeen`
    /// over ten years with ties. The same seed gives the same account on every machine.
    Generated { count: usize, seed: u64 },
    /// Read from a file holding a JSON array of customers, or one customer object per line
    /// (JSON Lines), each as for `Given`.
    File(PathBuf),
}

/// How to start a [`Sandbox`]. Build it with [`SandboxConfig::new`] and override fields:
/// `SandboxConfig { rate_limit: Some(120), ..SandboxConfig::new("key") }`.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Requests must carry `Authorization: Bearer <api_key>`, exactly.
    pub api_key: String,
    /// Requests per minute, strict sliding window over the whole server. None: unlimited.
    /// Costs 16 bytes per request admitted in the last minute: keep it None for benchmarks.
    pub rate_limit: Option<u32>,
    pub customers: Customers,
    pub host: IpAddr,
    /// 0 picks a free port.
    pub port: u16,
    /// How many of the most recent requests [`Sandbox::requests`] keeps.
    pub log_capacity: usize,
    /// The largest `limit` list and search accept; past it, a 400 naming `limit`. None: no
    /// cap (HelpCrunch documents none), so the default page is 100.
    pub max_page_size: Option<usize>,
    /// The most filters one search accepts; past it, a 400 naming `filter`. None: no cap
    /// (HelpCrunch documents none, and warns there is one).
    pub max_filters: Option<usize>,
    /// Customers with equal sort values come in a fresh random order for every request, as
    /// a database answering `ORDER BY firstSeen LIMIT … OFFSET …` may give them, so that a
    /// client's paging can be tested against the worst case. false: in id order.
    pub unstable_ties: bool,
    /// The shape of errors that are not about a field (401, 404, 429, …).
    pub error_style: ErrorStyle,
    /// Where to POST signed events when customers change through the API. None: nowhere.
    pub webhook: Option<WebhookConfig>,
}

impl SandboxConfig {
    pub fn new(api_key: impl Into<String>) -> Self {
        SandboxConfig {
            api_key: api_key.into(),
            rate_limit: None,
            customers: Customers::Demo,
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            log_capacity: DEFAULT_LOG_CAPACITY,
            max_page_size: None,
            max_filters: None,
            unstable_ties: false,
            error_style: ErrorStyle::default(),
            webhook: None,
        }
    }

    fn caps(&self) -> io::Result<Caps> {
        for (name, cap) in [
            ("max_page_size", self.max_page_size),
            ("max_filters", self.max_filters),
        ] {
            if cap == Some(0) {
                return Err(invalid_input(format!("{name} must be at least 1")));
            }
        }
        Ok(Caps {
            max_page_size: self.max_page_size,
            max_filters: self.max_filters,
        })
    }
}

fn load(customers: Customers) -> io::Result<Store> {
    let store = match customers {
        Customers::Demo => Store::new(data::demo_customers()),
        Customers::Given(customers) => Store::new(customers),
        Customers::Generated { count, seed } => {
            let mut builder = StoreBuilder::default();
            generate::generate(count, seed, &mut builder).and_then(|()| builder.finish())
        }
        Customers::File(path) => return load::from_file(&path),
    };
    store.map_err(invalid_input)
}

fn invalid_input(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message.into())
}

/// What the server's tasks share. The handle ([`Sandbox`]) holds it too, but the tasks never
/// hold the handle, so dropping the last handle can shut them down.
struct Shared {
    api_key: String,
    /// `Bearer <api_key>`, compared byte for byte against the Authorization header.
    expected_auth: Box<[u8]>,
    store: Store,
    rate_limit: Option<SlidingWindow>,
    faults: FaultQueue,
    log: RequestLog,
    connections: AtomicU64,
    caps: Caps,
    unstable_ties: bool,
    recent_matches: RecentMatches,
    error_style: ErrorStyle,
    webhooks: Webhooks,
}

impl Shared {
    /// The order for customers with equal sort values in one list or search: None keeps
    /// them in id order.
    fn shuffle(&self) -> Option<u64> {
        self.unstable_ties.then(|| fastrand::u64(..))
    }
}

/// A running fake HelpCrunch. Cheap to clone; the server stops when [`Sandbox::shutdown`] is
/// called or the last clone is dropped.
///
/// Behaviour where HelpCrunch's docs are silent:
/// - auth is checked before routing, so an unknown path without a key is a 401;
/// - the rate limit is checked before auth; every request it admits counts, whatever its
///   status (a 401 too); injected `Status`, `NotJson` and `DropConnection` faults stand in
///   front of the API and neither count nor touch customers;
/// - tags are account-wide: the first use of a name fixes its colour (given, or `#c377e0`);
///   tagging with a known name keeps the known colour;
/// - `404 entity_not_found` has the single-element body HelpCrunch shows for it; every other
///   error starts with `{"code":"invalid_request","message":"Invalid request"}`;
/// - search takes the documented filter fields only (`customers.id`, `name`, `email`,
///   `userId`, `company`, `phone`, `countryCode`, `city`, `regionCode`, `lastSeen`,
///   `tagsData` and the messenger ids); any other is a 400 naming `filter[i].field`. A value
///   must have its field's type (a string, or a number or numeric string for `id` and
///   `lastSeen`), else a 400 naming `filter[i].value`. `=`, `!=` and the orderings compare
///   text exactly, `~`/`!~` ignore case; a missing or null value matches only `!=` and `!~`;
/// - filters combine with `comparison` (`AND` by default); list and search sort by id unless
///   `sort` names `customers.firstSeen` or `customers.lastSeen`; equal values come in id
///   order, `order: desc` reverses the whole order; `limit` defaults to 100;
/// - [`SandboxConfig`]'s caps, when set, apply to list and search alike; a default page
///   larger than `max_page_size` shrinks to it;
/// - `POST /v1/customers` ignores a given `id`; missing documented fields are null (`tags`
///   `[]`, `customData` `{}`, `unsubscribed`/`blocked` false);
/// - customer writes (`writes.rs`): PATCH changes the fields sent, PUT also nulls the
///   documented profile fields left out, `PUT /customers/batch` takes an array of 1 to 10
///   `{"customer": id, …}` and applies all or nothing (an unknown id is a 400 naming
///   `[i].customer`); `customData` sent replaces the stored one whole; `tags` in an update is
///   a 400 (tag and untag instead); a `userId` another customer has is a 400 whose first
///   error is `invalid_userId_value`; DELETE answers 200 with the customer, then 404;
/// - webhooks (`webhooks.rs`): events about changes made through the API, in order, off the
///   request path.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    addr: SocketAddr,
    base_url: String,
    shutdown: watch::Sender<bool>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
    }
}

impl Sandbox {
    /// Binds now (so the port is known and errors surface here) and serves on `rt`, which
    /// must be driven by someone: a multi-thread runtime, or a current-thread one inside
    /// `block_on`. Callable from any thread, inside a runtime or not.
    pub fn start(config: SandboxConfig, rt: &tokio::runtime::Handle) -> io::Result<Sandbox> {
        let caps = config.caps()?;
        let store = load(config.customers)?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let webhooks =
            Webhooks::start(config.webhook, rt, shutdown_rx.clone()).map_err(invalid_input)?;
        let shared = Arc::new(Shared {
            expected_auth: format!("Bearer {}", config.api_key)
                .into_bytes()
                .into_boxed_slice(),
            api_key: config.api_key,
            store,
            rate_limit: config.rate_limit.map(SlidingWindow::per_minute),
            faults: FaultQueue::default(),
            log: RequestLog::new(config.log_capacity),
            connections: AtomicU64::new(0),
            caps,
            unstable_ties: config.unstable_ties,
            recent_matches: RecentMatches::default(),
            error_style: config.error_style,
            webhooks,
        });
        let listener = {
            // Registering the socket with tokio's reactor needs the runtime's context.
            let _guard = rt.enter();
            server::bind(SocketAddr::new(config.host, config.port))?
        };
        let addr = listener.local_addr()?;
        rt.spawn(server::accept_loop(listener, shared.clone(), shutdown_rx));
        let host = match addr.ip() {
            IpAddr::V6(ip) => format!("[{ip}]"),
            IpAddr::V4(ip) => ip.to_string(),
        };
        Ok(Sandbox {
            inner: Arc::new(Inner {
                shared,
                addr,
                base_url: format!("http://{host}:{}/v1", addr.port()),
                shutdown,
            }),
        })
    }

    /// `http://127.0.0.1:PORT/v1`, the base URL to give a client.
    pub fn base_url(&self) -> String {
        self.inner.base_url.clone()
    }

    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    pub fn api_key(&self) -> &str {
        &self.inner.shared.api_key
    }

    /// The customer as the API would return it now.
    pub fn customer(&self, id: u64) -> Option<Map<String, Value>> {
        self.inner.shared.store.get(id).map(|e| e.to_map())
    }

    /// Every customer, ordered by id.
    pub fn customers(&self) -> Vec<Map<String, Value>> {
        self.inner.shared.store.all()
    }

    /// How many customers the account holds now.
    pub fn customer_count(&self) -> usize {
        self.inner.shared.store.len()
    }

    /// The most recent requests (up to the log's capacity), oldest first. Requests to
    /// [`HEALTH_PATH`] are not logged; a dropped connection has status 0.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.inner.shared.log.records()
    }

    /// Requests logged since start or the last [`Sandbox::clear_requests`], including those
    /// the bounded log no longer holds.
    pub fn request_count(&self) -> u64 {
        self.inner.shared.log.total()
    }

    /// Of [`Sandbox::request_count`], how many were answered with `status` (0: dropped).
    pub fn status_count(&self, status: u16) -> u64 {
        self.inner.shared.log.status_count(status)
    }

    /// Empties the log and zeroes the request counters.
    pub fn clear_requests(&self) {
        self.inner.shared.log.clear();
    }

    /// TCP connections accepted since start.
    pub fn connection_count(&self) -> u64 {
        self.inner.shared.connections.load(Ordering::Relaxed)
    }

    /// The next `times` requests (any but [`HEALTH_PATH`]) get `fault`. Faults queue in
    /// call order: `fail_next(a, 2); fail_next(b, 1)` gives a, a, b.
    pub fn fail_next(&self, fault: Fault, times: u32) {
        self.inner
            .shared
            .faults
            .push(fault, times, FaultMatch::default());
    }

    /// Like [`Sandbox::fail_next`], for requests that `matcher` accepts only; others pass
    /// by it to later faults or to the API.
    pub fn fail_next_matching(&self, fault: Fault, times: u32, matcher: FaultMatch) {
        self.inner.shared.faults.push(fault, times, matcher);
    }

    /// Faults still to be served, counting each of their `times`.
    pub fn pending_faults(&self) -> u64 {
        self.inner.shared.faults.pending()
    }

    pub fn clear_faults(&self) {
        self.inner.shared.faults.clear();
    }

    /// Webhook events made, delivered, given up on, and POSTs sent.
    pub fn webhook_stats(&self) -> WebhookStats {
        self.inner.shared.webhooks.stats()
    }

    /// Blocks until every webhook event made so far is delivered or given up on, or
    /// `timeout` passes; the stats either way (settled when `queued == delivered + failed`).
    /// Not from inside the sandbox's runtime.
    pub fn wait_webhooks(&self, timeout: std::time::Duration) -> WebhookStats {
        self.inner.shared.webhooks.wait_settled(timeout)
    }

    /// Stops accepting and closes every connection at once, in-flight requests included.
    /// The listening socket closes as soon as the runtime next runs the accept task.
    pub fn shutdown(&self) {
        self.inner.shutdown.send_replace(true);
    }
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("base_url", &self.inner.base_url)
            .finish_non_exhaustive()
    }
}
