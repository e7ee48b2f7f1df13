//! `runtime::block_on_polling`: the blocking calls' way of waiting. Each test runs on its own
//! thread, so each starts with a fresh per-thread policy; the tests that poll take turns, as
//! only so many threads of the process may poll at once.

use std::sync::Mutex;

use super::server::{Action, TestServer, DEFAULT_CUSTOMER};
use super::*;
use crate::core::runtime;
use crate::core::wait::{self, block_on_polling, poll_policy, PollPolicy};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn take_turn() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// A server on the package's multi-thread runtime, so this (plain) thread can block on calls.
fn start_server() -> TestServer {
    runtime::handle().block_on(TestServer::start())
}

fn untag(client: &Client) -> Result<crate::core::Response, Error> {
    block_on_polling(client.remove_tags(customer_id(), lead()))
}

#[test]
fn the_policy_polls_while_answers_come_within_the_window() {
    let mut policy = PollPolicy::new();
    for _ in 0..1000 {
        assert!(policy.should_poll());
        policy.record(true);
    }
    // One slow answer is not enough to stop.
    assert!(policy.should_poll());
    policy.record(false);
    assert!(policy.is_polling());
    assert!(policy.should_poll());
}

#[test]
fn after_slow_answers_the_policy_only_probes_until_one_is_fast() {
    let mut policy = PollPolicy::new();
    for _ in 0..PollPolicy::MISSES_TO_STOP {
        assert!(policy.should_poll());
        policy.record(false);
    }
    assert!(!policy.is_polling());
    // Slow answers keep coming: one call in PROBE_EVERY polls, the others sleep at once.
    let calls = 10 * usize::from(PollPolicy::PROBE_EVERY);
    let mut probes = 0;
    for _ in 0..calls {
        if policy.should_poll() {
            probes += 1;
            policy.record(false);
        }
    }
    assert_eq!(probes, 10);
    // A probe answered in time: back to polling every call.
    while !policy.should_poll() {}
    policy.record(true);
    assert!(policy.is_polling());
    assert!(policy.should_poll());
}

#[test]
fn futures_finish_whether_ready_at_once_soon_or_after_the_window() {
    let _turn = take_turn();
    assert_eq!(block_on_polling(async { 7 }), 7);
    let after_yields = block_on_polling(async {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        8
    });
    assert_eq!(after_yields, 8);
    let slept = block_on_polling(async {
        tokio::time::sleep(wait::POLL_WINDOW * 20).await;
        9
    });
    assert_eq!(slept, 9);
}

#[test]
fn calls_to_a_local_server_return_the_customer() {
    let _turn = take_turn();
    let server = start_server();
    let client = client(&server);
    for _ in 0..50 {
        let customer = untag(&client).expect("the server answers 200");
        assert_eq!(customer.fields().expect("a JSON object")["id"], ID);
    }
    assert_eq!(server.request_count(), 50);
}

#[test]
fn slow_answers_stop_the_polling_and_a_fast_one_brings_it_back() {
    let _turn = take_turn();
    let slow = || async { tokio::time::sleep(wait::POLL_WINDOW * 10).await };
    for _ in 0..PollPolicy::MISSES_TO_STOP {
        block_on_polling(slow());
    }
    assert!(!poll_policy().is_polling());
    // Fast answers again: the next probe notices and polling resumes.
    for _ in 0..PollPolicy::PROBE_EVERY {
        block_on_polling(async {});
    }
    assert!(poll_policy().is_polling());
}

#[test]
fn a_slow_server_stops_the_polling() {
    let _turn = take_turn();
    let server = start_server();
    let client = client(&server);
    server.set_default(Action::delayed(
        wait::POLL_WINDOW * 10,
        Action::json(200, DEFAULT_CUSTOMER),
    ));
    for _ in 0..PollPolicy::MISSES_TO_STOP {
        untag(&client).expect("a slow 200 is still a 200");
    }
    assert!(!poll_policy().is_polling());
}

#[test]
fn threads_calling_at_once_all_finish_and_give_back_their_polling_slots() {
    let _turn = take_turn();
    let server = start_server();
    let client = client(&server);
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                for _ in 0..25 {
                    untag(&client).expect("the server answers 200");
                }
            });
        }
    });
    assert_eq!(server.request_count(), 200);
    assert_eq!(wait::pollers(), 0, "a polling slot was not given back");
}

#[cfg(unix)]
#[test]
fn a_forked_child_is_a_new_process_generation() {
    let parent = runtime::process_generation();
    // SAFETY: the child only reads an atomic and calls _exit (both async-signal-safe).
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = if runtime::process_generation() == parent + 1 {
            0
        } else {
            1
        };
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waits for the child forked above.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status));
    assert_eq!(
        libc::WEXITSTATUS(status),
        0,
        "the child saw the parent's generation"
    );
    assert_eq!(
        runtime::process_generation(),
        parent,
        "the parent's generation changed"
    );
}
