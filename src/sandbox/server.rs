//! The HTTP side: the listener, connections, and what each request goes through around the
//! API (the health path, faults, reading the body, the log).

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::header::{HeaderName, HeaderValue, ALLOW, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;

use super::errors;
use super::faults::Fault;
use super::routes::{self, Reply, TooLarge};
use super::{Shared, HEALTH_PATH};

/// Request bodies beyond this get a 413: tag and search bodies are a few hundred bytes.
const MAX_BODY: usize = 1 << 20;
/// Room for a benchmark's burst of new connections.
const BACKLOG: u32 = 1024;
const JSON: HeaderValue = HeaderValue::from_static("application/json");
const HEALTH_BODY: &str = r#"{"status":"ok"}"#;
/// What a captive portal or misconfigured proxy sends: HTML, labelled JSON.
const NOT_JSON_BODY: &str = "<!DOCTYPE html><html><head><title>Welcome</title></head>\
<body><h1>Sign in to continue</h1></body></html>";

pub(super) fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // So a fixed port can be reused right after the previous sandbox on it stopped.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

pub(super) async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    // Keep-alive is on by default. No timer is set, so there is no header-read timeout:
    // idle keep-alive connections stay open until the client or a shutdown closes them, as
    // a client pool expects of a test server.
    let http = http1::Builder::new();
    loop {
        let accepted = tokio::select! {
            biased;
            _ = shutdown.wait_for(|stop| *stop) => break, // Err: every handle is gone
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        // Small answers must not wait for Nagle's algorithm.
        let _ = stream.set_nodelay(true);
        shared.connections.fetch_add(1, Ordering::Relaxed);
        let state = shared.clone();
        let conn = http.serve_connection(
            TokioIo::new(stream),
            service_fn(move |req| serve(state.clone(), req)),
        );
        let mut stop = shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                biased;
                _ = stop.wait_for(|stop| *stop) => {} // dropping `conn` closes the socket
                _ = conn => {}
            }
        });
    }
}

/// The service's error: hyper closes the connection without writing anything.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped on purpose")
    }
}

impl std::error::Error for Dropped {}

async fn serve(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Response<Body>, Dropped> {
    if req.uri().path() == HEALTH_PATH {
        return Ok(json(
            StatusCode::OK,
            Bytes::from_static(HEALTH_BODY.as_bytes()),
        ));
    }
    let fault = shared.faults.take(req.method(), req.uri().path());
    let (parts, incoming) = req.into_parts();
    let log = |status: u16| shared.log.record(&parts.method, parts.uri.path(), status);

    // Read the whole body even when a fault ignores it: closing a socket with unread input
    // makes the kernel reset the connection, which would be a different fault.
    let body = match Limited::new(incoming, MAX_BODY).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => Err(TooLarge),
        Err(_) => {
            log(0); // the client went away mid-body
            return Err(Dropped);
        }
    };

    match fault.as_deref() {
        Some(Fault::Status {
            status,
            retry_after,
            body,
            content_type,
            headers,
        }) => {
            let response = status_fault(
                *status,
                retry_after,
                body,
                content_type,
                headers,
                shared.error_style,
            );
            log(response.status().as_u16());
            return Ok(response);
        }
        Some(Fault::DropConnection) => {
            log(0);
            return Err(Dropped);
        }
        Some(Fault::NotJson) => {
            log(200);
            return Ok(json(
                StatusCode::OK,
                Bytes::from_static(NOT_JSON_BODY.as_bytes()),
            ));
        }
        Some(Fault::Latency(delay)) => tokio::time::sleep(*delay).await,
        Some(Fault::DropAfterProcessing | Fault::Truncated) | None => {}
    }

    let reply = routes::handle(&shared, &parts, body.as_deref().map_err(|e| *e));
    match fault.as_deref() {
        Some(Fault::DropAfterProcessing) => {
            log(0);
            Err(Dropped)
        }
        Some(Fault::Truncated) => {
            log(reply.status.as_u16());
            Ok(truncated(reply))
        }
        _ => {
            log(reply.status.as_u16());
            Ok(respond(reply))
        }
    }
}

fn json(status: StatusCode, body: Bytes) -> Response<Body> {
    let mut response = Response::new(Body::full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, JSON);
    response
}

fn respond(reply: Reply) -> Response<Body> {
    let mut response = json(reply.status, reply.body);
    if let Some(allow) = reply.allow {
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static(allow));
    }
    response
}

/// The reply's headers with its full length, then half its body, then the connection closes.
fn truncated(reply: Reply) -> Response<Body> {
    let declared = reply.body.len().max(1);
    let sent = reply.body.slice(..reply.body.len() / 2);
    let mut response = respond(Reply {
        body: Bytes::new(),
        ..reply
    });
    *response.body_mut() = Body::cut_short(sent);
    response
        .headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(declared));
    response
}

fn status_fault(
    status: u16,
    retry_after: &Option<String>,
    body: &Option<Vec<u8>>,
    content_type: &Option<String>,
    headers: &[(String, String)],
    style: errors::ErrorStyle,
) -> Response<Body> {
    // hyper cannot send a 1xx as a final answer.
    let status = StatusCode::from_u16(status)
        .ok()
        .filter(|s| !s.is_informational())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let (body, default_type) = match body {
        Some(raw) => (Bytes::copy_from_slice(raw), None),
        None if status.as_u16() >= 400 => (errors::status_body(status, style), Some(JSON)),
        None => (Bytes::new(), None),
    };
    let mut response = Response::new(Body::full(body));
    *response.status_mut() = status;
    let map = response.headers_mut();
    let content_type = content_type
        .as_deref()
        .and_then(|t| HeaderValue::from_str(t).ok())
        .or(default_type);
    if let Some(content_type) = content_type {
        map.insert(CONTENT_TYPE, content_type);
    }
    if let Some(value) = retry_after
        .as_deref()
        .and_then(|v| HeaderValue::from_str(v).ok())
    {
        map.insert(RETRY_AFTER, value);
    }
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            map.append(name, value);
        }
    }
    response
}

/// A response body: one chunk, with its exact length known to hyper; or, to truncate, a
/// chunk whose length hyper is not told, so it trusts the Content-Length header instead.
pub(super) struct Body {
    data: Option<Bytes>,
    exact: bool,
    /// Pause once after the chunk so hyper flushes it before it finds the body short and
    /// closes the connection (which discards unflushed output).
    pause: bool,
}

impl Body {
    fn full(data: Bytes) -> Body {
        Body {
            data: (!data.is_empty()).then_some(data),
            exact: true,
            pause: false,
        }
    }

    fn cut_short(data: Bytes) -> Body {
        Body {
            data: (!data.is_empty()).then_some(data),
            exact: false,
            pause: true,
        }
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if let Some(data) = this.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        if this.pause {
            this.pause = false;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        self.exact && self.data.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        if self.exact {
            SizeHint::with_exact(self.data.as_ref().map_or(0, |d| d.len() as u64))
        } else {
            SizeHint::default()
        }
    }
}
