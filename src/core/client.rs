//! The HTTP client: one request per call, retried and paced as HelpCrunch needs.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use reqwest::{Method, Url};
use serde_json::{Map, Value};

use super::error::{excerpt, Error, ErrorDetail, Result, StatusError};
use super::rate_limit::RateLimiter;
use super::retry::{decide, is_retryable_status, server_wait, Decision};
use super::runtime;
use super::validate::{tags_body, CustomerId, Tag};

pub const DEFAULT_BASE_URL: &str = "https://api.helpcrunch.com/v1";
/// Responses larger than this are refused: a customer is a few kilobytes, and a runaway body
/// must not be read into memory.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 10 * 1024 * 1024;
/// How much of an odd body an error keeps for the user to read.
const MAX_BODY_IN_ERROR: usize = 64 * 1024;

/// Everything a client is built from. `api_key` is never printed by `Debug`.
#[derive(Clone)]
pub struct ClientConfig {
    pub api_key: String,
    pub base_url: String,
    /// Bounds each attempt, from connecting to the last byte of the body.
    pub timeout: Duration,
    pub max_retries: u32,
    /// Requests per minute for this client, all its callers together; None switches it off.
    pub rate_limit: Option<f64>,
    /// Plain http:// to a host other than loopback is refused unless this is set.
    pub allow_insecure_http: bool,
    pub max_response_bytes: usize,
}

impl ClientConfig {
    pub fn new(api_key: impl Into<String>) -> Self {
        ClientConfig {
            api_key: api_key.into(),
            base_url: DEFAULT_BASE_URL.to_string(),
            timeout: Duration::from_secs(30),
            max_retries: 2,
            rate_limit: Some(120.0),
            allow_insecure_http: false,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("api_key", &mask_key(&self.api_key))
            .field("base_url", &self.base_url)
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .field("rate_limit", &self.rate_limit)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("max_response_bytes", &self.max_response_bytes)
            .finish()
    }
}

/// A key as it may be shown: its last four characters at most, and only when it is long enough
/// that they do not give it away.
pub fn mask_key(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() >= 16 {
        let tail: String = chars[chars.len() - 4..].iter().collect();
        format!("'…{tail}'")
    } else {
        "'…'".to_string()
    }
}

/// The customer as HelpCrunch sent it: the body, checked to be one JSON object but not parsed,
/// so each caller builds only the values it needs (the Python layer goes straight to Python
/// objects); plus the status and how many attempts it took.
#[derive(Debug, Clone)]
pub struct Customer {
    pub body: Vec<u8>,
    pub status: u16,
    pub attempts: u32,
}

impl Customer {
    /// Every field, in order, numbers exact. An error only for the few bodies the check lets
    /// through and `serde_json::Value` refuses (an object key that is serde_json's private
    /// number marker).
    pub fn fields(&self) -> std::result::Result<Map<String, Value>, String> {
        parse_customer(&self.body)
    }
}

/// One HTTP call the client knows how to make.
#[derive(Debug, Clone)]
pub enum Operation {
    RemoveTags(CustomerId, Vec<Tag>),
    AddTags(CustomerId, Vec<Tag>),
    GetCustomer(CustomerId),
}

impl Operation {
    pub fn method(&self) -> &'static str {
        match self {
            Operation::RemoveTags(..) => "DELETE",
            Operation::AddTags(..) => "PUT",
            Operation::GetCustomer(..) => "GET",
        }
    }

    /// The path under the base URL. The id is a number, so it can never change the path's shape.
    pub fn path(&self) -> String {
        match self {
            Operation::RemoveTags(id, _) | Operation::AddTags(id, _) => {
                format!("/customers/{id}/tags")
            }
            Operation::GetCustomer(id) => format!("/customers/{id}"),
        }
    }

    fn body(&self) -> Option<Vec<u8>> {
        match self {
            Operation::RemoveTags(_, tags) | Operation::AddTags(_, tags) => Some(tags_body(tags)),
            Operation::GetCustomer(_) => None,
        }
    }

