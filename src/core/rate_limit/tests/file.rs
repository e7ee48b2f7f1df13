//! One budget through a file, one file per test.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::shared::{self, RATE};
use super::support::{limiter, Recorder, TempDir};
use crate::core::rate_limit::{AccountId, Backend, Event, FALLBACK_SHARE};

const KEY: &str = "hc-secret-key-0123456789abcdef";
const HANG: Duration = Duration::from_secs(90);

fn backend(path: &Path) -> Backend {
    Backend::parse(Some(&format!("file://{}", path.display()))).expect("a valid file URL")
}

fn budget_file(dir: &TempDir) -> PathBuf {
    dir.0.join("budget")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_sharing_a_file_reaches_the_rate_without_exceeding_it() {
    let dir = TempDir::new("file-fleet");
    shared::a_fleet_reaches_the_rate_without_exceeding_it(backend(&budget_file(&dir))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_limiter_alone_reaches_the_whole_file_budget() {
    let dir = TempDir::new("file-alone");
    shared::one_alone_reaches_the_whole_rate(backend(&budget_file(&dir))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_have_separate_budgets_in_a_file() {
    let dir = TempDir::new("file-accounts");
    let path = budget_file(&dir);
    shared::accounts_have_separate_budgets(backend(&path)).await;
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        text.lines().count(),
        3,
        "a header and one line per account: {text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_is_shared_through_a_file_and_a_burst_counts_once() {
    let dir = TempDir::new("file-429");
    shared::throttling_is_shared_and_a_burst_counts_once(backend(&budget_file(&dir))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decrease_reaches_the_waiting_requests_of_every_limiter_on_a_file() {
    let dir = TempDir::new("file-queued");
    let path = budget_file(&dir);
    let hash = AccountId::from_api_key("hc-queued-key")
        .as_hex()
        .to_string();
    let file = path.clone();
    let read = Box::new(move || {
        let text = std::fs::read_to_string(&file).ok()?;
        let line = text.lines().find(|line| line.starts_with(&hash))?;
        let fields: Vec<&str> = line.split(' ').collect();
        Some((fields.get(1)?.parse().ok()?, fields.get(7)?.parse().ok()?))
    });
    shared::a_decrease_reaches_the_waiting_requests_of_every_limiter(backend(&path), read).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_key_never_reaches_the_file() {
    let dir = TempDir::new("file-key");
    let path = budget_file(&dir);
    let limiters: Vec<_> = (0..2)
        .map(|_| Arc::new(limiter(RATE, backend(&path), KEY, None)))
        .collect();
    let permits = shared::acquire_all(&limiters, 3).await;
    limiters[0].throttled(permits[0]).await;

    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains(KEY), "the key is in the file: {text}");
    let hash = AccountId::from_api_key(KEY).as_hex().to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].starts_with("helpcrunch-rate-limit v2"), "{text}");
    let fields: Vec<&str> = lines[1].split(' ').collect();
    assert_eq!(fields[0], hash);
    assert_eq!(fields.len(), 8);
    assert!(
        fields[1..].iter().all(|f| f.parse::<f64>().is_ok()),
        "{text}"
    );
    assert_eq!(fields[5], "1", "one decrease recorded: {text}");
}

/// A path that cannot be used (its directory does not exist) paces alone with one warning,
/// and joins the file's budget once the directory is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unusable_file_falls_back_once_and_rejoins() {
    let dir = TempDir::new("file-missing");
    let path = dir.0.join("not-yet").join("budget");
    let events = Recorder::new();
    let limiter = limiter(RATE, backend(&path), KEY, Some(events.sink()));

    tokio::time::timeout(HANG, async {
        for _ in 0..4 {
            assert!(!limiter.acquire().await.is_shared());
        }
        assert_eq!(limiter.current_rate(), RATE * FALLBACK_SHARE);
        let seen = events.snapshot();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert!(
            matches!(&seen[0], Event::BackendLost { reason, .. }
                if reason.contains("cannot open") && reason.contains("not-yet")),
            "{seen:?}"
        );

        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        while !events
            .snapshot()
            .iter()
            .any(|e| matches!(e, Event::BackendBack { .. }))
        {
            limiter.acquire().await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(limiter.acquire().await.is_shared());
    })
    .await
    .expect("no acquire hangs");
    assert!(path.exists());
}

/// A file that is not a budget file is never overwritten: the limiter paces alone and says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_file_is_left_alone() {
    let dir = TempDir::new("file-foreign");
    let path = budget_file(&dir);
    let content = "precious data\nnot ours\n";
    std::fs::write(&path, content).unwrap();
    let events = Recorder::new();
    let limiter = limiter(RATE, backend(&path), KEY, Some(events.sink()));
    for _ in 0..3 {
        assert!(!limiter.acquire().await.is_shared());
    }
    assert_eq!(std::fs::read_to_string(&path).unwrap(), content);
    let seen = events.take();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0]
            .to_string()
            .contains("not a helpcrunch rate limit file"),
        "{}",
        seen[0]
    );
}

/// A process that holds the lock and never lets go (stopped in a debugger, say) costs one
/// bounded wait; the budget is joined again once the lock is free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_held_forever_costs_one_bounded_wait() {
    let dir = TempDir::new("file-locked");
    let path = budget_file(&dir);
    let events = Recorder::new();
    let limiter = limiter(RATE, backend(&path), KEY, Some(events.sink()));
    assert!(limiter.acquire().await.is_shared());

    let holder = std::fs::File::open(&path).unwrap();
    holder.lock().unwrap();
    tokio::time::timeout(HANG, async {
        for _ in 0..4 {
            assert!(!limiter.acquire().await.is_shared());
        }
    })
    .await
    .expect("no acquire waits on the lock for long");
    let seen = events.snapshot();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].to_string().contains("stayed locked"), "{}", seen[0]);

    drop(holder);
    tokio::time::timeout(HANG, async {
        while !events
            .snapshot()
            .iter()
            .any(|e| matches!(e, Event::BackendBack { .. }))
        {
            limiter.acquire().await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("rejoins once the lock is free");
    assert!(limiter.acquire().await.is_shared());
}
