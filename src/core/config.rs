//! A client's settings: their defaults and the checks on their values, each written once.
//! The Python layer takes its defaults from here (exported by `_native`) and hands every value
//! over unjudged; only type questions (is it a number?) are answered there.

use std::fmt;
use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::time::Duration;

use reqwest::Url;

use super::error::{quote, Argument, Error, InputErrorKind, Result};
use super::names::names;
use super::rate_limit::{self, AccountId, Backend, RateLimitConfig};

pub const DEFAULT_BASE_URL: &str = "https://api.helpcrunch.com/v1";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_MAX_RETRIES: u32 = 2;
/// HelpCrunch's documented limit, requests a minute per account.
pub const DEFAULT_RATE_LIMIT: f64 = 120.0;
/// Responses larger than this are refused: a customer is a few kilobytes, and a runaway body
/// must not be read into memory.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 10 * 1024 * 1024;
/// Requests in flight in a bulk run. At HelpCrunch's pace a few suffice to hide the latency.
pub const DEFAULT_CONCURRENCY: usize = 8;
/// Customers per page of a list or search: what HelpCrunch's examples and every public client
/// use, and the largest this client sends (the docs state no maximum).
pub const DEFAULT_PAGE_SIZE: u64 = 100;
pub const MAX_PAGE_SIZE: u64 = 100;
/// Keys looked up in one search (`=` filters joined by OR) when a tag sync plans. HelpCrunch
/// documents no limit; a 400 naming the filter list halves it, so a server that takes 40, 20
/// or 10 costs one refused request per halving, once per run.
pub const DEFAULT_LOOKUP_BATCH: u64 = 80;
/// The most filters a lookup sends: past a page of matches, a lookup needs more pages.
pub const MAX_LOOKUP_BATCH: u64 = 100;

/// A setting given as a number, and the values it may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// Seconds for each attempt.
    Timeout,
    MaxRetries,
    /// Requests a minute.
    RateLimit,
    MaxResponseBytes,
    /// Requests in flight in a bulk run.
    Concurrency,
    /// Customers per page of a search.
    PageSize,
    /// The most customers a search hands out.
    Limit,
    /// Filters per lookup when a tag sync plans.
    LookupBatch,
}

/// Shortest timeout: nothing on a network answers sooner, and a shorter `Duration` would round
/// to nothing.
const MIN_TIMEOUT: Duration = Duration::from_millis(1);
fn timeout_rule() -> String {
    format!("a number of seconds from {} up", MIN_TIMEOUT.as_secs_f64())
}

names!(Setting {
    Timeout => "timeout",
    MaxRetries => "max_retries",
    RateLimit => "rate_limit",
    MaxResponseBytes => "max_response_bytes",
    Concurrency => "concurrency",
    PageSize => "page_size",
    Limit => "limit",
    LookupBatch => "lookup_batch",
});

impl Setting {
    /// The integers an integer setting accepts.
    fn int_range(self) -> RangeInclusive<u64> {
        match self {
            // Backoff tops out at 8 s, so 100 retries already keep a call going for 13 minutes.
            Setting::MaxRetries => 0..=100,
            Setting::MaxResponseBytes => 1..=isize::MAX as u64,
            // Each slot holds a few items in memory; HelpCrunch's pace needs a handful.
            Setting::Concurrency => 1..=10_000,
            Setting::PageSize => 1..=MAX_PAGE_SIZE,
            Setting::LookupBatch => 1..=MAX_LOOKUP_BATCH,
            Setting::Limit | Setting::Timeout | Setting::RateLimit => 0..=u64::MAX,
        }
    }

    fn refuse(self, rule: &str, given: impl fmt::Display) -> Error {
        self.refuse_advised(rule, given, "")
    }

    /// `advice`, in the API's terms, follows the message (not the argument's `detail`).
    fn refuse_advised(self, rule: &str, given: impl fmt::Display, advice: &str) -> Error {
        let detail = format!("must be {rule}, got {given}");
        let argument = Argument::named(self.name());
        match self {
            // Settings of one run or search, not of the client.
            Setting::Concurrency | Setting::PageSize | Setting::Limit | Setting::LookupBatch => {
                argument.refuse(InputErrorKind::Value, " ", detail, advice)
            }
            _ => argument.setting_error(detail, advice),
        }
    }

    /// An integer setting. `given` is exact, or `None` for an integer past ±2¹²⁷ (Python's
    /// integers have no bound).
    pub fn integer(self, given: Option<i128>) -> Result<u64> {
        match given {
            Some(value) => self.count(Some(value), &value),
            None => self.count(None, &"an integer far out of range"),
        }
    }

