//! A raw HTTP/1.1 test server that can misbehave on purpose.
//!
//! It is built on a bare `TcpListener` rather than hyper so that it can do what a real server
//! or proxy sometimes does: hang up without answering, never answer, cut a body short, or send
//! it a few bytes at a time. Every request is recorded (with its arrival time and connection),
//! and each one is answered by the next scripted [`Action`], or by the default action once the
//! script has run out.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::AbortHandle;

/// A complete HTTP response.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn new(status: u16, headers: &[(&str, &str)], body: impl Into<Vec<u8>>) -> Self {
        Reply {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.into(),
        }
    }

    fn has_header(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(name))
    }

    /// Status line and headers. A `Content-Length` matching the body is added unless the script
    /// set its own framing (`Content-Length`, `Transfer-Encoding`, or `Connection: close`).
    fn head(&self) -> Vec<u8> {
        let mut head = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        let framed = self.has_header("content-length")
            || self.has_header("transfer-encoding")
            || self.closes();
        if !framed {
            head.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        head.push_str("\r\n");
        head.into_bytes()
    }

    fn bytes(&self) -> Vec<u8> {
        let mut out = self.head();
        out.extend_from_slice(&self.body);
        out
    }

    /// Whether the connection ends after this reply.
    fn closes(&self) -> bool {
        self.headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("connection") && v.eq_ignore_ascii_case("close"))
    }
}

/// How the server answers one request.
#[derive(Debug, Clone)]
pub enum Action {
    /// Answer normally; the connection stays open for the next request.
    Respond(Reply),
    /// Hang up without sending a byte.
    Close,
    /// Never answer (the connection stays open until the test ends).
    Hang,
    /// Wait, then do the inner action.
    Delay(Duration, Box<Action>),
    /// Send the status line and headers with `Content-Length: declared`, then only the given
    /// (shorter) body, then hang up.
    Truncated { reply: Reply, declared: usize },
    /// Send the whole reply `chunk` bytes at a time, `every` apart.
    Trickle {
        reply: Reply,
        chunk: usize,
        every: Duration,
    },
    /// Write these bytes as they are, then hang up.
    Raw(Vec<u8>),
}

impl Action {
    pub fn respond(status: u16, headers: &[(&str, &str)], body: impl Into<Vec<u8>>) -> Self {
        Action::Respond(Reply::new(status, headers, body))
    }

    /// A JSON body with `Content-Type: application/json`.
    pub fn json(status: u16, body: &str) -> Self {
        Action::respond(status, &[("Content-Type", "application/json")], body)
    }

    /// A status with an empty body.
    pub fn status(status: u16) -> Self {
        Action::respond(status, &[], Vec::new())
    }

    pub fn delayed(wait: Duration, then: Action) -> Self {
        Action::Delay(wait, Box::new(then))
    }

    pub fn truncated(status: u16, declared: usize, body: impl Into<Vec<u8>>) -> Self {
        Action::Truncated {
            reply: Reply::new(status, &[("Content-Type", "application/json")], body),
            declared,
        }
    }

    pub fn trickle(reply: Reply, chunk: usize, every: Duration) -> Self {
        Action::Trickle {
            reply,
            chunk,
            every,
        }
    }
}

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The request target, e.g. `/v1/customers/1/tags`.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// When the request (head and body) had fully arrived.
    pub at: Instant,
    /// Which accepted connection it came on, counting from 0.
    pub connection: usize,
}

