//! The exceptions: one base, [`OptoutError`], and a type per thing a caller handles
//! differently. Each message is the CLI's one line.

use optout::engine::EngineError;
use pyo3::PyErr;
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};

create_exception!(
    optout,
    OptoutError,
    PyException,
    "Base of every optout error."
);
create_exception!(
    optout,
    ConfigError,
    OptoutError,
    "The configuration file, or a list it names, is unusable."
);
create_exception!(
    optout,
    StoreError,
    OptoutError,
    "The store is damaged, held by another process, or cannot be written (so nothing is decided off the record)."
);
create_exception!(
    optout,
    LogBrokenError,
    OptoutError,
    "The evidence log is not intact: a record or snapshot no longer matches its hash."
);

/// The Python exception for an engine error: a bad argument is a `ValueError`; the store and
/// the evidence log are [`StoreError`]; the configuration is [`ConfigError`].
pub fn engine_error(e: EngineError) -> PyErr {
    let message = e.to_string();
    match e {
        EngineError::Config(_) => ConfigError::new_err(message),
        EngineError::Store(_) | EngineError::Append(_) => StoreError::new_err(message),
        EngineError::BadAgent(_) | EngineError::BadHeader(_) => PyValueError::new_err(message),
        EngineError::Client(_) | EngineError::NotRecording => OptoutError::new_err(message),
    }
}

/// A store error as [`StoreError`].
pub fn store_error(e: optout::store::StoreError) -> PyErr {
    StoreError::new_err(e.to_string())
}
