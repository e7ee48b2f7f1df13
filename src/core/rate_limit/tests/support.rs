//! Helpers of the limiter's tests: events recorded, a real `redis-server`, checks of slots.

use std::sync::{Arc, Mutex};

use crate::core::rate_limit::{AccountId, Backend, Event, EventSink, RateLimitConfig, RateLimiter};

/// Collects a limiter's events.
#[derive(Clone, Default)]
pub struct Recorder(Arc<Mutex<Vec<Event>>>);

impl Recorder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn sink(&self) -> Arc<dyn EventSink> {
        let events = self.0.clone();
        Arc::new(move |event: &Event| events.lock().unwrap().push(event.clone()))
    }

    /// The events so far, emptying the record.
    pub fn take(&self) -> Vec<Event> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }

    pub fn snapshot(&self) -> Vec<Event> {
        self.0.lock().unwrap().clone()
    }
}

/// A limiter at `per_minute` on `backend` for the account of `api_key`.
pub fn limiter(
    per_minute: f64,
    backend: Backend,
    api_key: &str,
    events: Option<Arc<dyn EventSink>>,
) -> RateLimiter {
    let config = RateLimitConfig::new(per_minute, backend, AccountId::from_api_key(api_key));
    RateLimiter::new(config, events).expect("a valid limiter")
}

/// A real `redis-server` on a free port of 127.0.0.1, with no persistence, stopped (killed) on
/// drop. These tests need the binary: a missing one fails them, saying how to install it.
pub struct RedisServer {
    child: Option<std::process::Child>,
    port: u16,
    dir: TempDir,
    args: Vec<String>,
}