    pub fn customer_id(&self) -> CustomerId {
        match self {
            Operation::RemoveTags(id, _)
            | Operation::AddTags(id, _)
            | Operation::GetCustomer(id) => *id,
        }
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
    config: ClientConfig,
    base_url: String,
    /// `base_url` parsed, so a call parses only its own path (see `request_url`).
    base: Url,
    /// Sent with every request (the HTTP clients' default headers).
    headers: HeaderMap,
    loopback: bool,
}

/// The connection pools and limiter of one process. Rebuilt after `fork()`: the parent's
/// connections and locks must not be used from the child.
///
/// A connection belongs to the runtime that opened it (its socket is registered there, and its
/// driving task runs there), so each runtime gets a pool of its own: blocking calls use the
/// current-thread one, async calls and bulk runs the multi-thread one.
struct Pool {
    /// The process it was built in (see `runtime::process_generation`).
    generation: u64,
    multi_thread: reqwest::Client,
    current_thread: reqwest::Client,
    limiter: Option<Arc<RateLimiter>>,
}

impl Pool {
    /// The HTTP client for the runtime this task runs on.
    fn http(&self) -> &reqwest::Client {
        match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::CurrentThread) => &self.current_thread,
            _ => &self.multi_thread,
        }
    }
}

/// A HelpCrunch client. Cheap to share: clone it or put it in an `Arc`; all clones share one
/// connection pool and one rate limiter.
#[derive(Clone)]
pub struct Client {
    settings: Arc<Settings>,
    pool: Arc<ArcSwap<Pool>>,
    closed: Arc<AtomicBool>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.settings.config)
            .finish()
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

