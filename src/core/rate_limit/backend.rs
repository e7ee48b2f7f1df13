//! The `rate_limit_backend` setting: where a budget lives, parsed and checked before anything
//! is sent. A password in a Redis URL is accepted but never shown: every message, `Debug` and
//! event names the backend by [`Backend::describe`], which masks it.

use std::path::PathBuf;

use url::Url;

use crate::core::error::{Argument, Error, Result};

/// The setting's name, as users write it (Python keyword, and the messages that name it).
pub const SETTING: &str = "rate_limit_backend";

/// Where a limiter keeps its budget.
#[derive(Clone, PartialEq, Eq)]
pub enum Backend {
    /// This limiter alone: the setting's default (`None`).
    Local,
    /// Shared through Redis by every client of the account, on any machine.
    Redis(RedisTarget),
    /// Shared through a file by the processes of one machine.
    File(PathBuf),
}

/// A checked `redis://` or `rediss://` URL. The URL itself (with any password) is only handed
/// to the Redis client; everything else sees `shown`.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisTarget {
    url: String,
    shown: String,
    /// Percent-decoded, so that it can be scrubbed from whatever a server or a library says.
    password: Option<String>,
}

impl RedisTarget {
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// The password as sent, for scrubbing messages; None when the URL has none.
    pub(crate) fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }
}

/// Why a shared backend did not answer; its text is for the limiter's `Event::BackendLost`
/// and is free of passwords.
#[derive(Clone, Debug)]
pub(crate) struct StoreError(pub(crate) String);

fn bad(why: impl std::fmt::Display) -> Error {
    Argument::named(SETTING).setting_error(why.to_string(), "")
}

const EXPECTED: &str = "redis://host:port/db, rediss://host:port/db (TLS) or file:///absolute/path";

impl Backend {
    /// Parse the setting; `None` is a budget of the client's own.
    pub fn parse(setting: Option<&str>) -> Result<Backend> {
        let Some(raw) = setting else {
            return Ok(Backend::Local);
        };
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(Argument::named(SETTING).setting_error(
                format!("is empty; expected one of {EXPECTED}"),
                ", or None for a budget of this client's own",
            ));
        }
        // The raw text is never echoed: it may hold a password.
        let url =
            Url::parse(raw).map_err(|e| bad(format!("is not a URL ({e}); expected {EXPECTED}")))?;
        match url.scheme() {
            "redis" | "rediss" => parse_redis(url),
            "file" => parse_file(url),
            other => Err(bad(format!(
                "has the scheme {other:?}, which is not one of {EXPECTED}"
            ))),
        }
    }

    /// The backend as messages show it: a Redis password is masked.
    pub fn describe(&self) -> String {
        match self {
            Backend::Local => "local (this client only)".to_string(),
            Backend::Redis(target) => target.shown.clone(),
            Backend::File(path) => format!("file://{}", path.display()),
        }
    }

    pub fn is_shared(&self) -> bool {
        !matches!(self, Backend::Local)
    }
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Backend({})", self.describe())
    }
}

impl std::fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RedisTarget({})", self.shown)
    }
}

fn parse_redis(url: Url) -> Result<Backend> {
    let mut shown = url.clone();
    if url.password().is_some() {
        // Cannot fail: the URL has a host, or it would have no password.
        let _ = shown.set_password(Some("***"));
    }
    let shown_text = shown.to_string();
    let bad_url = |why: &str| bad(format!("{shown_text:?} {why}"));
    let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
        return Err(bad_url("has no host; expected redis://host:port/db"));
    };
    if host == "0.0.0.0" || host == "[::]" {
        return Err(bad_url("names a wildcard address, not a server"));
    }
    if url.query().is_some() {
        return Err(bad_url("must not have a query (?…)"));
    }
    if url.fragment().is_some() {
        return Err(bad_url("must not have a fragment (#…)"));
    }
    match url.path().trim_start_matches('/') {
        "" => {}
        db if db.parse::<u32>().is_ok() => {}
        _ => {
            return Err(bad_url(
                "has a path that is not a database number; expected redis://host:port/db",
            ))
        }
    }
    let password = match url.password() {
        None => None,
        Some(encoded) => Some(
            percent_decode(encoded)
                .ok_or_else(|| bad_url("has a password that is not valid percent-encoded UTF-8"))?,
        ),
    };
    // The Redis client's own reading of it, so that nothing it would refuse gets through.
    redis::Client::open(url.as_str()).map_err(|e| {
        let message = scrub(&e.to_string(), password.as_deref());
        bad_url(&format!("is refused by the Redis client: {message}"))
    })?;
    Ok(Backend::Redis(RedisTarget {
        url: url.to_string(),
        shown: shown_text,
        password,
    }))
}

