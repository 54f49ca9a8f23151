//! Reading Python arguments: URLs, bytes, purposes, header lists.

use optout::policy::Purpose;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyMapping, PyString};

/// The URLs of an iterable (a list, a generator, ...), as strings. `bytes` are read as
/// UTF-8 (invalid bytes replaced: the URL is then judged, or is an `error`, in its place).
pub fn urls(iterable: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    if iterable.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(
            "urls must be an iterable of URLs, not one string (use check() for one URL)",
        ));
    }
    let mut out = Vec::with_capacity(iterable.len().unwrap_or(0));
    for (i, item) in iterable.try_iter()?.enumerate() {
        out.push(
            url(&item?).map_err(|_| {
                PyTypeError::new_err(format!("urls[{i}]: a URL must be str or bytes"))
            })?,
        );
    }
    Ok(out)
}

/// One URL: `str`, or `bytes` read as UTF-8.
pub fn url(item: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = item.cast::<PyString>() {
        return Ok(s.to_cow()?.into_owned());
    }
    if let Ok(b) = item.cast::<PyBytes>() {
        return Ok(String::from_utf8_lossy(b.as_bytes()).into_owned());
    }
    Err(PyTypeError::new_err("a URL must be str or bytes"))
}

/// The bytes of a policy file or page: `bytes`, `bytearray`, or `str` (as UTF-8).
pub fn bytes(name: &str, value: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(b) = value.cast::<PyBytes>() {
        return Ok(b.as_bytes().to_vec());
    }
    if let Ok(b) = value.cast::<PyByteArray>() {
        return Ok(b.to_vec());
    }
    if let Ok(s) = value.cast::<PyString>() {
        return Ok(s.to_cow()?.as_bytes().to_vec());
    }
    Err(PyTypeError::new_err(format!(
        "{name} must be bytes, bytearray or str"
    )))
}

/// A purpose name (`train-ai`, `ai-input`, `search`).
pub fn purpose(name: &str) -> PyResult<Purpose> {
    name.parse::<Purpose>()
        .map_err(|e| PyValueError::new_err(e.to_string()))
}

/// Response headers: a mapping (a `dict`, Scrapy's `Headers`) whose values are a value or a
/// list of values, or an iterable of `(name, value)` pairs; names and values `str` or
/// `bytes` (read as Latin-1 as HTTP/1.1 allows, RFC 9110 §5.5).
pub fn headers(value: &Bound<'_, PyAny>) -> PyResult<Vec<(String, String)>> {
    let mut out = Vec::new();
    if let Ok(mapping) = value.cast::<PyMapping>() {
        for item in mapping.items()?.try_iter()? {
            let (name, values): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item?.extract()?;
            let name = text(&name)?;
            if values.is_instance_of::<PyString>() || values.is_instance_of::<PyBytes>() {
                out.push((name, text(&values)?));
            } else {
                for v in values.try_iter()? {
                    out.push((name.clone(), text(&v?)?));
                }
            }
        }
        return Ok(out);
    }
    for item in value.try_iter()? {
        let (name, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item?.extract()?;
        out.push((text(&name)?, text(&v)?));
    }
    Ok(out)
}

/// A header name or value: `str`, or `bytes` as Latin-1.
fn text(value: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = value.cast::<PyString>() {
        return Ok(s.to_cow()?.into_owned());
    }
    if let Ok(b) = value.cast::<PyBytes>() {
        return Ok(b.as_bytes().iter().map(|&c| char::from(c)).collect());
    }
    Err(PyTypeError::new_err(
        "header names and values must be str or bytes",
    ))
}