fn check_base_url(raw: &str, allow_insecure_http: bool) -> Result<(String, Url, bool)> {
    let bad = |why: &str| Error::Configuration(format!("base_url {raw:?} {why}"));
    let url = Url::parse(raw).map_err(|e| bad(&format!("is not a URL ({e})")))?;
    if !url.username().is_empty() || url.password().is_some() {
        // Never echo it: credentials in a URL are secrets too.
        return Err(Error::Configuration(
            "base_url must not carry a user name or password; pass the key as api_key".into(),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("must not have a query or a fragment"));
    }
    let loopback = is_loopback(&url);
    match url.scheme() {
        "https" => {}
        "http" if loopback || allow_insecure_http => {}
        "http" => {
            return Err(bad(
                "uses plain http:// to a host that is not this machine, which would send the API \
                 key unencrypted; use https://, or pass allow_insecure_http=True if you really mean it",
            ))
        }
        _ => return Err(bad("must start with https://")),
    }
    Ok((
        url.as_str().trim_end_matches('/').to_string(),
        url,
        loopback,
    ))
}

/// The URL of `path` (which starts with '/') under `base`: the same as parsing
/// `base_url + path`, but cloned from the parsed base with only the path parsed, since parsing
/// the whole string (scheme, host, IDNA) again for every request cost about 1 µs of CPU.
pub(crate) fn request_url(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    url.set_path(&format!("{}{path}", base.path().trim_end_matches('/')));
    url
}

impl Client {
    /// Check the settings and build the client. Nothing is sent.
    pub fn new(mut config: ClientConfig) -> Result<Self> {
        // Keys pasted from a file or a web page often bring a newline or spaces along.
        config.api_key = config.api_key.trim().to_string();
        if config.api_key.is_empty() {
            return Err(Error::Configuration(
                "no API key: set the HELPCRUNCH_API_KEY environment variable or pass api_key=… \
                 (HelpCrunch: Settings → Developers → REST API)"
                    .into(),
            ));
        }
        let (base_url, base, loopback) =
            check_base_url(&config.base_url, config.allow_insecure_http)?;
        if config.timeout.is_zero() {
            return Err(Error::Configuration(
                "timeout must be more than 0 seconds".into(),
            ));
        }
        if let Some(rate) = config.rate_limit {
            if !(rate.is_finite() && rate > 0.0) {
                return Err(Error::Configuration(format!(
                    "rate_limit must be a positive number of requests per minute (or None), got {rate}"
                )));
            }
        }
        // HelpCrunch keys are printable ASCII; anything else (a non-breaking space picked up by
        // copy and paste) could only earn a 401 later, so it is refused now.
        let printable = |c: char| c.is_ascii_graphic() || c == ' ';
        let header = Some(&config.api_key)
            .filter(|key| key.chars().all(printable))
            .and_then(|key| HeaderValue::from_str(&format!("Bearer {key}")).ok());
        let mut auth = header.ok_or_else(|| {
            Error::Configuration(
                "api_key has characters that cannot be part of a HelpCrunch key (a newline, a \
                 non-ASCII character?); copy it again from HelpCrunch"
                    .into(),
            )
        })?;
        auth.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, auth);
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("helpcrunch-python/", env!("CARGO_PKG_VERSION"))),
        );
        let settings = Arc::new(Settings {
            config,
            base_url,
            base,
            headers,
            loopback,
        });
        let pool = Arc::new(ArcSwap::from_pointee(Self::build_pool(&settings)?));
        Ok(Client {
            settings,
            pool,
            closed: Arc::new(AtomicBool::new(false)),
        })
    }

    fn build_pool(settings: &Settings) -> Result<Pool> {
        Ok(Pool {
            generation: runtime::process_generation(),
            multi_thread: Self::build_http(settings)?,
            current_thread: Self::build_http(settings)?,
            limiter: settings
                .config
                .rate_limit
                .map(|rate| Arc::new(RateLimiter::per_minute(rate))),
        })
    }

    fn build_http(settings: &Settings) -> Result<reqwest::Client> {
        let mut builder = reqwest::Client::builder()
            // A redirect could carry the Authorization header to another host: never follow one.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(settings.config.timeout.min(Duration::from_secs(10)))
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            // Every request's headers, set once here: reqwest adds them to each request, which
            // costs less than cloning a HeaderMap per request and merging it in.
            .default_headers(settings.headers.clone());
        if settings.loopback {
            // A proxy from the environment must not capture traffic meant for this machine.
            builder = builder.no_proxy();
        }
        builder
            .build()
            .map_err(|e| Error::Configuration(format!("cannot build the HTTP client: {e}")))
    }

    pub fn config(&self) -> &ClientConfig {
        &self.settings.config
    }

    /// The base URL as requests use it (no trailing slash).
    pub fn base_url(&self) -> &str {
        &self.settings.base_url
    }

    /// The error for a customer its caller could not use after all: the same
    /// `ResponseValidation` as for any unusable 2xx body, the body in it with the key blanked
    /// out. (The Python layer's parser refuses a few valid bodies, such as an integer of more
    /// than 4,300 digits, which Python's `int` would refuse as well.)
    pub fn unusable_body(&self, customer: &Customer, message: String) -> Error {
        unusable_body_error(
            customer.status,
            message,
            &customer.body,
            customer.attempts,
            &self.settings.config,
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
        let pool = self.pool.load_full();
        if pool.generation == runtime::process_generation() {
            return Ok(pool);
        }
        // Forked: this process gets its own connections and limiter.
        let fresh = Arc::new(Self::build_pool(&self.settings)?);
        self.pool.store(fresh.clone());
        Ok(fresh)
    }

    pub async fn remove_tags(&self, id: CustomerId, tags: Vec<Tag>) -> Result<Customer> {
        self.call(Operation::RemoveTags(id, tags), None).await
    }

    pub async fn add_tags(&self, id: CustomerId, tags: Vec<Tag>) -> Result<Customer> {
        self.call(Operation::AddTags(id, tags), None).await
    }

    pub async fn get_customer(&self, id: CustomerId) -> Result<Customer> {
        self.call(Operation::GetCustomer(id), None).await
    }

    /// Make the call, retrying as the policy allows, each attempt paced by the rate limiter.
    pub async fn call(
        &self,
        op: Operation,
        observer: Option<Arc<dyn Observer>>,
    ) -> Result<Customer> {
        let pool = self.current_pool()?;
        let method = op.method();
        let path = op.path();
        let url = request_url(&self.settings.base, &path);
        // Bytes: each attempt shares the body instead of copying it.
        let body = op.body().map(Bytes::from);
        let max_retries = self.settings.config.max_retries;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            if let Some(limiter) = &pool.limiter {
                limiter.acquire().await;
            }
            if self.is_closed() {
                return Err(Error::Closed);
            }
            let started = Instant::now();
            let outcome = self.attempt(pool.http(), method, &url, body.as_ref()).await;
            let elapsed = started.elapsed();
            let failure = match outcome {
                Ok((status, body)) => {
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
                    return Ok(Customer {
                        body,
                        status,
                        attempts: attempt,
                    });
                }
                Err(failure) => failure,
            };
            let decision = if failure.is_retryable() {
                decide(attempt, max_retries, failure.server_wait())
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
                None => {
                    return Err(failure.into_error(method, path, attempt, &self.settings.config))
                }
            }
        }
    }

    async fn attempt(
        &self,
        http: &reqwest::Client,
        method: &'static str,
        url: &Url,
        body: Option<&Bytes>,
    ) -> std::result::Result<(u16, Vec<u8>), Failure> {
        let method = Method::from_bytes(method.as_bytes()).expect("static method names are valid");
        let mut request = http
            .request(method, url.clone())
            .timeout(self.settings.config.timeout);
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .body(body.clone());
        }
        let mut response = request.send().await.map_err(Failure::Transport)?;
        let status = response.status().as_u16();
        let bytes = read_capped(&mut response, self.settings.config.max_response_bytes).await?;
        if (200..300).contains(&status) {
            return match check_customer(&bytes) {
                Ok(()) => Ok((status, bytes)),
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

/// Read the body, never holding more than `cap` bytes of it. A success body over the cap is
/// refused (it cannot be a customer); an error body is cut at the cap, so the status still
/// decides what happens (a proxy's large 503 page is still a retryable 503).
async fn read_capped(
    response: &mut reqwest::Response,
    cap: usize,
) -> std::result::Result<Vec<u8>, Failure> {
    let status = response.status().as_u16();
    let success = (200..300).contains(&status);
    let too_large = || Failure::TooLarge { status, cap };
    if success && response.content_length().is_some_and(|n| n > cap as u64) {
        return Err(too_large());
    }
    let expected = response.content_length().unwrap_or(0).min(cap as u64) as usize;
    let mut bytes = Vec::with_capacity(expected);
    while let Some(chunk) = response.chunk().await.map_err(Failure::Transport)? {
        if bytes.len() + chunk.len() > cap {
            if success {
                return Err(too_large());
            }
            // The rest is dropped unread; the connection is not reused.
            bytes.extend_from_slice(&chunk[..cap - bytes.len()]);
            break;
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// A 2xx body must be one JSON object: the customer. Checked without building anything, and
/// with the same parser paths `parse_customer` takes, so the same bodies pass and a refused one
/// gets the same message.
pub fn check_customer(bytes: &[u8]) -> std::result::Result<(), String> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(EMPTY_BODY.into());
    }
    if let Err(e) = serde_json::from_slice::<Checked>(bytes) {
        return Err(format!("the body is not valid JSON ({e})"));
    }
    // It parsed, so the first byte that is not whitespace says what the value is.
    let kind = match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => return Ok(()),
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b'n') => "null",
        Some(b't' | b'f') => "a boolean",
        _ => "a number",
    };
    Err(format!(
        "expected the customer as a JSON object, got {kind}"
    ))
}

const EMPTY_BODY: &str = "the body is empty; expected the customer as a JSON object";

/// Any JSON value, checked as `serde_json::Value` would check it and then dropped.
/// `IgnoredAny` would be cheaper still, but serde_json skips over what it ignores: no nesting
/// limit (100,000 nested brackets would pass), no UTF-8 or surrogate checks inside strings.
/// Going through `deserialize_any` makes serde_json parse every string and number as it does
/// for a `Value`, into its scratch buffer, without allocating a tree.
struct Checked;

impl<'de> serde::Deserialize<'de> for Checked {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(CheckedVisitor)
    }
}