impl Request {
    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct State {
    script: VecDeque<Action>,
    default: Action,
    requests: Vec<Request>,
    connections: usize,
    tasks: Vec<AbortHandle>,
}

struct Shared {
    state: Mutex<State>,
    arrived: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking connection task must not hide the requests from the test.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub struct TestServer {
    port: u16,
    shared: Arc<Shared>,
}

/// The customer the server answers with when nothing else was scripted.
pub const DEFAULT_CUSTOMER: &str = r#"{"id":1568834,"name":"Ada","tags":[]}"#;

impl TestServer {
    /// Listen on 127.0.0.1 on a free port. Unscripted requests get a 200 with
    /// [`DEFAULT_CUSTOMER`].
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local address").port();
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                script: VecDeque::new(),
                default: Action::json(200, DEFAULT_CUSTOMER),
                requests: Vec::new(),
                connections: 0,
                tasks: Vec::new(),
            }),
            arrived: Notify::new(),
        });
        let accept_shared = shared.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let shared = accept_shared.clone();
                let mut state = accept_shared.lock();
                let connection = state.connections;
                state.connections += 1;
                let task = tokio::spawn(serve_connection(stream, connection, shared));
                state.tasks.push(task.abort_handle());
            }
        });
        shared.lock().tasks.push(accept.abort_handle());
        TestServer { port, shared }
    }

    /// The base URL a client should use: `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    /// Script the answer to the next unanswered request (answers are used in push order).
    pub fn push(&self, action: Action) {
        self.shared.lock().script.push_back(action);
    }

    /// Answer every request with this once the script has run out.
    pub fn set_default(&self, action: Action) {
        self.shared.lock().default = action;
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.lock().requests.clone()
    }

    pub fn request_count(&self) -> usize {
        self.shared.lock().requests.len()
    }

    /// How many TCP connections were accepted.
    pub fn connections(&self) -> usize {
        self.shared.lock().connections
    }

    /// Wait until at least `n` requests have arrived (panics after 10 s, so a broken test fails
    /// rather than hangs).
    pub async fn wait_for_requests(&self, n: usize) {
        let wait = async {
            loop {
                // Registered before the check, so an arrival in between is not missed.
                let notified = self.shared.arrived.notified();
                if self.request_count() >= n {
                    return;
                }
                notified.await;
            }
        };
        if tokio::time::timeout(Duration::from_secs(10), wait)
            .await
            .is_err()
        {
            panic!(
                "waited 10 s for {n} requests, the server saw {}",
                self.request_count()
            );
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        for task in self.shared.lock().tasks.drain(..) {
            task.abort();
        }
    }
}

async fn serve_connection(stream: TcpStream, connection: usize, shared: Arc<Shared>) {
    let mut stream = BufReader::new(stream);
    // Keep-alive: one request after another until the client hangs up or an action ends it.
    while let Some(request) = read_request(&mut stream, connection).await {
        let action = {
            let mut state = shared.lock();
            state.requests.push(request);
            state
                .script
                .pop_front()
                .unwrap_or_else(|| state.default.clone())
        };
        shared.arrived.notify_waiters();
        if !perform(stream.get_mut(), action).await {
            return;
        }
    }
}

/// Read one request; None when the client closed the connection or sent something unreadable.
async fn read_request(stream: &mut BufReader<TcpStream>, connection: usize) -> Option<Request> {
    let mut line = String::new();
    if stream.read_line(&mut line).await.ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if stream.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let length = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.parse::<usize>())
        .transpose()
        .ok()?
        .unwrap_or(0);
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await.ok()?;
    Some(Request {
        method,
        path,
        headers,
        body,
        at: Instant::now(),
        connection,
    })
}

/// Carry out one action; false when the connection is finished.
async fn perform(stream: &mut TcpStream, action: Action) -> bool {
    match action {
        Action::Respond(reply) => write_all(stream, &reply.bytes()).await && !reply.closes(),
        Action::Close => false,
        Action::Hang => std::future::pending().await,
        Action::Delay(wait, then) => {
            tokio::time::sleep(wait).await;
            Box::pin(perform(stream, *then)).await
        }
        Action::Truncated {
            mut reply,
            declared,
        } => {
            reply
                .headers
                .push(("Content-Length".into(), declared.to_string()));
            write_all(stream, &reply.bytes()).await;
            false
        }
        Action::Trickle {
            reply,
            chunk,
            every,
        } => {
            for piece in reply.bytes().chunks(chunk.max(1)) {
                if !write_all(stream, piece).await {
                    return false;
                }
                tokio::time::sleep(every).await;
            }
            !reply.closes()
        }
        Action::Raw(bytes) => {
            write_all(stream, &bytes).await;
            false
        }
    }
}

async fn write_all(stream: &mut TcpStream, bytes: &[u8]) -> bool {
    stream.write_all(bytes).await.is_ok() && stream.flush().await.is_ok()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        409 => "Conflict",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Whatever",
    }
}
