//! `engine.log`: verify, export and checkpoint the evidence log of an engine's store, through
//! the library functions `optout log` uses ([`optout::evidence`]), so the records, the
//! export bytes and the checkpoint line are the CLI's.

use crate::engine::Engine;
use crate::errors::{LogBrokenError, StoreError, store_error};
use optout::evidence::export::{self, ExportError, Filter};
use optout::evidence::verify::VerifyError;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use std::io::Write;
use std::path::PathBuf;

/// The result of a verification: the log is intact.
#[pyclass(module = "optout", frozen, get_all)]
pub struct Verified {
    /// Records checked.
    pub records: u64,
    /// Snapshots checked.
    pub snapshots: u64,
    /// The last record's sequence number.
    pub head_seq: u64,
    /// The last record's chain hash (hex).
    pub head_hash: String,
}

#[pymethods]
impl Verified {
    fn __repr__(&self) -> String {
        format!(
            "Verified(records={}, snapshots={}, head_seq={}, head_hash={:?})",
            self.records, self.snapshots, self.head_seq, self.head_hash
        )
    }
}

/// The evidence log of an engine's store: one hash-chained record per decision
/// (`docs/evidence.md`).
#[pyclass(module = "optout", frozen)]
pub struct Log {
    engine: Py<Engine>,
}

impl Log {
    pub fn new(engine: Py<Engine>) -> Log {
        Log { engine }
    }

    /// The engine's log, synced first so that every decision handed out is covered.
    fn store(&self, py: Python<'_>) -> PyResult<optout::store::Store> {
        let engine = self.engine.get().library()?;
        py.detach(|| engine.sync()).map_err(store_error)?;
        let log = engine
            .log()
            .ok_or_else(|| StoreError::new_err("the engine keeps no evidence log"))?;
        Ok(log.store().clone())
    }
}

/// A filter time: `str` (RFC 3339) or a `datetime` (naive ones are UTC), as records write it.
fn time(py: Python<'_>, name: &str, value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<String>> {
    let Some(value) = value else { return Ok(None) };
    let text = if let Ok(s) = value.cast::<PyString>() {
        s.to_cow()?.into_owned()
    } else if value.hasattr("isoformat")? {
        let utc = py.import("datetime")?.getattr("timezone")?.getattr("utc")?;
        let aware = if value.getattr("tzinfo")?.is_none() {
            value.call_method("replace", (), Some(&[("tzinfo", utc)].into_py_dict(py)?))?
        } else {
            value.call_method1("astimezone", (utc,))?
        };
        let text: String = aware.call_method0("isoformat")?.extract()?;
        text.replace("+00:00", "Z")
    } else {
        return Err(PyTypeError::new_err(format!(
            "{name} must be str or datetime"
        )));
    };
    export::time_bound(&text)
        .map(Some)
        .map_err(|e| PyValueError::new_err(format!("{name}: {e}")))
}

use pyo3::types::IntoPyDict;

/// Writes to a Python file object in chunks of whole lines (a text file gets `str`).
struct PyFile<'py> {
    file: Bound<'py, PyAny>,
    text: bool,
    buf: Vec<u8>,
}

impl PyFile<'_> {
    const CHUNK: usize = 64 * 1024;

    /// Hands the complete lines buffered (all when `all`) to the file.
    fn hand_over(&mut self, all: bool) -> std::io::Result<()> {
        let end = if all {
            self.buf.len()
        } else {
            self.buf
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1)
        };
        if end == 0 {
            return Ok(());
        }
        let chunk: Vec<u8> = self.buf.drain(..end).collect();
        let py = self.file.py();
        let written = if self.text {
            self.file
                .call_method1("write", (String::from_utf8_lossy(&chunk).into_owned(),))
        } else {
            self.file.call_method1("write", (PyBytes::new(py, &chunk),))
        };
        written.map(|_| ()).map_err(std::io::Error::other)
    }
}

impl Write for PyFile<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() >= Self::CHUNK {
            self.hand_over(false)?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.hand_over(true)
    }
}

/// A failed export: a broken log is [`LogBrokenError`], a store failure [`StoreError`], a
/// failed write `OSError`.
fn export_error(e: ExportError) -> PyErr {
    match e {
        ExportError::Store(e) => store_error(e),
        ExportError::Unreadable(_) => LogBrokenError::new_err(e.to_string()),
        ExportError::Io(io) => match io.into_inner() {
            Some(inner) => match inner.downcast::<PyErr>() {
                Ok(py_err) => *py_err,
                Err(other) => pyo3::exceptions::PyOSError::new_err(other.to_string()),
            },
            None => pyo3::exceptions::PyOSError::new_err("cannot write the export"),
        },
        ExportError::Csv(_) => pyo3::exceptions::PyOSError::new_err(e.to_string()),
    }
}