struct CheckedVisitor;

impl<'de> serde::de::Visitor<'de> for CheckedVisitor {
    type Value = Checked;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> std::result::Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_i64<E>(self, _: i64) -> std::result::Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_u64<E>(self, _: u64) -> std::result::Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_f64<E>(self, _: f64) -> std::result::Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_str<E>(self, _: &str) -> std::result::Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_unit<E>(self) -> std::result::Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }

    /// Objects, and (with `arbitrary_precision`) numbers, which serde_json hands over as a
    /// one-entry map holding their text.
    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Checked, A::Error> {
        while map.next_key::<Checked>()?.is_some() {
            map.next_value::<Checked>()?;
        }
        Ok(Checked)
    }
}

/// The customer's fields as `serde_json` values (for Rust callers; the client itself only
/// checks the body, with `check_customer`).
pub fn parse_customer(bytes: &[u8]) -> std::result::Result<Map<String, Value>, String> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(EMPTY_BODY.into());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(format!(
            "expected the customer as a JSON object, got {}",
            json_kind(&other)
        )),
        Err(e) => Err(format!("the body is not valid JSON ({e})")),
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Every `{code, message}` pair of a HelpCrunch error body, in order. Bodies of other shapes
/// (HTML from a proxy, plain text, other JSON) give none: the status alone decides the class.
pub fn parse_error_details(body: &[u8]) -> Vec<ErrorDetail> {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    let as_text = |v: Option<&Value>| match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    let detail = |v: &Value| match v {
        Value::Object(e) => Some(ErrorDetail {
            code: as_text(e.get("code")),
            message: as_text(e.get("message")),
        }),
        Value::String(s) => Some(ErrorDetail {
            code: String::new(),
            message: s.clone(),
        }),
        _ => None,
    };
    match map.get("errors") {
        Some(Value::Array(list)) => list.iter().filter_map(detail).collect(),
        Some(single @ Value::Object(_)) => detail(single).into_iter().collect(),
        _ if map.contains_key("message") => vec![ErrorDetail {
            code: as_text(map.get("code")),
            message: as_text(map.get("message")),
        }],
        _ => Vec::new(),
    }
}

