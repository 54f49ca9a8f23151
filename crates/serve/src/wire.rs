//! The connection's bytes, with hyper's own error answers put in the one error shape.
//!
//! When a request head cannot be read (RFC 9112: two different `Content-Length` values
//! (§6.3), a malformed request line or header field, a target or head too long), hyper
//! answers by itself, before any handler or layer runs: a `400`, `414` or `431` with
//! `content-length: 0` and nothing else, then closes the connection. No hook of hyper's
//! changes that answer, so [`Wire`] recognises it on its way out and sends instead the same
//! status with the documented body `{"error": {"code": "bad-request", "message": ...}}`
//! (`docs/serve.md`, "Errors"), and `connection: close`.
//!
//! What is recognised is exactly hyper's answer: one write holding a whole response head
//! with a 4xx status, `content-length: 0` and no field but `date` and `connection`. Every
//! answer of the service's own has a JSON body and a `content-type` ([`super::errors`]), so
//! none of them is taken for it.

use super::errors::{ErrorCode, error_body};
use axum::http::StatusCode;
use std::io::IoSlice;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The longest head hyper writes for its error answers, with room to spare.
const MAX_AUTOMATIC_HEAD: usize = 256;

/// A connection's stream, with hyper's error answers rewritten.
pub struct Wire<S> {
    inner: S,
    /// The answer being written in place of hyper's: its bytes, how many are written, and the
    /// length of hyper's, reported written once all of ours is.
    replacing: Option<(Vec<u8>, usize, usize)>,
}

impl<S> Wire<S> {
    /// `inner`, watched.
    pub fn new(inner: S) -> Wire<S> {
        Wire {
            inner,
            replacing: None,
        }
    }
}

/// The status of `head` when it is hyper's own error answer, whole.
fn automatic_error(head: &[u8]) -> Option<StatusCode> {
    if head.len() > MAX_AUTOMATIC_HEAD || !head.starts_with(b"HTTP/1.") {
        return None;
    }
    let mut fields = [httparse::EMPTY_HEADER; 4];
    let mut response = httparse::Response::new(&mut fields);
    let httparse::Status::Complete(len) = response.parse(head).ok()? else {
        return None;
    };
    let status = StatusCode::from_u16(response.code?).ok()?;
    let only_hyper_fields = response.headers.iter().all(|f| {
        let name = f.name.to_ascii_lowercase();
        (name == "content-length" && f.value == b"0") || name == "date" || name == "connection"
    });
    let has_length = response
        .headers
        .iter()
        .any(|f| f.name.eq_ignore_ascii_case("content-length"));
    (len == head.len() && status.is_client_error() && only_hyper_fields && has_length)
        .then_some(status)
}

/// The answer sent instead of hyper's `status`.
fn replacement(status: StatusCode) -> Vec<u8> {
    let message = match status {
        StatusCode::URI_TOO_LONG => "the request target is too long",
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => "the request's header section is too large",
        _ => {
            "the request is not well-formed HTTP/1.1 (RFC 9112): its request line or a header \
             field cannot be read, or it has two different Content-Length values"
        }
    };
    let body = error_body(ErrorCode::BadRequest, message);
    let mut bytes = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\ndate: {}\r\n\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len(),
        httpdate::fmt_http_date(std::time::SystemTime::now()),
    )
    .into_bytes();
    bytes.extend_from_slice(&body);
    bytes
}

impl<S: AsyncWrite + Unpin> Wire<S> {
    /// Writes the replacement started for a head of `reported` bytes; `Ready` once all is.
    fn poll_replace(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<usize>> {
        while let Some((bytes, written, reported)) = &mut self.replacing {
            if *written == bytes.len() {
                let reported = *reported;
                self.replacing = None;
                return Poll::Ready(Ok(reported));
            }
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*written..]))?;
            if n == 0 {
                self.replacing = None;
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        Poll::Ready(Ok(0))
    }

    /// Starts replacing `head` if it is hyper's error answer.
    fn watch(&mut self, head: &[u8]) -> bool {
        match automatic_error(head) {
            Some(status) => {
                self.replacing = Some((replacement(status), 0, head.len()));
                true
            }
            None => false,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Wire<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Wire<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        // A replacement under way: this call presents hyper's head again.
        if self.replacing.is_some() || self.watch(buf) {
            return self.poll_replace(cx);
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        if self.replacing.is_some() {
            return self.poll_replace(cx);
        }
        let len: usize = bufs.iter().map(|b| b.len()).sum();
        if len <= MAX_AUTOMATIC_HEAD {
            let head: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
            if self.watch(&head) {
                return self.poll_replace(cx);
            }
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if self.replacing.is_some() {
            ready!(self.poll_replace(cx))?;
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if self.replacing.is_some() {
            ready!(self.poll_replace(cx))?;
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::automatic_error;
    use axum::http::StatusCode;

    #[test]
    fn only_hypers_own_error_answer_is_recognised() {
        let date = "date: Mon, 07 Dec 2026 20:35:29 GMT\r\n";
        let hyper = format!("HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n{date}\r\n");
        assert_eq!(
            automatic_error(hyper.as_bytes()),
            Some(StatusCode::BAD_REQUEST)
        );
        let too_large = format!(
            "HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n{date}\r\n"
        );
        assert_eq!(
            automatic_error(too_large.as_bytes()),
            Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
        );
        for other in [
            // Ours: a JSON body.
            format!(
                "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 9\r\n{date}\r\n"
            ),
            format!("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n{date}\r\n"),
            // More than the head.
            format!("HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n{date}\r\nx"),
            format!("HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n{date}"),
            "HTTP/1.1 400 Bad Request\r\ntransfer-encoding: chunked\r\n\r\n".to_owned(),
            "{\"url\": \"HTTP/1.1 400\"}".to_owned(),
        ] {
            assert_eq!(automatic_error(other.as_bytes()), None, "{other:?}");
        }
    }
}
