//! helpcrunch: HelpCrunch customer tags from Python, on a Rust core.
//!
//! - `core`: the client (HTTP, validation, retries, rate limiting, errors); no Python in it.
//! - `sandbox`: a fake HelpCrunch server for offline use and tests; no Python in it.
//! - `python`: the pyo3 bindings (feature `python`, turned on by maturin).

pub mod core;
pub mod sandbox;

#[cfg(feature = "python")]
mod python;

#[cfg(feature = "python")]
#[pyo3::pymodule]
fn _native(m: &pyo3::Bound<'_, pyo3::types::PyModule>) -> pyo3::PyResult<()> {
    python::register(m)
}