fn lossy_excerpt(body: &[u8]) -> String {
    let cut = &body[..body.len().min(MAX_BODY_IN_ERROR)];
    String::from_utf8_lossy(cut).into_owned()
}

/// Why one attempt failed, before deciding whether to try again.
enum Failure {
    Transport(reqwest::Error),
    Status {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    InvalidBody {
        status: u16,
        message: String,
        body: Vec<u8>,
    },
    TooLarge {
        status: u16,
        cap: usize,
    },
}

impl Failure {
    fn is_retryable(&self) -> bool {
        match self {
            // Tagging and untagging are idempotent, so a request that may or may not have
            // reached the server is safe to send again.
            Failure::Transport(_) => true,
            Failure::Status { status, .. } => is_retryable_status(*status),
            Failure::InvalidBody { .. } | Failure::TooLarge { .. } => false,
        }
    }

    fn status(&self) -> Option<u16> {
        match self {
            Failure::Transport(_) => None,
            Failure::Status { status, .. }
            | Failure::InvalidBody { status, .. }
            | Failure::TooLarge { status, .. } => Some(*status),
        }
    }

    fn server_wait(&self) -> Option<Duration> {
        match self {
            Failure::Status { headers, .. } => server_wait(
                headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                SystemTime::now(),
            ),
            _ => None,
        }
    }

    fn transport_message(&self) -> Option<String> {
        match self {
            Failure::Transport(e) => Some(describe_transport_error(e)),
            _ => None,
        }
    }

    fn into_error(
        self,
        method: &'static str,
        path: String,
        attempts: u32,
        config: &ClientConfig,
    ) -> Error {
        let retry_after = self.server_wait();
        match self {
            Failure::Transport(e) if e.is_timeout() => Error::Timeout {
                timeout: config.timeout,
                attempts,
            },
            Failure::Transport(e) => Error::Connection {
                message: format!(
                    "{} ({method} {}{path})",
                    describe_transport_error(&e),
                    config.base_url.trim_end_matches('/')
                ),
                attempts,
            },
            Failure::Status {
                status,
                headers,
                body,
            } => {
                // What the server sent may echo the request, key included (a debugging proxy,
                // a misconfigured gateway): errors carry it with the key blanked out.
                let hide = |text: String| redact(text, &config.api_key);
                Error::Status(Box::new(StatusError {
                    method,
                    path,
                    status,
                    errors: parse_error_details(&body)
                        .into_iter()
                        .map(|d| ErrorDetail {
                            code: hide(d.code),
                            message: hide(d.message),
                        })
                        .collect(),
                    body: hide(lossy_excerpt(&body)),
                    headers: headers.into_iter().map(|(k, v)| (k, hide(v))).collect(),
                    attempts,
                    retry_after,
                }))
            }
            Failure::InvalidBody {
                status,
                message,
                body,
            } => unusable_body_error(status, message, &body, attempts, config),
            Failure::TooLarge { status, cap } => Error::ResponseValidation {
                status,
                message: format!(
                    "the body is larger than the {cap}-byte limit (max_response_bytes)"
                ),
                body: String::new(),
                attempts,
            },
        }
    }
}

fn unusable_body_error(
    status: u16,
    message: String,
    body: &[u8],
    attempts: u32,
    config: &ClientConfig,
) -> Error {
    Error::ResponseValidation {
        status,
        message,
        body: redact(lossy_excerpt(body), &config.api_key),
        attempts,
    }
}

/// `text` with every occurrence of the API key replaced.
fn redact(text: String, key: &str) -> String {
    if key.is_empty() || !text.contains(key) {
        return text;
    }
    text.replace(key, "[redacted]")
}

/// A transport error as one line: what failed and the root cause, never the URL's secrets
/// (there are none in it: the key travels in a header) and without reqwest's noise.
fn describe_transport_error(e: &reqwest::Error) -> String {
    let what = if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the connection broke while reading the response"
    } else if e.is_request() {
        "the request could not be sent"
    } else {
        "the request failed"
    };
    let mut causes: Vec<String> = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !causes.iter().any(|c| c.contains(&text)) {
            causes.push(text);
        }
        source = cause.source();
    }
    match causes.last() {
        Some(root) => format!("{what}: {}", excerpt(root, 200)),
        None => what.to_string(),
    }
}
