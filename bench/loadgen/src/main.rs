//! A tiny keep-alive HTTP/1.1 load generator: the ceiling for bench/run.py when `wrk` is absent.
//!
//! Each of `--connections` connections sends `DELETE {base}/customers/{id}/tags` with the JSON
//! body and bearer header, waits for the whole response (status line, headers, Content-Length
//! body), and sends the next; ids cycle over the sandbox's demo customers 542335..542344.
//! Loopback only. Prints one JSON line.
//!
//!     helpcrunch-loadgen --url http://127.0.0.1:PORT/v1 --key KEY --connections 32 --seconds 5

use std::cell::Cell;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BODY: &str = r#"{"tags":[{"name":"Lead"}]}"#;
const FIRST_ID: u64 = 542335;
const IDS: u64 = 10;

struct Args {
    url: String,
    key: String,
    connections: usize,
    seconds: f64,
    warmup: f64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        url: String::new(),
        key: "sandbox-key".into(),
        connections: 1,
        seconds: 5.0,
        warmup: 1.0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => args.url = value()?,
            "--key" => args.key = value()?,
            "--connections" | "-c" => {
                args.connections = value()?
                    .parse()
                    .map_err(|e| format!("--connections: {e}"))?
            }
            "--seconds" | "-d" => {
                args.seconds = value()?.parse().map_err(|e| format!("--seconds: {e}"))?
            }
            "--warmup" => args.warmup = value()?.parse().map_err(|e| format!("--warmup: {e}"))?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.url.is_empty() {
        return Err("--url is required".into());
    }
    if args.connections == 0 {
        return Err("--connections must be at least 1".into());
    }
    Ok(args)
}

/// `http://127.0.0.1:PORT/v1` -> ("127.0.0.1:PORT", "/v1"). Loopback only, by design.
fn split_url(url: &str) -> Result<(String, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or("only http:// URLs are supported")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
    if !matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
        return Err(format!("refusing to load-test {host}: loopback only"));
    }
    Ok((authority.to_string(), path.to_string()))
}

fn requests(authority: &str, prefix: &str, key: &str) -> Vec<Vec<u8>> {
    (0..IDS)
        .map(|i| {
            format!(
                "DELETE {prefix}/customers/{id}/tags HTTP/1.1\r\nHost: {authority}\r\n\
                 Authorization: Bearer {key}\r\nContent-Type: application/json\r\n\
                 Accept: application/json\r\nContent-Length: {len}\r\n\r\n{BODY}",
                id = FIRST_ID + i,
                len = BODY.len(),
            )
            .into_bytes()
        })
        .collect()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Reads one response from `stream` into `buf`; returns its status. Leaves any bytes past it.
async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<u16, String> {
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| "non-UTF-8 head")?;
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("bad status line")?;
    let length: usize = head
        .split("\r\n")
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())
                .flatten()
        })
        .ok_or("no Content-Length (chunked responses are not supported)")?;
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed mid-body".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    buf.drain(..head_end + length);
    Ok(status)
}

#[derive(Default, Clone, Copy)]
struct Counts {
    ok: u64,
    non_2xx: u64,
    errors: u64,
}

async fn connection(
    addr: String,
    reqs: Rc<Vec<Vec<u8>>>,
    offset: usize,
    start: Instant,
    end: Instant,
    counts: Rc<Cell<Counts>>,
) {
    let mut stream = match TcpStream::connect(&addr).await {
        Ok(s) => s,
        Err(_) => {
            let mut c = counts.get();
            c.errors += 1;
            counts.set(c);
            return;
        }
    };
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::with_capacity(4096);
    let mut i = offset;
    loop {
        let req = &reqs[i % reqs.len()];
        i += 1;
        let result = match stream.write_all(req).await {
            Ok(()) => read_response(&mut stream, &mut buf).await,
            Err(e) => Err(e.to_string()),
        };
        let now = Instant::now();
        let measuring = now >= start;
        let mut c = counts.get();
        match result {
            Ok(status) if measuring && (200..300).contains(&status) => c.ok += 1,
            Ok(_) if measuring => c.non_2xx += 1,
            Ok(_) => {}
            Err(_) => {
                c.errors += 1;
                counts.set(c);
                return;
            }
        }
        counts.set(c);
        if now >= end {
            return;
        }
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("helpcrunch-loadgen: {e}");
            return ExitCode::from(2);
        }
    };
    let (authority, prefix) = match split_url(&args.url) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("helpcrunch-loadgen: {e}");
            return ExitCode::from(2);
        }
    };
    let reqs = Rc::new(requests(&authority, &prefix, &args.key));
    // One thread, like `wrk -t1`: the server needs the other cores.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let counts = Rc::new(Cell::new(Counts::default()));
    let local = tokio::task::LocalSet::new();
    let t0 = Instant::now();
    let start = t0 + Duration::from_secs_f64(args.warmup);
    let end = start + Duration::from_secs_f64(args.seconds);
    let finished = local.block_on(&rt, async {
        let tasks: Vec<_> = (0..args.connections)
            .map(|n| {
                tokio::task::spawn_local(connection(
                    authority.clone(),
                    reqs.clone(),
                    n,
                    start,
                    end,
                    counts.clone(),
                ))
            })
            .collect();
        for t in tasks {
            let _ = t.await;
        }
        Instant::now()
    });
    let elapsed = finished
        .saturating_duration_since(start)
        .as_secs_f64()
        .max(1e-9);
    let c = counts.get();
    println!(
        "{{\"connections\":{},\"seconds\":{:.3},\"requests\":{},\"non_2xx\":{},\"errors\":{},\"rps\":{:.1}}}",
        args.connections,
        elapsed,
        c.ok,
        c.non_2xx,
        c.errors,
        c.ok as f64 / elapsed
    );
    if c.errors > 0 || c.non_2xx > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