#[pymethods]
impl Log {
    /// Checks every record's hash and link, the head, and every snapshot, as
    /// `optout log verify` does. Returns `Verified`; raises `LogBrokenError` naming the
    /// first bad record, `StoreError` when the store cannot be read.
    fn verify(&self, py: Python<'_>) -> PyResult<Verified> {
        let store = self.store(py)?;
        match py.detach(|| optout::evidence::verify_store(&store)) {
            Ok(v) => Ok(Verified {
                records: v.records,
                snapshots: v.snapshots,
                head_seq: v.head.0,
                head_hash: v.head.1,
            }),
            Err(VerifyError::Broken(broken)) => Err(LogBrokenError::new_err(broken.to_string())),
            Err(VerifyError::Store(e)) => Err(store_error(e)),
            Err(VerifyError::Io(e)) => Err(pyo3::exceptions::PyOSError::new_err(e.to_string())),
        }
    }

    /// Writes the records to `target` (a path, or a file object open for writing, binary or
    /// text) as `optout log export` does: JSONL, each line the stored record with `hash` and
    /// `prev_hash` byte for byte, or CSV (`format="csv"`). Filters: `since`, `until` (str in
    /// RFC 3339 with any offset, or a date, read as `optout log export --since` reads it; or a
    /// `datetime`), `host` (and its subdomains), `verdict`. Returns the number of
    /// records written.
    #[pyo3(signature = (target, *, format="jsonl", since=None, until=None, host=None, verdict=None))]
    #[allow(clippy::too_many_arguments)]
    fn export(
        &self,
        py: Python<'_>,
        target: &Bound<'_, PyAny>,
        format: &str,
        since: Option<&Bound<'_, PyAny>>,
        until: Option<&Bound<'_, PyAny>>,
        host: Option<String>,
        verdict: Option<String>,
    ) -> PyResult<u64> {
        let csv = match format {
            "jsonl" => false,
            "csv" => true,
            other => {
                return Err(PyValueError::new_err(format!(
                    "format {other:?}: expected \"jsonl\" or \"csv\""
                )));
            }
        };
        let filter = Filter {
            since: time(py, "since", since)?,
            until: time(py, "until", until)?,
            host,
            verdict,
        };
        let store = self.store(py)?;
        let write = |out: &mut dyn Write| -> Result<u64, ExportError> {
            let mut out = out;
            let n = if csv {
                export::csv(&store, &filter, &mut out)?
            } else {
                export::jsonl(&store, &filter, &mut out)?
            };
            out.flush()?;
            Ok(n)
        };
        if target.hasattr("write")? {
            let text = target.is_instance(&py.import("io")?.getattr("TextIOBase")?)?;
            let mut file = PyFile {
                file: target.clone(),
                text,
                buf: Vec::new(),
            };
            return write(&mut file).map_err(export_error);
        }
        let path: PathBuf = target.extract()?;
        py.detach(|| {
            let file = std::fs::File::create(&path)?;
            let mut out = std::io::BufWriter::new(file);
            let n = write(&mut out)?;
            out.into_inner()
                .map_err(|e| ExportError::Io(e.into_error()))?
                .sync_all()?;
            Ok(n)
        })
        .map_err(export_error)
    }

    /// Verifies the log, then returns its head as the line `optout log checkpoint` prints
    /// (`optout-checkpoint v1 seq=N hash=HEX time=T`), to publish or timestamp elsewhere.
    /// A damaged log gets no checkpoint: `StoreError` names the first bad record.
    fn checkpoint(&self, py: Python<'_>) -> PyResult<String> {
        let store = self.store(py)?;
        py.detach(|| optout::evidence::checkpoint(&store))
            .map(|c| c.to_string())
            .map_err(store_error)
    }

    fn __repr__(&self) -> PyResult<String> {
        let engine = self.engine.get().library()?;
        Ok(match engine.log() {
            Some(log) => format!(
                "Log(store={:?}, head={})",
                log.store().path(),
                log.head().seq
            ),
            None => "Log(none)".to_owned(),
        })
    }
}
