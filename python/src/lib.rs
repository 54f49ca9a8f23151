//! `optout._optout`: the native half of the `optout` Python package (PyO3, abi3 for CPython
//! 3.9 and newer). Every decision is made by the `optout` crate's engine
//! ([`optout::engine`]); this crate only converts between Python and Rust, releases the GIL
//! around engine work, and bridges the engine's futures to asyncio.
//!
//! Importing the module builds nothing and touches neither the network nor the disk: the
//! default configuration for the pure functions is built on first use, and an
//! [`engine::Engine`] opens its store when it is constructed.
//!
//! `#![forbid(unsafe_code)]` holds for the project outside the bindings; PyO3's generated
//! glue is the one place it is waived (see the project rules).

mod decision;
mod engine;
mod errors;
mod input;
mod log;
mod pure;

use pyo3::prelude::*;

/// The native module. `optout/__init__.py` re-exports what users need.
#[pymodule]
fn _optout(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("OptoutError", py.get_type::<errors::OptoutError>())?;
    m.add("ConfigError", py.get_type::<errors::ConfigError>())?;
    m.add("StoreError", py.get_type::<errors::StoreError>())?;
    m.add("LogBrokenError", py.get_type::<errors::LogBrokenError>())?;
    m.add_class::<decision::Reason>()?;
    m.add_class::<decision::Decision>()?;
    m.add_class::<decision::FetchResult>()?;
    m.add_class::<engine::Engine>()?;
    m.add_class::<log::Log>()?;
    m.add_class::<log::Verified>()?;
    m.add_function(wrap_pyfunction!(pure::evaluate_robots, m)?)?;
    m.add_function(wrap_pyfunction!(pure::evaluate, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
