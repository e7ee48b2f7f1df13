//! The one error type of the core. Each variant maps onto one class of the Python hierarchy
//! (`helpcrunch._exceptions`); the Display text is the message users read.

use std::fmt;
use std::time::Duration;

use super::names::names;

/// One `{code, message}` pair of a HelpCrunch error body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}

/// A response with a non-2xx status.
#[derive(Debug, Clone)]
pub struct StatusError {
    pub method: &'static str,
    pub path: String,
    pub status: u16,
    /// Every `{code, message}` pair the body carried, in order; empty when it carried none.
    pub errors: Vec<ErrorDetail>,
    /// The raw body as text (lossy UTF-8), kept for bodies that are not HelpCrunch's JSON.
    pub body: String,
    pub headers: Vec<(String, String)>,
    pub attempts: u32,
    /// What the server asked us to wait (Retry-After and friends), when it said.
    pub retry_after: Option<Duration>,
}

/// Whether bad input is the wrong kind of thing (Python `TypeError`), a bad value (`ValueError`)
/// or a setting a client cannot be built with (`ConfigurationError`, as [`Error::Configuration`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputErrorKind {
    Type,
    Value,
    Setting,
}

/// The argument an input error is about, in parts, so that another layer can say it in its own
/// terms (the CLI names its option, `--page-size`) without reading the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Argument {
    /// As the API names it: `page_size`, `where`, `base_url`, `customer_id`, `tags`.
    pub name: &'static str,
    /// Which item of a list argument the error is about (`where[2]`), if one.
    pub index: Option<usize>,
    /// What is wrong with it, without its name and without advice in the API's terms
    /// (`must be an integer from 1 to 100, got 0`).
    pub detail: String,
}

impl Argument {
    /// The argument `name` as a whole; [`Argument::item`] for one item of a list.
    pub const fn named(name: &'static str) -> Argument {
        Argument {
            name,
            index: None,
            detail: String::new(),
        }
    }

    pub const fn item(name: &'static str, index: usize) -> Argument {
        Argument {
            name,
            index: Some(index),
            detail: String::new(),
        }
    }

    /// How messages name it: `page_size`, `where[2]`.
    pub fn subject(&self) -> String {
        match self.index {
            Some(i) => format!("{}[{i}]", self.name),
            None => self.name.to_string(),
        }
    }

    /// A `ValueError` about it, reading `{subject} {detail}`.
    pub fn value_error(self, detail: impl Into<String>) -> Error {
        self.refuse(InputErrorKind::Value, " ", detail.into(), "")
    }

    /// A `TypeError` about it, reading `{subject} {detail}`.
    pub fn type_error(self, detail: impl Into<String>) -> Error {
        self.refuse(InputErrorKind::Type, " ", detail.into(), "")
    }

    /// A `ConfigurationError` about it, reading `{subject} {detail}{advice}`: `advice` is in
    /// the API's terms (`, or pass allow_insecure_http=True`), and left out of `detail`.
    pub fn setting_error(self, detail: impl Into<String>, advice: &str) -> Error {
        self.refuse(InputErrorKind::Setting, " ", detail.into(), advice)
    }

    /// An error of `kind` reading `{subject}{joint}{detail}{advice}`.
    pub fn refuse(
        mut self,
        kind: InputErrorKind,
        joint: &str,
        detail: String,
        advice: &str,
    ) -> Error {
        let message = format!("{}{joint}{detail}{advice}", self.subject());
        self.detail = detail;
        Error::InvalidInput {
            kind,
            message,
            argument: Some(Box::new(self)),
        }
    }
}

