//! The HTTP client: one request per call, retried and paced as HelpCrunch needs.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use reqwest::{Method, Url};
use serde_json::{Map, Value};

use super::body::{check_body, parse_customer, read_capped, BodyKind, PageIndex};
use super::config::{CheckedConfig, ClientConfig};
use super::error::{Error, Result};
use super::failure::{unusable_body_error, Failure};
use super::operation::Operation;
use super::pool::{Pool, ProcessPool};
use super::rate_limit::{Backend, EventSink};
use super::retry::{decide, Decision};
use super::validate::{CustomerId, Tag};

/// What a successful call returned: the body, checked to be what the call returns (a JSON
/// object, or a page of them) but not parsed, so each caller builds only the values it needs
/// (the Python layer goes straight to Python objects); plus the status and how many attempts it
/// took.
#[derive(Debug, Clone)]
pub struct Response {
    pub body: Vec<u8>,
    pub status: u16,
    pub attempts: u32,
    /// For a page of a list or search: its total and where each customer lies in `body`.
    pub page: Option<PageIndex>,
}

impl Response {
    /// Every field, in order, numbers exact. An error only for the few bodies the check lets
    /// through and `serde_json::Value` refuses (an object key that is serde_json's private
    /// number marker).
    pub fn fields(&self) -> std::result::Result<Map<String, Value>, String> {
        parse_customer(&self.body)
    }
}

/// What one attempt looked like, for logging.
#[derive(Debug)]
pub struct AttemptEvent<'a> {
    pub method: &'static str,
    pub path: &'a str,
    pub attempt: u32,
    pub status: Option<u16>,
    /// The transport error, when there was no status.
    pub error: Option<&'a str>,
    pub elapsed: Duration,
    /// Set when another attempt follows after this wait.
    pub retry_in: Option<Duration>,
}

/// Told about every attempt as it ends (the Python layer turns these into log records).
pub trait Observer: Send + Sync {
    fn on_attempt(&self, event: &AttemptEvent<'_>);
}

/// What stays the same for the client's whole life.
struct Settings {
    checked: CheckedConfig,
    /// Sent with every request (the HTTP clients' default headers).
    headers: HeaderMap,
}

/// A HelpCrunch client. Cheap to share: clone it or put it in an `Arc`; all clones share one
/// connection pool and one rate limiter.
#[derive(Clone)]
pub struct Client {
    settings: Arc<Settings>,
    pool: Arc<ProcessPool>,
    closed: Arc<AtomicBool>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("config", self.config())
            .finish()
    }
}

fn default_headers(api_key: &str) -> Result<HeaderMap> {
    let mut auth = HeaderValue::from_str(&format!("Bearer {api_key}")).map_err(|_| {
        // The config check admits only printable ASCII, which is always a valid header value.
        Error::Internal("the checked API key is not a valid header value".into())
    })?;
    auth.set_sensitive(true);
    let mut headers = HeaderMap::new();
    headers.insert(AUTHORIZATION, auth);
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    headers.insert(
        USER_AGENT,
        HeaderValue::from_static(concat!("helpcrunch-python/", env!("CARGO_PKG_VERSION"))),
    );
    Ok(headers)
}

impl Client {
    /// Check the settings and build the client. Nothing is sent.
    pub fn new(config: ClientConfig) -> Result<Self> {
        Self::with_events(config, None)
    }

    /// [`Client::new`], with `events` told what the rate limiter does: the rate changing, a
    /// shared backend lost and back (see [`rate_limit::Event`](super::rate_limit::Event)).
    /// It is called from whatever thread the limiter runs on, tokio's included.
    pub fn with_events(config: ClientConfig, events: Option<Arc<dyn EventSink>>) -> Result<Self> {
        let checked = config.check()?;
        let headers = default_headers(&checked.config.api_key)?;
        let pool = Arc::new(ProcessPool::new(&checked, &headers, events)?);
        Ok(Client {
            settings: Arc::new(Settings { checked, headers }),
            pool,
            closed: Arc::new(AtomicBool::new(false)),
        })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.settings.checked.config
    }

    /// Where the rate limit's budget lives: None for this client's own (or no rate limit).
    pub fn rate_limit_backend(&self) -> Option<&Backend> {
        let config = self.settings.checked.rate_limit.as_ref()?;
        config.backend.is_shared().then_some(&config.backend)
    }

    /// The rate in force in this process, in requests a minute: `rate_limit` unless HelpCrunch
    /// throttled requests lately (or a shared backend is away); on a shared backend, as of this
    /// process's last request. None without a rate limit.
    pub fn current_rate_limit(&self) -> Result<Option<f64>> {
        // Not refused once closed: reading the rate sends nothing.
        let pool = self
            .pool
            .get(&self.settings.checked, &self.settings.headers)?;
        Ok(pool.limiter.as_ref().map(|limiter| limiter.current_rate()))
    }

    /// The base URL as requests use it (no trailing slash).
    pub fn base_url(&self) -> &str {
        &self.settings.checked.base.text
    }

    /// The URL of `path` (which starts with '/') under the base URL.
    pub fn url(&self, path: &str) -> Url {
        self.settings.checked.base.join(path)
    }

    /// The error for a response its caller could not use after all: the same
    /// `ResponseValidation` as for any unusable 2xx body, the body in it with the key blanked
    /// out. (The Python layer's parser refuses a few valid bodies, such as an integer of more
    /// than 4,300 digits, which Python's `int` would refuse as well.)
    pub fn unusable_body(&self, response: &Response, message: String) -> Error {
        unusable_body_error(
            response.status,
            message,
            &response.body,
            response.attempts,
            self.config(),
        )
    }