    /// An integer setting as the type that holds it; `shown` is the value as the caller wrote
    /// it, for the message.
    pub fn count<T: TryFrom<u64>>(
        self,
        given: Option<i128>,
        shown: &dyn fmt::Display,
    ) -> Result<T> {
        let range = self.int_range();
        // A setting without an upper bound says so, rather than quoting 2^64 - 1.
        let rule = match (*range.start(), *range.end()) {
            (start, u64::MAX) => format!("an integer from {start} up"),
            (start, end) => format!("an integer from {start} to {end}"),
        };
        // With no upper bound, any larger integer means "as many as there are".
        let unbounded = *range.end() == u64::MAX;
        given
            .and_then(|value| match u64::try_from(value) {
                Ok(value) => Some(value),
                Err(_) if unbounded && value > 0 => Some(u64::MAX),
                Err(_) => None,
            })
            .filter(|value| range.contains(value))
            .and_then(|value| T::try_from(value).ok())
            .ok_or_else(|| self.refuse(&rule, shown))
    }

    /// A timeout in seconds, as a `Duration` (saturating: a timeout of 1e300 s is no timeout).
    pub fn seconds(self, secs: f64) -> Result<Duration> {
        self.seconds_shown(secs, &Float(secs))
    }

    /// [`Setting::seconds`], quoting the value as `shown` when it is refused.
    pub fn seconds_shown(self, secs: f64, shown: &dyn fmt::Display) -> Result<Duration> {
        if !(secs.is_finite() && secs >= MIN_TIMEOUT.as_secs_f64()) {
            return Err(self.refuse(&timeout_rule(), shown));
        }
        Ok(Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX))
    }

    fn check_duration(self, duration: Duration) -> Result<()> {
        if duration < MIN_TIMEOUT {
            return Err(self.refuse(&timeout_rule(), Float(duration.as_secs_f64())));
        }
        Ok(())
    }

    /// Requests a minute, or `None` for no limit.
    pub fn per_minute(self, rate: Option<f64>) -> Result<Option<f64>> {
        match rate {
            Some(r) => self.per_minute_shown(r, &Float(r)).map(Some),
            None => Ok(None),
        }
    }

    /// A rate in requests a minute, quoting the value as `shown` when it is refused. The rule
    /// is the limiter's (what it can pace at); the message is this setting's.
    pub fn per_minute_shown(self, rate: f64, shown: &dyn fmt::Display) -> Result<f64> {
        rate_limit::check_per_minute(rate)
            .map_err(|rule| self.refuse_advised(&rule, shown, "; or None for no limit"))
    }
}

/// A float shown as Python's `repr` shows it (`1e+20`, `inf`, `nan`, `-0.0`, `0.001`), so a
/// message quotes what the user typed.
pub struct Float(pub f64);

impl fmt::Display for Float {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let x = self.0;
        if x.is_nan() {
            return f.write_str("nan");
        }
        if x.is_infinite() {
            return f.write_str(if x > 0.0 { "inf" } else { "-inf" });
        }
        // Rust and Python both print the shortest digits that read back as the same float;
        // Python switches to an exponent below 1e-4 and from 1e16 on.
        let scientific = format!("{x:e}");
        let (mantissa, exponent) = scientific
            .split_once('e')
            .expect("{:e} always writes an exponent");
        let exponent: i32 = exponent.parse().expect("{:e} writes an integer exponent");
        if x != 0.0 && !(-4..16).contains(&exponent) {
            let sign = if exponent < 0 { '-' } else { '+' };
            write!(f, "{mantissa}e{sign}{:02}", exponent.abs())
        } else {
            let fixed = format!("{x}");
            if fixed.contains('.') {
                f.write_str(&fixed)
            } else {
                write!(f, "{fixed}.0")
            }
        }
    }
}

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
    /// Where the rate limit's budget lives, as the user wrote it (see
    /// [`rate_limit::Backend::parse`]): None for this client's own; a `redis://` or `file://`
    /// URL for one budget per account, shared with every client that names the same.
    pub rate_limit_backend: Option<String>,
    /// Plain http:// to a host other than loopback is refused unless this is set.
    pub allow_insecure_http: bool,
    pub max_response_bytes: usize,
}