fn parse_file(url: Url) -> Result<Backend> {
    let shown = url.to_string();
    let bad_url = |why: &str| bad(format!("{shown:?} {why}"));
    match url.host_str() {
        None | Some("") | Some("localhost") => {}
        Some(_) => {
            return Err(bad_url(
                "names another machine; a file budget is for the processes of this machine \
                 (file:///absolute/path); share across machines with redis://",
            ))
        }
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad_url("must not have a query (?…) or a fragment (#…)"));
    }
    if url.path().ends_with('/') {
        return Err(bad_url("names a directory; name a file in it"));
    }
    let path = url
        .to_file_path()
        .map_err(|()| bad_url("is not an absolute file path; expected file:///absolute/path"))?;
    if path.is_dir() {
        return Err(bad_url("names a directory; name a file in it"));
    }
    Ok(Backend::File(path))
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `message` with every occurrence of `secret` masked: what a server or a library says is
/// never trusted to leave a password out.
pub(crate) fn scrub(message: &str, secret: Option<&str>) -> String {
    match secret {
        Some(secret) if !secret.is_empty() => message.replace(secret, "***"),
        _ => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::ErrorKind;

    const PASSWORD: &str = "s3cr%t-pa55";

    fn error_of(setting: &str) -> String {
        match Backend::parse(Some(setting)) {
            Err(error) if error.kind() == ErrorKind::Configuration => error.to_string(),
            other => panic!("{setting}: expected a configuration error, got {other:?}"),
        }
    }

    #[test]
    fn none_is_local() {
        assert_eq!(Backend::parse(None).unwrap(), Backend::Local);
        assert!(!Backend::Local.is_shared());
    }

    #[test]
    fn redis_urls_are_accepted() {
        for (setting, shown) in [
            ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
            ("redis://cache.internal", "redis://cache.internal"),
            (
                "rediss://cache.example.com:6380/2",
                "rediss://cache.example.com:6380/2",
            ),
            ("  redis://[::1]:7000/  ", "redis://[::1]:7000/"),
            ("redis://user:pw@h:1/3", "redis://user:***@h:1/3"),
        ] {
            let backend = Backend::parse(Some(setting)).unwrap();
            assert!(backend.is_shared());
            assert_eq!(backend.describe(), shown, "{setting}");
        }
    }

    #[test]
    fn a_password_is_never_shown() {
        let encoded = "s3cr%25t-pa55";
        let setting = format!("redis://:{encoded}@127.0.0.1:6379/0");
        let backend = Backend::parse(Some(&setting)).unwrap();
        let Backend::Redis(target) = &backend else {
            panic!("{backend:?}")
        };
        assert_eq!(target.password(), Some(PASSWORD));
        for text in [
            backend.describe(),
            format!("{backend:?}"),
            format!("{target:?}"),
        ] {
            assert!(
                !text.contains(encoded) && !text.contains(PASSWORD),
                "{text}"
            );
            assert!(text.contains("***"), "{text}");
        }
        // Nor in the errors of URLs that carry one.
        for bad in [
            format!("redis://:{encoded}@127.0.0.1:6379/zero"),
            format!("redis://:{encoded}@127.0.0.1:6379/0?protocol=resp3"),
            format!("redis://:{encoded}@127.0.0.1:6379/0#insecure"),
            format!("redis://:{encoded}@0.0.0.0:6379/0"),
            format!("redis://user:{encoded}@:6379/0"),
            format!("redis ://:{encoded}@h/0"),
        ] {
            let message = error_of(&bad);
            assert!(message.starts_with(SETTING), "{message}");
            assert!(
                !message.contains(encoded) && !message.contains(PASSWORD),
                "{message}"
            );
        }
    }

    #[test]
    fn bad_settings_name_the_setting_and_the_problem() {
        for (setting, expect) in [
            ("", "is empty"),
            ("   ", "is empty"),
            ("localhost:6379", "scheme"),
            ("http://127.0.0.1:6379", "scheme \"http\""),
            ("redis://", "no host"),
            ("redis://h:6379/db0", "database number"),
            ("redis://h:6379/0/1", "database number"),
            ("redis://h:99999/0", "not a URL"),
            ("file://otherhost/tmp/budget", "another machine"),
            ("file:///tmp/", "directory"),
            ("file:///tmp/budget?x=1", "query"),
        ] {
            let message = error_of(setting);
            assert!(message.starts_with(SETTING), "{setting}: {message}");
            assert!(message.contains(expect), "{setting}: {message}");
        }
        let dir = std::env::temp_dir();
        let message = error_of(&format!("file://{}", dir.display()));
        assert!(message.contains("directory"), "{message}");
    }

    #[test]
    fn file_urls_give_a_path() {
        assert_eq!(
            Backend::parse(Some("file:///var/tmp/helpcrunch.budget")).unwrap(),
            Backend::File(PathBuf::from("/var/tmp/helpcrunch.budget"))
        );
        assert_eq!(
            Backend::parse(Some("file://localhost/var/tmp/a%20b")).unwrap(),
            Backend::File(PathBuf::from("/var/tmp/a b"))
        );
    }

    #[test]
    fn scrub_masks_every_occurrence() {
        assert_eq!(scrub("a pw b pw", Some("pw")), "a *** b ***");
        assert_eq!(scrub("nothing", None), "nothing");
        assert_eq!(scrub("nothing", Some("")), "nothing");
    }
}
