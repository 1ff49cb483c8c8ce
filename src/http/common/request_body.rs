//! Request bodies, for both faces (SPEC §3 and §6): the 1 MiB limit, checked against a
//! declared `Content-Length` before any of the body is read; a deadline for a body that
//! stops arriving; and a connection that stays usable after an answer sent without
//! reading the body.
//!
//! [`guard`] wraps every request's body in a [`Watched`] body, which fails with
//! [`BodyStalled`] once no byte has arrived for `RELATA_BODY_TIMEOUT_SECS`, and records
//! whether it was read to its end. A response to a request whose body was not read to its
//! end (an early 4xx, a 413) says `Connection: close`: hyper closes such a connection
//! after the response rather than read what is left, and without the header a client
//! would send its next request into a closed connection. [`read`] is how each face's body
//! extractor reads a body, telling "too large", "stalled" and "broken" apart.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Version, header};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use http_body::Frame;

use crate::http::state::AppState;

/// Largest request body (SPEC §3).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// What became of a request's body, shared by the body and the [`guard`] around it.
#[derive(Debug, Default)]
pub struct BodyWatch {
    ended: AtomicBool,
    stalled: AtomicBool,
}

impl BodyWatch {
    /// Whether the body was read to its end.
    pub fn ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    /// Whether the body stopped arriving for longer than the body timeout.
    pub fn stalled(&self) -> bool {
        self.stalled.load(Ordering::Acquire)
    }
}

/// The error of a body that stopped arriving.
#[derive(Debug, thiserror::Error)]
#[error("the request body stopped arriving for longer than the body timeout")]
pub struct BodyStalled;

/// A request body that records its end and fails once it stalls for `idle`.
pub struct Watched {
    inner: Body,
    watch: Arc<BodyWatch>,
    idle: Duration,
    /// Runs while the body waits for bytes; reset by each frame.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl http_body::Body for Watched {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(None) => {
                this.timer = None;
                this.watch.ended.store(true, Ordering::Release);
                Poll::Ready(None)
            }
            Poll::Ready(Some(frame)) => {
                this.timer = None;
                Poll::Ready(Some(frame))
            }
            Poll::Pending => {
                let idle = this.idle;
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
                if timer.as_mut().poll(cx).is_ready() {
                    this.watch.stalled.store(true, Ordering::Release);
                    return Poll::Ready(Some(Err(axum::Error::new(BodyStalled))));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        let end = self.inner.is_end_stream();
        if end {
            self.watch.ended.store(true, Ordering::Release);
        }
        end
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The `Content-Length` a request declares, if any.
pub fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Whether a request says it carries a body (HTTP/1's two ways of saying so).
fn declares_body(headers: &HeaderMap) -> bool {
    declared_length(headers).is_some_and(|n| n > 0)
        || headers.contains_key(header::TRANSFER_ENCODING)
}

/// Whether `headers` name a JSON body: `application/json` or `application/…+json`.
pub fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mime = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// Wraps the request's body in a [`Watched`] one; after the response, says
/// `Connection: close` when the body was declared but not read to its end.
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let watch = Arc::new(BodyWatch::default());
    let declared = declares_body(req.headers());
    let version = req.version();
    let idle = state.settings.body_stall_timeout();
    let (mut parts, body) = req.into_parts();
    parts.extensions.insert(watch.clone());
    let body = Body::new(Watched {
        inner: body,
        watch: watch.clone(),
        idle,
        timer: None,
    });
    let mut res = next.run(Request::from_parts(parts, body)).await;
    // `Connection` is HTTP/1's; HTTP/2 ends a stream without closing the connection.
    let http1 = matches!(version, Version::HTTP_10 | Version::HTTP_11);
    if declared && http1 && !watch.ended() {
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    res
}

/// Why a body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyRefusal {
    /// Over [`BODY_LIMIT`], declared or counted: 413.
    TooLarge,
    /// No byte arrived for the body timeout: 408.
    Stalled,
    /// The connection broke or the framing was wrong: 400.
    Broken,
}

impl BodyRefusal {
    pub fn status(self) -> StatusCode {
        match self {
            BodyRefusal::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            BodyRefusal::Stalled => StatusCode::REQUEST_TIMEOUT,
            BodyRefusal::Broken => StatusCode::BAD_REQUEST,
        }
    }
}

/// The most a refused body is read on after its answer (see [`linger`]).
const LINGER_BYTES: usize = 16 * BODY_LIMIT;

/// Reads and drops, in the background, what a client goes on sending of a body that was
/// refused before it was read, up to [`LINGER_BYTES`] (and while it does not stall: the
/// body is [`Watched`]). A client that writes its whole body before it reads the answer
/// then gets the 413 instead of a broken pipe: the connection closes (it was told
/// `Connection: close`) once the body ends, not while the client still writes; nginx's
/// "lingering close".
fn linger(body: Body) {
    use futures::StreamExt;
    tokio::spawn(async move {
        let mut rest = body.into_data_stream();
        let mut seen = 0usize;
        while let Some(Ok(chunk)) = rest.next().await {
            seen += chunk.len();
            if seen > LINGER_BYTES {
                break;
            }
        }
    });
}

/// Reads a request's body whole. A declared `Content-Length` over [`BODY_LIMIT`] is
/// refused before any of the body is read (what arrives after the answer is dropped).
pub async fn read(req: Request) -> Result<Bytes, BodyRefusal> {
    if declared_length(req.headers()).is_some_and(|n| n > BODY_LIMIT as u64) {
        linger(req.into_body());
        return Err(BodyRefusal::TooLarge);
    }
    let watch = req.extensions().get::<Arc<BodyWatch>>().cloned();
    Bytes::from_request(req, &()).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            BodyRefusal::TooLarge
        } else if watch.is_some_and(|w| w.stalled()) {
            BodyRefusal::Stalled
        } else {
            BodyRefusal::Broken
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_application_json_or_a_json_suffix_in_any_case() {
        let with = |ct: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
            is_json(&h)
        };
        assert!(with("application/json"));
        assert!(with("Application/JSON; charset=utf-8"));
        assert!(with("application/problem+json"));
        assert!(!with("text/plain"));
        assert!(!with("application/x-www-form-urlencoded"));
        assert!(!is_json(&HeaderMap::new()));
    }

    #[tokio::test]
    async fn a_body_that_stalls_fails_after_the_idle_time_and_says_so() {
        use http_body_util::BodyExt;
        let (mut tx, inner) = {
            let (tx, rx) = futures::channel::mpsc::channel::<Result<Frame<Bytes>, axum::Error>>(1);
            (tx, Body::new(http_body_util::StreamBody::new(rx)))
        };
        let watch = Arc::new(BodyWatch::default());
        let mut body = Watched {
            inner,
            watch: watch.clone(),
            idle: Duration::from_millis(50),
            timer: None,
        };
        tx.try_send(Ok(Frame::data(Bytes::from_static(b"{\"a\""))))
            .unwrap();
        let first = body.frame().await.unwrap().unwrap();
        assert_eq!(first.into_data().unwrap(), "{\"a\"");
        let stalled = body.frame().await.unwrap();
        assert!(stalled.is_err());
        assert!(watch.stalled() && !watch.ended());
        drop(tx);
    }
}