impl ClientConfig {
    pub fn new(api_key: impl Into<String>) -> Self {
        ClientConfig {
            api_key: api_key.into(),
            base_url: DEFAULT_BASE_URL.to_string(),
            timeout: DEFAULT_TIMEOUT,
            max_retries: DEFAULT_MAX_RETRIES,
            rate_limit: Some(DEFAULT_RATE_LIMIT),
            rate_limit_backend: None,
            allow_insecure_http: false,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }

    /// The settings checked, the key trimmed, the base URL parsed.
    pub(crate) fn check(mut self) -> Result<CheckedConfig> {
        // Keys pasted from a file or a web page often bring a newline or spaces along.
        self.api_key = self.api_key.trim().to_string();
        check_api_key(&self.api_key)?;
        let base = BaseUrl::parse(&self.base_url, self.allow_insecure_http)?;
        Setting::Timeout.check_duration(self.timeout)?;
        Setting::MaxRetries.integer(Some(self.max_retries.into()))?;
        Setting::RateLimit.per_minute(self.rate_limit)?;
        Setting::MaxResponseBytes.integer(Some(self.max_response_bytes as i128))?;
        let backend = Backend::parse(self.rate_limit_backend.as_deref())?;
        let rate_limit = match (self.rate_limit, backend) {
            (Some(per_minute), backend) => Some(RateLimitConfig::new(
                per_minute,
                backend,
                // The only use of the key outside the Authorization header: hashed, so that
                // a shared budget never holds it.
                AccountId::from_api_key(&self.api_key),
            )),
            (None, Backend::Local) => None,
            (None, shared) => {
                return Err(Argument::named(rate_limit::SETTING).setting_error(
                    format!(
                        "{} is set, so there must be a rate limit to share (HelpCrunch allows \
                         {DEFAULT_RATE_LIMIT} requests a minute)",
                        shared.describe()
                    ),
                    ", but rate_limit is None",
                ))
            }
        };
        Ok(CheckedConfig {
            config: self,
            base,
            rate_limit,
        })
    }

    /// The rate limit backend as messages may show it (a Redis password masked), or None
    /// for this client's own budget.
    pub fn shown_rate_limit_backend(&self) -> Option<String> {
        let raw = self.rate_limit_backend.as_deref()?;
        Some(match Backend::parse(Some(raw)) {
            Ok(backend) => backend.describe(),
            // Never echoed: it may hold a password.
            Err(_) => "(not a valid rate_limit_backend)".to_string(),
        })
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("api_key", &mask_key(&self.api_key))
            .field("base_url", &self.base_url)
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .field("rate_limit", &self.rate_limit)
            .field("rate_limit_backend", &self.shown_rate_limit_backend())
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("max_response_bytes", &self.max_response_bytes)
            .finish()
    }
}

/// A config that passed [`ClientConfig::check`].
pub(crate) struct CheckedConfig {
    pub config: ClientConfig,
    pub base: BaseUrl,
    /// What each process's limiter is built from; None without a rate limit.
    pub rate_limit: Option<RateLimitConfig>,
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

fn check_api_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(Error::Configuration(
            "no API key: set the HELPCRUNCH_API_KEY environment variable or pass api_key=… \
             (HelpCrunch: Settings → Developers → REST API)"
                .into(),
        ));
    }
    // HelpCrunch keys are printable ASCII; anything else (a non-breaking space picked up by
    // copy and paste) could only earn a 401 later, so it is refused now.
    if !key.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
        return Err(Error::Configuration(
            "api_key has characters that cannot be part of a HelpCrunch key (a newline, a \
             non-ASCII character?); copy it again from HelpCrunch"
                .into(),
        ));
    }
    Ok(())
}

/// The base URL, checked: https (or http to this machine), no credentials, query or fragment.
#[derive(Debug, Clone)]
pub(crate) struct BaseUrl {
    pub url: Url,
    /// As requests use it: no trailing slash.
    pub text: String,
    /// Loopback: plain http is fine, and no proxy may capture the traffic.
    pub loopback: bool,
}