#[derive(Debug, Clone)]
pub enum Error {
    /// Refused before anything was sent.
    InvalidInput {
        kind: InputErrorKind,
        message: String,
        /// The argument refused, when the error is about one.
        argument: Option<Box<Argument>>,
    },
    /// The client cannot be built as asked (no key, bad base URL, plain http to a remote host).
    Configuration(String),
    /// The server answered with a non-2xx status.
    Status(Box<StatusError>),
    /// The request never got a complete answer: refused, reset, DNS, TLS, cut off mid-body.
    Connection { message: String, attempts: u32 },
    /// No complete answer within the per-attempt timeout.
    Timeout { timeout: Duration, attempts: u32 },
    /// A 2xx whose body is not a JSON object (or is larger than the response cap).
    ResponseValidation {
        status: u16,
        message: String,
        body: String,
        attempts: u32,
    },
    /// The client was closed before or while this call ran.
    Closed,
    /// A bulk run was stopped before this item finished, after `attempts` attempts had been
    /// sent (0: nothing was).
    Cancelled { attempts: u32 },
    /// A bug in this package (a panic caught at the boundary). Never expected.
    Internal(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn type_error(message: impl Into<String>) -> Self {
        Error::InvalidInput {
            kind: InputErrorKind::Type,
            message: message.into(),
            argument: None,
        }
    }

    pub fn value_error(message: impl Into<String>) -> Self {
        Error::InvalidInput {
            kind: InputErrorKind::Value,
            message: message.into(),
            argument: None,
        }
    }

    /// The argument this error is about, when it is about one.
    pub fn argument(&self) -> Option<&Argument> {
        match self {
            Error::InvalidInput { argument, .. } => argument.as_deref(),
            _ => None,
        }
    }

    /// How many attempts were made before this error was final (0 when nothing was sent).
    pub fn attempts(&self) -> u32 {
        match self {
            Error::Status(e) => e.attempts,
            Error::Connection { attempts, .. }
            | Error::Timeout { attempts, .. }
            | Error::ResponseValidation { attempts, .. }
            | Error::Cancelled { attempts } => *attempts,
            _ => 0,
        }
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidInput {
                kind: InputErrorKind::Type,
                ..
            } => ErrorKind::InvalidType,
            Error::InvalidInput {
                kind: InputErrorKind::Value,
                ..
            } => ErrorKind::InvalidValue,
            Error::InvalidInput {
                kind: InputErrorKind::Setting,
                ..
            }
            | Error::Configuration(_) => ErrorKind::Configuration,
            Error::Status(_) => ErrorKind::Status,
            Error::Connection { .. } => ErrorKind::Connection,
            Error::Timeout { .. } => ErrorKind::Timeout,
            Error::ResponseValidation { .. } => ErrorKind::ResponseValidation,
            Error::Closed => ErrorKind::Closed,
            Error::Cancelled { .. } => ErrorKind::Cancelled,
            Error::Internal(_) => ErrorKind::Internal,
        }
    }
}

/// The kinds of [`Error`], by the stable names other layers know them by (the Python layer
/// keeps one table from these names to its exception classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    InvalidType,
    InvalidValue,
    Configuration,
    Status,
    Connection,
    Timeout,
    ResponseValidation,
    Closed,
    Cancelled,
    Internal,
}

names!(ErrorKind {
    InvalidType => "invalid_type",
    InvalidValue => "invalid_value",
    Configuration => "configuration",
    Status => "status",
    Connection => "connection",
    Timeout => "timeout",
    ResponseValidation => "response_validation",
    Closed => "closed",
    Cancelled => "cancelled",
    Internal => "internal",
});

fn attempts_suffix(attempts: u32) -> String {
    match attempts {
        1 => " (1 attempt)".to_string(),
        n => format!(" ({n} attempts)"),
    }
}

/// The standard reason phrase, so a message reads "404 Not Found" even when the server sent none.
pub fn reason_phrase(status: u16) -> &'static str {
    http_reason(status).unwrap_or("")
}

fn http_reason(status: u16) -> Option<&'static str> {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
}

impl StatusError {
    /// The detail messages worth reading: HelpCrunch puts a generic "Invalid request" first and
    /// the real reason after it, so the generic one is dropped when there is anything else.
    pub fn detail_messages(&self) -> Vec<&str> {
        let specific: Vec<&str> = self
            .errors
            .iter()
            .filter(|e| e.code != "invalid_request")
            .map(|e| e.message.as_str())
            .collect();
        if specific.is_empty() {
            self.errors.iter().map(|e| e.message.as_str()).collect()
        } else {
            specific
        }
    }
}

