//! The cost of one rate-limit acquire: the in-process limiter against a budget shared through
//! a file and through Redis (a `redis-server` this starts on a free port of 127.0.0.1).
//!
//!     cargo bench --bench shared_acquire                 # ~1 minute
//!     cargo bench --bench shared_acquire -- --seconds 1  # shorter runs
//!
//! Each figure is the median of 5 runs. "one caller" is a loop of acquires, each waiting for
//! the last: the latency a request pays before it is sent. "8 callers" is 8 tasks acquiring at
//! once from one shared limiter on a multi-thread runtime, as a bulk run's requests do:
//! acquires a second, the most one process can get from the budget. The rate is set so high
//! that no slot is ever waited for: what is measured is the bookkeeping alone. For the
//! in-process limiter, consecutive acquires go to 64 limiters in turn, so that none is asked
//! again within its interval (1 µs, the shortest there is); its 8-caller figure would only
//! show that interval, so it has none.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use helpcrunch::core::rate_limit::{AccountId, Backend, RateLimitConfig, RateLimiter};

/// Requests a minute: far above anything the limiter makes a caller wait for.
const RATE: f64 = 1e12;
const RUNS: usize = 5;
const CALLERS: usize = 8;

fn limiter(backend: &Backend) -> Arc<RateLimiter> {
    let config = RateLimitConfig::new(
        RATE,
        backend.clone(),
        AccountId::from_api_key("bench-account-key"),
    );
    Arc::new(RateLimiter::new(config, None).expect("a valid limiter"))
}

/// Acquires a second over `seconds`, `callers` at once; each caller goes through the
/// limiters of its own row in turn.
async fn measure(limiters: &[Vec<Arc<RateLimiter>>], seconds: f64) -> f64 {
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let tasks: Vec<_> = limiters
        .iter()
        .map(|row| {
            let row = row.clone();
            tokio::spawn(async move {
                let mut count = 0usize;
                while Instant::now() < deadline {
                    row[count % row.len()].acquire().await;
                    count += 1;
                }
                count
            })
        })
        .collect();
    let mut total = 0usize;
    for task in tasks {
        total += task.await.expect("a bench task");
    }
    total as f64 / started.elapsed().as_secs_f64()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

struct Redis {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Redis {
    fn start() -> Redis {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let dir = std::env::temp_dir().join(format!("helpcrunch-bench-redis-{port}"));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (apt-get install -y redis-server)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Redis { child, dir, port }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn main() {
    let mut seconds = 2.0;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                seconds = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .expect("--seconds takes a number")
            }
            // `cargo bench` passes --bench.
            "--bench" => {}
            other => panic!("unknown argument {other}; try --seconds N"),
        }
    }

    let redis = Redis::start();
    let file_dir = std::env::temp_dir().join(format!("helpcrunch-bench-file-{}", redis.port));
    std::fs::create_dir_all(&file_dir).expect("a temporary directory");
    let file_url = format!("file://{}", file_dir.join("budget").display());
    let redis_url = format!("redis://127.0.0.1:{}/0", redis.port);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let backends = [
        ("in-process", None),
        ("file", Some(file_url.as_str())),
        ("Redis", Some(redis_url.as_str())),
    ];
    println!("| limiter | one caller: µs per acquire | {CALLERS} callers: acquires a second |");
    println!("|---|--:|--:|");
    for (name, setting) in backends {
        let backend = Backend::parse(setting).expect("a valid backend");
        // Shared: one limiter, as a client has one per process.
        let (one_caller, many_callers) = match backend {
            Backend::Local => (vec![(0..64).map(|_| limiter(&backend)).collect()], None),
            _ => {
                let shared = limiter(&backend);
                (
                    vec![vec![shared.clone()]],
                    Some(vec![vec![shared]; CALLERS]),
                )
            }
        };
        // One acquire first: it opens the connection (or creates the file).
        runtime.block_on(one_caller[0][0].acquire());
        let one: Vec<f64> = (0..RUNS)
            .map(|_| runtime.block_on(measure(&one_caller, seconds)))
            .collect();
        let many = match &many_callers {
            Some(rows) => {
                let runs = (0..RUNS)
                    .map(|_| runtime.block_on(measure(rows, seconds)))
                    .collect();
                format!("{:.0}", median(runs))
            }
            None => "—".to_string(),
        };
        println!("| {name} | {:.2} | {many} |", 1e6 / median(one));
    }
    let _ = std::fs::remove_dir_all(&file_dir);
}