impl RedisServer {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// With extra `redis-server` arguments (`--requirepass`, …).
    pub fn start_with(args: &[&str]) -> Self {
        let port = free_port();
        let mut server = RedisServer {
            child: None,
            port,
            dir: TempDir::new("redis"),
            args: args.iter().map(|a| a.to_string()).collect(),
        };
        server.launch();
        server
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT/0`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    pub fn backend(&self) -> Backend {
        Backend::parse(Some(&self.url())).expect("a valid URL")
    }

    fn launch(&mut self) {
        let spawned = std::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir.0)
            .args(&self.args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                "redis-server is not installed, and these tests need a real one: \
                 apt-get install -y redis-server (Debian/Ubuntu; .ci/run installs it)"
            ),
            Err(e) => panic!("cannot start redis-server: {e}"),
        };
        self.child = Some(child);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "redis-server on port {} exited at start: {status}",
                    self.port
                );
            }
            if self.try_command(&["PING"]).is_ok() {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "redis-server on port {} did not answer within 20 s",
                self.port
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Kill it (SIGKILL): its data goes with it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Start it again on the same port, empty.
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }

    /// Freeze it (SIGSTOP): connections stay open and nothing answers.
    #[cfg(unix)]
    pub fn freeze(&self) {
        self.signal(libc::SIGSTOP);
    }

    #[cfg(unix)]
    pub fn thaw(&self) {
        self.signal(libc::SIGCONT);
    }

    #[cfg(unix)]
    fn signal(&self, signal: libc::c_int) {
        let pid = self.child.as_ref().expect("running").id();
        // SAFETY: a plain kill(2) of the child this helper started.
        let rc = unsafe { libc::kill(pid as libc::pid_t, signal) };
        assert_eq!(rc, 0, "kill({pid}, {signal})");
    }

    fn try_command(&self, args: &[&str]) -> redis::RedisResult<redis::Value> {
        let password = self
            .args
            .iter()
            .position(|a| a == "--requirepass")
            .map(|i| self.args[i + 1].clone());
        let url = match password {
            Some(pw) => format!("redis://:{pw}@127.0.0.1:{}/0", self.port),
            None => self.url(),
        };
        let client = redis::Client::open(url)?;
        let mut connection =
            client.get_connection_with_timeout(std::time::Duration::from_secs(2))?;
        let mut cmd = redis::cmd(args[0]);
        for arg in &args[1..] {
            cmd.arg(*arg);
        }
        cmd.query(&mut connection)
    }

    /// Run a command on a connection of its own (blocking; tests only).
    pub fn command<T: redis::FromRedisValue>(&self, args: &[&str]) -> T {
        let value = self
            .try_command(args)
            .unwrap_or_else(|e| panic!("redis {args:?}: {e}"));
        T::from_redis_value(value).unwrap_or_else(|e| panic!("redis {args:?}: {e}"))
    }

    /// Everything the server is sent from now until [`Monitor::finish`].
    pub fn monitor(&self) -> Monitor {
        use std::io::{Read, Write};
        let mut stream =
            std::net::TcpStream::connect(("127.0.0.1", self.port)).expect("connect for MONITOR");
        stream.write_all(b"MONITOR\r\n").unwrap();
        let mut ok = [0u8; 5];
        stream.read_exact(&mut ok).unwrap();
        assert_eq!(&ok, b"+OK\r\n", "MONITOR is on");
        stream
            .set_read_timeout(Some(std::time::Duration::from_millis(50)))
            .unwrap();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let reader = std::thread::spawn(move || {
            let mut seen = Vec::new();
            let mut buffer = [0u8; 64 * 1024];
            loop {
                match stream.read(&mut buffer) {
                    Ok(0) => break,
                    Ok(n) => seen.extend_from_slice(&buffer[..n]),
                    Err(_) if !flag.load(std::sync::atomic::Ordering::Acquire) => {}
                    Err(_) => break,
                }
            }
            String::from_utf8_lossy(&seen).into_owned()
        });
        Monitor { stop, reader }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

pub struct Monitor {
    stop: Arc<std::sync::atomic::AtomicBool>,
    reader: std::thread::JoinHandle<String>,
}

impl Monitor {
    /// What the server was sent (once everything sent so far has been read).
    pub fn finish(self) -> String {
        std::thread::sleep(std::time::Duration::from_millis(200));
        self.stop.store(true, std::sync::atomic::Ordering::Release);
        self.reader.join().expect("the MONITOR reader")
    }
}

/// A port nothing listens on (as far as can be told without holding it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A directory of its own under the system's temporary directory, removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(what: &str) -> Self {
        use std::sync::atomic::{AtomicU32, Ordering};
        static COUNT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "helpcrunch-test-{what}-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).expect("a temporary directory");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Slots (µs, any order) never closer together than one `per_minute` interval: no window of
/// any length holds more than the rate allows, wherever it starts. Also checks the strict
/// sliding window of one second directly: never more than `per_minute / 60` slots in it.
pub fn assert_never_faster_than(slots: &[i64], per_minute: f64) {
    let mut sorted = slots.to_vec();
    sorted.sort_unstable();
    let step = crate::core::rate_limit::interval_us(per_minute);
    for pair in sorted.windows(2) {
        assert!(
            pair[1] - pair[0] >= step,
            "two slots {} µs apart, less than the {step} µs interval",
            pair[1] - pair[0]
        );
    }
    let per_second = (per_minute / 60.0).floor() as usize;
    for (i, start) in sorted.iter().enumerate() {
        let in_window = sorted[i..]
            .iter()
            .take_while(|s| **s < start + 1_000_000)
            .count();
        assert!(
            in_window <= per_second,
            "{in_window} slots in the second from {start}, more than {per_second}"
        );
    }
}

/// The rate the slots reach (per minute) from the first to the last.
pub fn reached_rate(slots: &[i64]) -> f64 {
    let first = slots.iter().min().unwrap();
    let last = slots.iter().max().unwrap();
    (slots.len() - 1) as f64 * 60_000_000.0 / (last - first) as f64
}

/// Run `check` in a forked child and fail unless it returns true there. The child runs only
/// this crate's fork-aware code (fresh runtimes, fresh limiters) and leaves with `_exit`,
/// never unwinding into the test harness; a child that hangs is killed and fails the test.
#[cfg(unix)]
pub fn in_forked_child(check: impl FnOnce() -> bool) {
    // SAFETY: see above; glibc keeps malloc usable in the child of a threaded process.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(check)) {
            Ok(true) => 0,
            Ok(false) => 2,
            Err(_) => 3,
        };
        // SAFETY: ends the child at once.
        unsafe { libc::_exit(code) };
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    let status = loop {
        let mut status = 0;
        // SAFETY: waits for the child forked above, without blocking.
        if unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } == pid {
            break status;
        }
        if std::time::Instant::now() > deadline {
            // SAFETY: the child forked above.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("the forked child hung");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(libc::WIFEXITED(status), "the child died: {status}");
    assert_eq!(
        libc::WEXITSTATUS(status),
        0,
        "in the child (2: the check was false, 3: it panicked)"
    );
}
