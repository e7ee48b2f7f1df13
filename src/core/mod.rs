//! The HelpCrunch client core: HTTP, validation, retries, rate limiting and errors.
//! Nothing here knows about Python; `crate::python` is the thin layer that exposes it.

pub mod bulk;
pub mod client;
pub mod error;
pub mod rate_limit;
pub mod retry;
pub mod runtime;
pub mod validate;

#[cfg(test)]
mod tests;

pub use client::{Client, ClientConfig, Customer};
pub use error::{Error, ErrorDetail, InputErrorKind, Result, StatusError};
pub use validate::{CustomerId, Tag, TagInput, TagUse};
