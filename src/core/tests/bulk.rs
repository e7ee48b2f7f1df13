//! Bulk runs against the sandbox: every item accounted for once, faults included, and a
//! cancelled run still reports each item.

use std::collections::HashSet;
use std::time::Duration;

use super::*;
use crate::core::bulk::{BulkRun, Finished};
use crate::core::runtime;
use crate::core::Operation;
use crate::sandbox::{Fault, Sandbox, SandboxConfig};

fn sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig::new(KEY), &runtime::handle()).expect("the sandbox starts")
}

fn sandbox_client(sb: &Sandbox) -> Client {
    let mut config = ClientConfig::new(KEY);
    config.base_url = sb.base_url();
    config.rate_limit = None;
    config.timeout = Duration::from_secs(5);
    Client::new(config).unwrap()
}

/// The demo customers' ids, cycled, with a few unknown ids mixed in.
fn operation(i: u64) -> Operation {
    let id = if i % 10 == 9 { 1 + i } else { 542335 + i % 9 };
    Operation::RemoveTags(CustomerId::new(id).unwrap(), lead())
}

async fn drain(run: &BulkRun) -> Vec<Finished> {
    let mut all = Vec::new();
    loop {
        let batch = run.next_batch(64).await;
        if batch.is_empty() {
            return all;
        }
        all.extend(batch);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_item_is_reported_exactly_once_through_faults() {
    let sb = sandbox();
    sb.fail_next(Fault::status(503), 5);
    sb.fail_next(Fault::DropConnection, 3);
    sb.fail_next(Fault::status_retry_after(429, "0.05"), 4);
    // Enough retries that no item can run out, whatever share of the 12 faults it draws.
    let mut client = sandbox_client(&sb).config().clone();
    client.max_retries = 12;
    let run = BulkRun::new(Client::new(client).unwrap(), 8, None);
    for i in 0..200 {
        run.submit(i, operation(i));
    }
    let finished = drain(&run).await;

    let indexes: HashSet<u64> = finished.iter().map(|f| f.index).collect();
    assert_eq!(finished.len(), 200);
    assert_eq!(indexes.len(), 200, "no item twice");
    for f in &finished {
        let unknown = f.index % 10 == 9;
        match &f.outcome {
            Ok(_) => assert!(!unknown, "item {} should be a 404", f.index),
            Err(Error::Status(e)) => {
                assert!(unknown, "item {}: {e}", f.index);
                assert_eq!(e.status, 404);
            }
            Err(other) => panic!("item {}: {other}", f.index),
        }
    }
    assert_eq!(run.outstanding(), 0);
    assert!(run.next_batch(10).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_bounds_the_requests_in_flight() {
    let sb = sandbox();
    // Every request is slow; with 4 slots, 12 items take three rounds.
    for _ in 0..12 {
        sb.fail_next(Fault::Latency(Duration::from_millis(150)), 1);
    }
    let run = BulkRun::new(sandbox_client(&sb), 4, None);
    let started = tokio::time::Instant::now();
    for i in 0..12 {
        run.submit(i, operation(i % 9));
    }
    let finished = drain(&run).await;
    assert_eq!(finished.len(), 12);
    assert!(
        started.elapsed() >= Duration::from_millis(440),
        "12 items of 150 ms through 4 slots need three rounds: {:?}",
        started.elapsed()
    );
    assert!(
        sb.connection_count() <= 4,
        "{} connections",
        sb.connection_count()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_run_still_reports_every_item() {
    let sb = sandbox();
    sb.fail_next(Fault::Latency(Duration::from_secs(30)), 100);
    let run = BulkRun::new(sandbox_client(&sb), 2, None);
    for i in 0..10 {
        run.submit(i, operation(i % 9));
    }
    run.cancel();
    run.submit(10, operation(1));
    let finished = tokio::time::timeout(Duration::from_secs(5), drain(&run))
        .await
        .expect("a cancelled run ends promptly");
    assert_eq!(finished.len(), 11);
    assert!(finished
        .iter()
        .all(|f| matches!(f.outcome, Err(Error::Cancelled { .. }))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_item_counts_the_attempts_it_sent() {
    let server = super::server::TestServer::start().await;
    server.set_default(super::server::Action::delayed(
        Duration::from_secs(60),
        super::server::Action::status(200),
    ));
    let run = BulkRun::new(super::client(&server), 2, None);
    for i in 0..4 {
        run.submit(i, Operation::GetCustomer(CustomerId::new(1 + i).unwrap()));
    }
    // Two requests reach the server and hang; the other two wait for a slot.
    server.wait_for_requests(2).await;
    run.cancel();
    let finished = drain(&run).await;
    assert_eq!(finished.len(), 4);
    let sent: HashSet<String> = server.requests().into_iter().map(|r| r.path).collect();
    for f in &finished {
        let Err(Error::Cancelled { attempts }) = f.outcome else {
            panic!("expected a cancelled item, got {:?}", f.outcome);
        };
        let reached = sent.contains(&format!("/v1/customers/{}", f.index + 1));
        assert_eq!(attempts, u32::from(reached), "item {}", f.index);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_results_takes_none_so_dropping_the_wait_loses_none() {
    let sb = sandbox();
    let run = BulkRun::new(sandbox_client(&sb), 4, None);
    for i in 0..20 {
        run.submit(i, operation(i));
    }
    let mut all = Vec::new();
    while run.outstanding() > 0 {
        // A wait given up at once, as a cancelled asyncio task gives it up.
        let _ = tokio::time::timeout(Duration::ZERO, run.wait_ready()).await;
        run.wait_ready().await;
        all.extend(run.take_ready(3));
    }
    let indexes: HashSet<u64> = all.iter().map(|f| f.index).collect();
    assert_eq!(all.len(), 20);
    assert_eq!(indexes.len(), 20);
}