    /// Stop taking new calls and let the pool go. Calls already running finish on their own.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    fn current_pool(&self) -> Result<Arc<Pool>> {
        if self.is_closed() {
            return Err(Error::Closed);
        }
        self.pool
            .get(&self.settings.checked, &self.settings.headers)
    }

    pub async fn remove_tags(&self, id: CustomerId, tags: Vec<Tag>) -> Result<Response> {
        self.call(Operation::RemoveTags(id, tags), None).await
    }

    pub async fn add_tags(&self, id: CustomerId, tags: Vec<Tag>) -> Result<Response> {
        self.call(Operation::AddTags(id, tags), None).await
    }

    pub async fn get_customer(&self, id: CustomerId) -> Result<Response> {
        self.call(Operation::GetCustomer(id), None).await
    }

    /// Make the call, retrying as the policy allows, each attempt paced by the rate limiter.
    pub async fn call(
        &self,
        op: Operation,
        observer: Option<Arc<dyn Observer>>,
    ) -> Result<Response> {
        self.call_counting(op, observer, &AtomicU32::new(0)).await
    }

    /// [`Client::call`], counting in `sent` each attempt as it goes on the wire, so that whoever
    /// drops the call midway knows whether anything was sent.
    pub async fn call_counting(
        &self,
        op: Operation,
        observer: Option<Arc<dyn Observer>>,
        sent: &AtomicU32,
    ) -> Result<Response> {
        let pool = self.current_pool()?;
        let method = op.method();
        let path = op.path();
        let mut url = self.url(&path);
        url.set_query(op.query_string().as_deref());
        let body_kind = op.call().body_kind();
        // Bytes: each attempt shares the body instead of copying it.
        let body = op.body().map(Bytes::from);
        let config = self.config();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let permit = match &pool.limiter {
                Some(limiter) => Some(limiter.acquire().await),
                None => None,
            };
            if self.is_closed() {
                return Err(Error::Closed);
            }
            notice_closed_connections().await;
            sent.store(attempt, Ordering::Release);
            let started = Instant::now();
            let outcome = self
                .attempt(pool.http(), method, &url, body.as_ref(), body_kind)
                .await;
            let elapsed = started.elapsed();
            let failure = match outcome {
                Ok((status, body, page)) => {
                    if let Some(obs) = &observer {
                        obs.on_attempt(&AttemptEvent {
                            method,
                            path: &path,
                            attempt,
                            status: Some(status),
                            error: None,
                            elapsed,
                            retry_in: None,
                        });
                    }
                    return Ok(Response {
                        body,
                        status,
                        attempts: attempt,
                        page,
                    });
                }
                Err(failure) => failure,
            };
            if let (true, Some(limiter), Some(permit)) =
                (failure.is_throttled(), &pool.limiter, permit)
            {
                // The pace, for every user of the budget; when this request goes again is the
                // retry policy's (the server's Retry-After, or backoff), not the limiter's.
                limiter.throttled(permit).await;
            }
            let decision = if failure.is_retryable()
                && (op.call().retries_safely() || failure.is_throttled())
            {
                decide(attempt, config.max_retries, failure.server_wait())
            } else {
                Decision::Stop
            };
            let retry_in = match decision {
                Decision::RetryAfter(wait) => Some(wait),
                Decision::Stop => None,
            };
            if let Some(obs) = &observer {
                let transport = failure.transport_message();
                obs.on_attempt(&AttemptEvent {
                    method,
                    path: &path,
                    attempt,
                    status: failure.status(),
                    error: transport.as_deref(),
                    elapsed,
                    retry_in,
                });
            }
            match retry_in {
                Some(wait) => tokio::time::sleep(wait).await,
                None => return Err(failure.into_error(method, path, attempt, config)),
            }
        }
    }
}

/// Let the connections of a blocking caller's runtime see what happened while it sat idle.
///
/// That runtime is driven only while a blocking call runs, so a server's close of an idle
/// kept-alive connection (Apache, Node and gunicorn do so after 2 to 5 s) stays unread in the
/// socket until then, the pool still counts the connection as open, and the request would be
/// written into a dead socket: "connection closed before message completed", an attempt lost
/// for nothing. Yielding lets the runtime poll its sockets (a zero-timeout look) and run the
/// connection tasks that find the close, so the pool drops those connections before the request
/// picks one. A multi-thread runtime drives its connections all the time: nothing to do there.
async fn notice_closed_connections() {
    let on_current_thread = matches!(
        tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()),
        Ok(tokio::runtime::RuntimeFlavor::CurrentThread)
    );
    if on_current_thread {
        // One yield for the runtime to read the sockets, one for the woken connection tasks
        // to run, one to spare.
        for _ in 0..3 {
            tokio::task::yield_now().await;
        }
    }
}

impl Client {
    async fn attempt(
        &self,
        http: &reqwest::Client,
        method: &'static str,
        url: &Url,
        body: Option<&Bytes>,
        body_kind: BodyKind,
    ) -> std::result::Result<(u16, Vec<u8>, Option<PageIndex>), Failure> {
        let method = Method::from_bytes(method.as_bytes()).expect("static method names are valid");
        let mut request = http
            .request(method, url.clone())
            .timeout(self.config().timeout);
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .body(body.clone());
        }
        let mut response = request.send().await.map_err(Failure::Transport)?;
        let status = response.status().as_u16();
        let bytes = read_capped(&mut response, self.config().max_response_bytes).await?;
        if (200..300).contains(&status) {
            return match check_body(body_kind, &bytes) {
                Ok(page) => Ok((status, bytes, page)),
                Err(message) => Err(Failure::InvalidBody {
                    status,
                    message,
                    body: bytes,
                }),
            };
        }
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        Err(Failure::Status {
            status,
            headers,
            body: bytes,
        })
    }
}
