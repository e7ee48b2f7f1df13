//! Why an attempt failed, and the error a failed call ends with: statuses and their bodies,
//! transport errors in one line, and the API key blanked out of anything a server sent back.

use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::config::ClientConfig;
use super::error::{excerpt, Error, ErrorDetail, StatusError};
use super::retry::{is_retryable_status, server_wait, TOO_MANY_REQUESTS};

/// How much of an odd body an error keeps for the user to read.
const MAX_BODY_IN_ERROR: usize = 64 * 1024;

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

/// What a server sent, as an error keeps it: lossy UTF-8, the key blanked out of the whole body
/// before it is cut to [`MAX_BODY_IN_ERROR`] bytes (so a key straddling the cut cannot leave its
/// first half behind), and whatever piece of the key still ends the excerpt at the cut blanked too.
pub(crate) fn body_excerpt(body: &[u8], key: &str) -> String {
    let text = redact(String::from_utf8_lossy(body).into_owned(), key);
    if text.len() <= MAX_BODY_IN_ERROR {
        return text;
    }
    let mut end = MAX_BODY_IN_ERROR;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let cut = &text[..end];
    // The longest start of the key that ends the excerpt (a server that echoed only part of it).
    let left = (1..=key.len().min(cut.len()))
        .rev()
        .find(|&n| key.is_char_boundary(n) && cut.ends_with(&key[..n]));
    match left {
        Some(n) => format!("{}{REDACTED}", &cut[..cut.len() - n]),
        None => cut.to_string(),
    }
}

const REDACTED: &str = "[redacted]";

/// Why one attempt failed, before deciding whether to try again.
pub(crate) enum Failure {
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
    pub fn is_retryable(&self) -> bool {
        match self {
            // Tagging and untagging are idempotent and pages are reads, so a request that may or
            // may not have reached the server is safe to send again.
            Failure::Transport(_) => true,
            Failure::Status { status, .. } => is_retryable_status(*status),
            Failure::InvalidBody { .. } | Failure::TooLarge { .. } => false,
        }
    }

    /// HelpCrunch refused the request for the account's rate limit.
    pub fn is_throttled(&self) -> bool {
        matches!(self, Failure::Status { status, .. } if *status == TOO_MANY_REQUESTS)
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            Failure::Transport(_) => None,
            Failure::Status { status, .. }
            | Failure::InvalidBody { status, .. }
            | Failure::TooLarge { status, .. } => Some(*status),
        }
    }

    pub fn server_wait(&self) -> Option<Duration> {
        match self {
            Failure::Status { headers, .. } => server_wait(
                headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                SystemTime::now(),
            ),
            _ => None,
        }
    }

    pub fn transport_message(&self) -> Option<String> {
        match self {
            Failure::Transport(e) => Some(describe_transport_error(e)),
            _ => None,
        }
    }

    pub fn into_error(
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
                    body: body_excerpt(&body, &config.api_key),
                    headers: headers
                        .into_iter()
                        .map(|(k, v)| (hide(k), hide(v)))
                        .collect(),
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

pub(crate) fn unusable_body_error(
    status: u16,
    message: String,
    body: &[u8],
    attempts: u32,
    config: &ClientConfig,
) -> Error {
    Error::ResponseValidation {
        status,
        message: redact(message, &config.api_key),
        body: body_excerpt(body, &config.api_key),
        attempts,
    }
}

/// `text` with every occurrence of the API key replaced.
fn redact(text: String, key: &str) -> String {
    if key.is_empty() || !text.contains(key) {
        return text;
    }
    text.replace(key, REDACTED)
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

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "hc-secret-key-0123456789abcdef";

    fn leaves_nothing_of_the_key(text: &str) -> bool {
        !text.contains(KEY) && (3..=KEY.len()).all(|n| !text.ends_with(&KEY[..n]))
    }

    #[test]
    fn a_key_across_the_cut_is_blanked_before_the_cut() {
        for before_cut in 0..=KEY.len() {
            // Multi-byte filler, so the cut also falls inside characters.
            let filler = MAX_BODY_IN_ERROR - before_cut;
            let mut body = "é".repeat(filler / 2);
            body.push_str(&"x".repeat(filler % 2));
            body.push_str(KEY);
            body.push_str(" and more after it");
            let text = body_excerpt(body.as_bytes(), KEY);
            assert!(
                leaves_nothing_of_the_key(&text),
                "{before_cut}: …{}",
                &text[text.len() - 40..]
            );
            assert!(text.len() <= MAX_BODY_IN_ERROR + REDACTED.len());
        }
    }

    #[test]
    fn a_start_of_the_key_left_at_the_cut_is_blanked() {
        for echoed in 1..KEY.len() {
            let mut body = "x".repeat(MAX_BODY_IN_ERROR - echoed);
            body.push_str(&KEY[..echoed]);
            body.push_str(" then something that is not the rest of the key");
            let text = body_excerpt(body.as_bytes(), KEY);
            assert!(leaves_nothing_of_the_key(&text), "{echoed}");
            assert!(text.ends_with(REDACTED));
        }
    }

    #[test]
    fn a_body_under_the_cut_is_kept_whole_with_the_key_blanked() {
        let body = format!("echo: Bearer {KEY}; ends with {}", &KEY[..5]);
        assert_eq!(
            body_excerpt(body.as_bytes(), KEY),
            format!("echo: Bearer {REDACTED}; ends with {}", &KEY[..5])
        );
    }
}
