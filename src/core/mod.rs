//! The HelpCrunch client core: HTTP, validation, retries, rate limiting and errors.
//! Nothing here knows about Python; `crate::python` is the thin layer that exposes it.
//!
//! - `config`: settings, their defaults and the checks on their values;
//! - `operation`: the calls (name, method, path, body);
//! - `client`: making a call: pacing, attempts, retries; `pool`: connections per process;
//! - `body`: reading and checking response bodies; `failure`: what a failed attempt becomes;
//! - `error`: the error type, with the argument an input error is about; `names`: the one
//!   mechanism by which an enum lists its names for other layers;
//! - `validate`: customer ids and tags; `color`: what a tag colour may be (any CSS colour);
//!   `retry`: the retry policy; `rate_limit`: the pacer;
//! - `query`: search filters, checked; `paging`: which page to ask for next and whether a page
//!   can be used (pure logic); `search`: the pager that fetches them;
//! - `sync`: planning a tag sync (which customers to tag and untag, found with the fewest
//!   requests);
//! - `fields`: planning a customer sync (which fields to set, which customers to create);
//! - `change`: one change to one customer (what a plan holds, applying sends, a log records
//!   and undo reverses);
//! - `bulk`: many calls at once; `runtime`: the fork-aware tokio runtimes; `wait`: how a
//!   blocking call waits; `words`: numbers in messages (`1,801`).

pub mod body;
pub mod bulk;
pub mod change;
pub mod client;
pub mod color;
pub mod config;
pub mod error;
pub mod failure;
pub mod fields;
pub mod names;
pub mod operation;
pub mod paging;
mod pool;
pub mod query;
pub mod rate_limit;
pub mod retry;
pub mod runtime;
pub mod search;
pub mod sync;
pub mod validate;
pub mod wait;
pub mod words;

#[cfg(test)]
mod tests;

pub use change::{Change, Edit};
pub use client::{Client, Response};
pub use config::{ClientConfig, Setting};
pub use error::{Argument, Error, ErrorDetail, ErrorKind, InputErrorKind, Result, StatusError};
pub use operation::{Call, Operation};
pub use validate::{CustomerId, Tag, TagInput, TagUse};