impl fmt::Display for StatusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        let reason = reason_phrase(self.status);
        if !reason.is_empty() {
            write!(f, " {reason}")?;
        }
        write!(f, " from {} {}", self.method, self.path)?;
        let details = self.detail_messages();
        if !details.is_empty() {
            // The server's words, kept to one line each: a message must not forge log lines.
            let one_line: Vec<String> = details.iter().map(|m| excerpt(m, 300)).collect();
            write!(f, ": {}", one_line.join("; "))?;
        } else if !self.body.trim().is_empty() {
            write!(f, ": {}", excerpt(&self.body, 120))?;
        }
        if let Some(wait) = self.retry_after {
            write!(
                f,
                "; server asks to retry after {:.1} s",
                wait.as_secs_f64()
            )?;
        }
        write!(f, "{}", attempts_suffix(self.attempts))
    }
}

/// How the caller's language shows a string, installed by the binding layer (Python's `repr`);
/// without one, [`repr_like_python`].
static QUOTER: std::sync::OnceLock<fn(&str) -> Option<String>> = std::sync::OnceLock::new();

/// Show strings in messages with `quoter` (the first one installed stays).
pub fn set_quoter(quoter: fn(&str) -> Option<String>) {
    let _ = QUOTER.set(quoter);
}

/// `text` quoted as the caller wrote it, whole: a message about a value shows that value, never
/// a trimmed or shortened one (`" 12"` must not read as `"12"`), and escapes control characters
/// so it stays on one line.
pub fn quote(text: &str) -> String {
    QUOTER
        .get()
        .and_then(|quoter| quoter(text))
        .unwrap_or_else(|| repr_like_python(text))
}

/// Python's `repr` of a str, for the characters std can classify: quotes as Python picks
/// them, `\\`, `\n`, `\r`, `\t`, and `\x`/`\u`/`\U` escapes for control, format, separator
/// and private-use characters. (Python also escapes unassigned code points, which needs
/// Unicode's tables: the binding layer installs Python's own `repr` instead.)
pub fn repr_like_python(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if is_printable(c) => out.push(c),
            c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push(quote);
    out
}

fn is_printable(c: char) -> bool {
    let n = c as u32;
    !(c.is_control()
        || (c.is_whitespace() && c != ' ')
        || matches!(n,
            0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x180E | 0x200B..=0x200F
            | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB
            | 0xE000..=0xF8FF | 0xF0000..=0x10FFFF | 0xE0001 | 0xE0020..=0xE007F))
}

/// The first `max` characters of `text` on one line, for messages about odd bodies.
pub fn excerpt(text: &str, max: usize) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let trimmed = one_line.trim();
    if trimmed.chars().count() <= max {
        trimmed.to_string()
    } else {
        let cut: String = trimmed.chars().take(max).collect();
        format!("{cut}…")
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidInput { message, .. } | Error::Configuration(message) => {
                f.write_str(message)
            }
            Error::Status(e) => e.fmt(f),
            Error::Connection { message, attempts } => {
                write!(
                    f,
                    "connection error: {message}{}",
                    attempts_suffix(*attempts)
                )
            }
            Error::Timeout { timeout, attempts } => write!(
                f,
                "no answer within the {:.1} s timeout{}; raise `timeout` or check the network",
                timeout.as_secs_f64(),
                attempts_suffix(*attempts)
            ),
            Error::ResponseValidation {
                status,
                message,
                attempts,
                ..
            } => write!(
                f,
                "HTTP {status} with an unusable body: {message}{}",
                attempts_suffix(*attempts)
            ),
            Error::Closed => f.write_str("this client is closed; make a new one"),
            Error::Cancelled { .. } => {
                f.write_str("cancelled: the run was stopped before this item finished")
            }
            Error::Internal(message) => write!(
                f,
                "internal error in helpcrunch (please report it): {message}"
            ),
        }
    }
}

impl std::error::Error for Error {}

/// `'a'`, `'a' or 'b'`, `'a', 'b' or 'c'`: the names a value may take, for messages.
pub fn one_of(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|name| format!("'{name}'")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// The error for `text` given as `parameter`, which takes one of `names`.
/// A value that is none of an enum's names (`names!`'s `parse`), naming the argument.
pub fn unknown_name(parameter: &'static str, names: &[&str], text: &str) -> Error {
    Argument::named(parameter).value_error(format!(
        "must be {}, got {:?}",
        one_of(names),
        excerpt(text, 20)
    ))
}