impl BaseUrl {
    fn parse(raw: &str, allow_insecure_http: bool) -> Result<BaseUrl> {
        let bad = |why: &str, advice: &str| {
            Argument::named("base_url").setting_error(format!("{} {why}", quote(raw)), advice)
        };
        let url = Url::parse(raw).map_err(|e| bad(&format!("is not a URL ({e})"), ""))?;
        if !url.username().is_empty() || url.password().is_some() {
            // Never echo it: credentials in a URL are secrets too.
            return Err(Argument::named("base_url").setting_error(
                "must not carry a user name or password",
                "; pass the key as api_key",
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad("must not have a query or a fragment", ""));
        }
        let loopback = is_loopback(&url);
        match url.scheme() {
            "https" => {}
            "http" if loopback || allow_insecure_http => {}
            "http" => {
                return Err(bad(
                    "uses plain http:// to a host that is not this machine, which would send the \
                     API key unencrypted; use https://",
                    ", or pass allow_insecure_http=True if you really mean it",
                ))
            }
            _ => return Err(bad("must start with https://", "")),
        }
        Ok(BaseUrl {
            text: url.as_str().trim_end_matches('/').to_string(),
            url,
            loopback,
        })
    }

    /// The URL of `path` (which starts with '/') under the base: the same as parsing
    /// `base_url + path`, but cloned from the parsed base with only the path parsed, as parsing
    /// the whole string (scheme, host, IDNA) for every request costs more.
    pub fn join(&self, path: &str) -> Url {
        let mut url = self.url.clone();
        url.set_path(&format!("{}{path}", self.url.path().trim_end_matches('/')));
        url
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

#[cfg(test)]
mod tests {
    use super::*;

    fn message(result: Result<impl fmt::Debug>) -> String {
        match result {
            Err(Error::Configuration(m)) => m,
            Err(Error::InvalidInput { message, .. }) => message,
            other => panic!("expected a refused value, got {other:?}"),
        }
    }

    #[test]
    fn timeouts_at_every_extreme_are_a_duration_or_a_named_error() {
        assert_eq!(Setting::Timeout.seconds(30.0).unwrap(), DEFAULT_TIMEOUT);
        assert_eq!(Setting::Timeout.seconds(1e300).unwrap(), Duration::MAX);
        assert_eq!(Setting::Timeout.seconds(1e20).unwrap(), Duration::MAX);
        for bad in [0.0, -0.0, -1.0, 1e-18, 5e-324, f64::NAN, f64::INFINITY] {
            let m = message(Setting::Timeout.seconds(bad));
            assert!(m.starts_with("timeout must be"), "{bad}: {m}");
        }
        assert!(message(Setting::Timeout.seconds(-0.0)).ends_with("got -0.0"));
        assert!(message(Setting::Timeout.seconds(f64::NAN)).ends_with("got nan"));
        assert!(message(Setting::Timeout.seconds(1e-18)).ends_with("got 1e-18"));
    }

    #[test]
    fn floats_are_shown_as_python_shows_them() {
        for (x, python) in [
            (1e20, "1e+20"),
            (1e16, "1e+16"),
            (9999999999999998.0, "9999999999999998.0"),
            (1e-18, "1e-18"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (5e-324, "5e-324"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (30.0, "30.0"),
            (0.1, "0.1"),
            (1.5e300, "1.5e+300"),
            (-123456.789, "-123456.789"),
            (f64::MAX, "1.7976931348623157e+308"),
        ] {
            assert_eq!(Float(x).to_string(), python);
        }
    }

    #[test]
    fn rates_too_slow_to_pace_are_refused() {
        assert_eq!(Setting::RateLimit.per_minute(None).unwrap(), None);
        assert_eq!(
            Setting::RateLimit.per_minute(Some(1e300)).unwrap(),
            Some(1e300)
        );
        for bad in [0.0, -0.0, 1e-18, -120.0, f64::NAN, f64::INFINITY] {
            let m = message(Setting::RateLimit.per_minute(Some(bad)));
            assert!(m.starts_with("rate_limit must be"), "{bad}: {m}");
        }
    }

    #[test]
    fn an_unbounded_setting_takes_any_larger_integer_as_its_largest() {
        assert_eq!(Setting::Limit.integer(Some(1 << 64)).unwrap(), u64::MAX);
        assert_eq!(Setting::Limit.integer(Some(i128::MAX)).unwrap(), u64::MAX);
        assert!(Setting::Limit.integer(Some(i128::MIN)).is_err());
        assert!(Setting::PageSize.integer(Some(i128::MAX)).is_err());
    }

    #[test]
    fn integers_past_their_range_name_the_setting() {
        assert_eq!(Setting::MaxRetries.integer(Some(100)).unwrap(), 100);
        assert_eq!(Setting::Concurrency.integer(Some(1)).unwrap(), 1);
        for (setting, bad) in [
            (Setting::MaxRetries, Some(-1)),
            (Setting::MaxRetries, Some(1 << 40)),
            (Setting::Concurrency, Some(0)),
            (Setting::Concurrency, Some(10i128.pow(20))),
            (Setting::MaxResponseBytes, Some(0)),
            (Setting::MaxResponseBytes, Some(1 << 64)),
            (Setting::MaxResponseBytes, None),
            (Setting::PageSize, Some(0)),
            (Setting::PageSize, Some(101)),
            (Setting::LookupBatch, Some(0)),
            (Setting::LookupBatch, Some(101)),
            (Setting::Limit, Some(-1)),
        ] {
            let m = message(setting.integer(bad));
            assert!(m.starts_with(setting.name()), "{bad:?}: {m}");
        }
    }
}
