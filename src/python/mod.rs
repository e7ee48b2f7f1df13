//! The thin pyo3 layer: converts Python values to core types and back, runs core futures with
//! the GIL released, and maps core errors onto the Python exception classes.

mod bridge;
mod bulk;
mod client;
mod convert;
mod errors;
mod sandbox;

use pyo3::prelude::*;

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<client::NativeClient>()?;
    m.add_class::<sandbox::SandboxServer>()?;
    m.add_class::<bulk::NativeBulkRun>()?;
    m.add_class::<bridge::LoopBridge>()?;
    m.add_class::<bridge::TaskHandle>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
