//! One budget through a real `redis-server`, one server per test.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::shared::{self, RATE};
#[cfg(unix)]
use super::support::in_forked_child;
use super::support::{free_port, limiter, Recorder, RedisServer, TempDir};
use crate::core::rate_limit::gcra::{Op, State, Tuning};
use crate::core::rate_limit::redis_store::RedisStore;
use crate::core::rate_limit::{
    AccountId, Backend, Event, RateLimiter, FALLBACK_SHARE, KEY_PREFIX, OPERATION_TIMEOUT,
    STATE_RETENTION,
};
use crate::core::runtime;

const KEY: &str = "hc-secret-key-0123456789abcdef";

/// Long enough for any outage test here to end; only a hang reaches it.
const HANG: Duration = Duration::from_secs(90);

fn events_of<'a>(events: &'a [Event], kind: &str) -> Vec<&'a Event> {
    events
        .iter()
        .filter(|e| match e {
            Event::BackendLost { .. } => kind == "lost",
            Event::BackendBack { .. } => kind == "back",
            Event::RateChanged { .. } => kind == "rate",
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_sharing_redis_reaches_the_rate_without_exceeding_it() {
    let server = RedisServer::start();
    shared::a_fleet_reaches_the_rate_without_exceeding_it(server.backend()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_limiter_alone_reaches_the_whole_redis_budget() {
    let server = RedisServer::start();
    shared::one_alone_reaches_the_whole_rate(server.backend()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_have_separate_budgets_in_redis() {
    let server = RedisServer::start();
    shared::accounts_have_separate_budgets(server.backend()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_is_shared_through_redis_and_a_burst_counts_once() {
    let server = RedisServer::start();
    shared::throttling_is_shared_and_a_burst_counts_once(server.backend()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decrease_reaches_the_waiting_requests_of_every_limiter_on_redis() {
    let server = RedisServer::start();
    let port = server.port();
    let key = format!(
        "{KEY_PREFIX}{}",
        AccountId::from_api_key("hc-queued-key").as_hex()
    );
    let read = Box::new(move || {
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}/0")).ok()?;
        let mut connection = client.get_connection().ok()?;
        let (tat, released): (Option<i64>, Option<i64>) = redis::cmd("HMGET")
            .arg(&key)
            .arg("tat")
            .arg("rel")
            .query(&mut connection)
            .ok()?;
        Some((tat?, released?))
    });
    shared::a_decrease_reaches_the_waiting_requests_of_every_limiter(server.backend(), read).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_key_never_reaches_redis() {
    let server = RedisServer::start();
    let monitor = server.monitor();
    let limiters: Vec<_> = (0..2)
        .map(|_| Arc::new(limiter(RATE, server.backend(), KEY, None)))
        .collect();
    let permits = shared::acquire_all(&limiters, 3).await;
    limiters[0].throttled(permits[0]).await;
    // Loaded again with EVAL, so the script's text goes over the wire too.
    let _: () = server.command(&["SCRIPT", "FLUSH"]);
    limiters[1].acquire().await;
    let sent = monitor.finish();

    let hash = AccountId::from_api_key(KEY).as_hex().to_string();
    assert!(
        sent.contains(&hash),
        "MONITOR saw the account's commands: {sent}"
    );
    assert!(
        sent.contains("EVALSHA") && sent.contains("\"EVAL\""),
        "{sent}"
    );
    assert!(!sent.contains(KEY), "the key went to Redis: {sent}");

    let keys: Vec<String> = server.command(&["KEYS", "*"]);
    assert_eq!(keys, vec![format!("{KEY_PREFIX}{hash}")]);
    let fields: HashMap<String, String> = server.command(&["HGETALL", &keys[0]]);
    let mut names: Vec<&str> = fields.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["at", "epoch", "low", "rate", "rel", "seen", "tat"]);
    for value in fields.values() {
        assert!(
            value.parse::<f64>().is_ok(),
            "only numbers are stored: {fields:?}"
        );
    }
    // An idle account's state goes away by itself.
    let ttl: i64 = server.command(&["PTTL", &keys[0]]);
    assert!(
        ttl > 0 && ttl <= STATE_RETENTION.as_millis() as i64 + 60_000,
        "{ttl}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_script_is_sent_again_when_redis_forgot_it() {
    let server = RedisServer::start();
    let events = Recorder::new();
    let limiter = limiter(RATE, server.backend(), KEY, Some(events.sink()));
    assert!(limiter.acquire().await.is_shared());
    let _: () = server.command(&["SCRIPT", "FLUSH"]);
    assert!(limiter.acquire().await.is_shared());
    assert_eq!(events.take(), vec![]);
}

/// `gcra.lua` and `gcra.rs` give the same answers and keep the same state, step by step,
/// including a clock that steps back and callers with different configured rates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lua_and_rust_agree() {
    let server = RedisServer::start();
    let Backend::Redis(target) = server.backend() else {
        unreachable!()
    };
    let account = AccountId::from_api_key(KEY);
    let store = Arc::new(RedisStore::new(&target, &account).unwrap());
    let tuning = Tuning {
        recovery: Duration::from_secs(7),
        ..Tuning::default()
    };
    let s = 1_000_000i64;
    let t0 = 1_764_000_000 * s;
    let h = tuning.horizon.as_micros() as i64;
    let steps: Vec<(Op, i64, f64)> = vec![
        (Op::Peek, t0, 120.0),
        (Op::Grant, t0, 120.0),
        (Op::Grant, t0, 120.0),
        (Op::Grant, t0 + s / 10, 60.0),
        // A queue four seconds long, its slots confirmed.
        (Op::Grant, t0 + s / 10, 120.0),
        (Op::Grant, t0 + s / 10, 120.0),
        (Op::Grant, t0 + s / 10, 120.0),
        (
            Op::Confirm {
                epoch: 0,
                slot: t0 + 502_500,
            },
            t0 + s / 5,
            120.0,
        ),
        // A decrease releases the slots past the horizon; a kept one stands, a released one
        // is granted again.
        (Op::Throttled { epoch: 0 }, t0 + s, 120.0),
        (Op::Throttled { epoch: 0 }, t0 + s, 120.0),
        (
            Op::Confirm {
                epoch: 0,
                slot: t0 + 2 * 502_500,
            },
            t0 + s + 1,
            120.0,
        ),
        (
            Op::Confirm {
                epoch: 0,
                slot: t0 + 3_507_500,
            },
            t0 + 3 * s,
            120.0,
        ),
        (
            Op::Confirm {
                epoch: 0,
                slot: t0 + 3_507_500,
            },
            t0 + 3 * s,
            120.0,
        ),
        (Op::Grant, t0 + 2 * s, 120.0),
        // Within the episode: the target stays; a confirm from two epochs back is given up.
        (Op::Throttled { epoch: 1 }, t0 + 3 * s, 120.0),
        (Op::Throttled { epoch: 7 }, t0 + 3 * s, 120.0),
        (
            Op::Confirm {
                epoch: 0,
                slot: t0 + 2 * 502_500,
            },
            t0 + 3 * s,
            120.0,
        ),
        (
            Op::Confirm {
                epoch: 2,
                slot: t0 + 9 * s,
            },
            t0 + 3 * s,
            120.0,
        ),
        (Op::Grant, t0 + 4 * s + 3, 120.0),
        (Op::Peek, t0 + 5 * s, 120.0),
        (Op::Grant, t0 + 9 * s + 123_457, 200.0),
        // After a calm spell: a new episode, a new target.
        (Op::Throttled { epoch: 2 }, t0 + 20 * s + h, 120.0),
        (Op::Grant, t0 + 21 * s, 120.0),
        // The server's clock steps back two minutes.
        (Op::Grant, t0 - 111 * s, 120.0),
        (Op::Grant, t0 - 111 * s, 120.0),
        (Op::Throttled { epoch: 3 }, t0 - 110 * s, 120.0),
        (Op::Grant, t0 - 100 * s, 120.0),
        (Op::Grant, t0 + 3_600 * s, 120.0),
        (Op::Grant, t0 + 3_600 * s, 0.001),
    ];
    let mut model = State::default();
    let key = store.key().to_string();
    for (i, (op, now, ceiling)) in steps.into_iter().enumerate() {
        let expected = model.apply(op, now, ceiling, &tuning);
        let got = store
            .run(op, ceiling, &tuning, STATE_RETENTION, Some(now))
            .await
            .unwrap();
        assert_eq!(got, expected, "step {i}: {op:?} at {now}");
        let fields: HashMap<String, String> = server.command(&["HGETALL", &key]);
        if fields.is_empty() {
            assert_eq!(model, State::default(), "step {i}");
            continue;
        }
        let stored = State {
            tat: fields["tat"].parse().unwrap(),
            seen: fields["seen"].parse().unwrap(),
            throttled_rate: fields["rate"].parse().unwrap(),
            throttled_at: fields["at"].parse().unwrap(),
            epoch: fields["epoch"].parse().unwrap(),
            low_rate: fields.get("low").map_or(0.0, |low| low.parse().unwrap()),
            released_at: fields["rel"].parse().unwrap(),
        };
        assert_eq!(stored, model, "step {i}: {op:?} at {now}");
    }

    // The climb back re-lays a queue it left behind: a queue of slots after a decrease, the
    // grant that re-lays it once the rate has climbed, and the confirm of a released slot.
    let t1 = t0 + 3_700 * s;
    let mut queue = Vec::new();
    let epoch = model.epoch;
    let mut ops = vec![(Op::Throttled { epoch }, t1)];
    ops.extend((0..12).map(|_| (Op::Grant, t1 + s / 2)));
    ops.push((Op::Grant, t1 + 3 * s));
    for (op, now) in ops {
        let expected = model.apply(op, now, 120.0, &tuning);
        let got = store.run(op, 120.0, &tuning, STATE_RETENTION, Some(now));
        assert_eq!(got.await.unwrap(), expected, "{op:?} at {now}");
        queue.push(expected);
    }
    assert_eq!(model.epoch, epoch + 2, "a decrease, then a re-laying");
    let last = queue[12];
    let confirm = Op::Confirm {
        epoch: last.epoch,
        slot: last.slot_us,
    };
    let expected = model.apply(confirm, t1 + 3 * s + 1, 120.0, &tuning);
    assert_ne!(expected.slot_us, last.slot_us, "released");
    let got = store.run(
        confirm,
        120.0,
        &tuning,
        STATE_RETENTION,
        Some(t1 + 3 * s + 1),
    );
    assert_eq!(got.await.unwrap(), expected);

    // A hash an older version wrote, without `low` or with a stale one: both climb from one
    // decrease below the target.
    let decrease = Op::Throttled { epoch: model.epoch };
    let at = t0 + 3_720 * s;
    let expected = model.apply(decrease, at, 120.0, &tuning);
    let got = store.run(decrease, 120.0, &tuning, STATE_RETENTION, Some(at));
    assert_eq!(got.await.unwrap(), expected);
    for (low, low_rate) in [(None, 0.0), (Some("500"), 500.0)] {
        match low {
            None => server.command::<()>(&["HDEL", &key, "low"]),
            Some(low) => server.command::<()>(&["HSET", &key, "low", low]),
        }
        model.low_rate = low_rate;
        for (op, now) in [(Op::Peek, at + s), (Op::Grant, at + 2 * s)] {
            let expected = model.apply(op, now, 120.0, &tuning);
            let got = store
                .run(op, 120.0, &tuning, STATE_RETENTION, Some(now))
                .await
                .unwrap();
            assert_eq!(got, expected, "{op:?} with low {low:?}");
            assert!(expected.rate < 110.0, "still climbing: {expected:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_redis_never_holds_a_request() {
    let url = format!("redis://127.0.0.1:{}/0", free_port());
    let events = Recorder::new();
    let limiter = limiter(
        RATE,
        Backend::parse(Some(&url)).unwrap(),
        KEY,
        Some(events.sink()),
    );
    let permits = tokio::time::timeout(HANG, async {
        let mut permits = Vec::new();
        for _ in 0..6 {
            permits.push(limiter.acquire().await);
        }
        permits
    })
    .await
    .expect("no acquire hangs");
    assert!(permits.iter().all(|p| !p.is_shared()));
    // Paced alone at a quarter of the rate meanwhile.
    let fallback = RATE * FALLBACK_SHARE;
    assert_eq!(limiter.current_rate(), fallback);
    let slots: Vec<i64> = permits[1..].iter().map(|p| p.slot_us()).collect();
    for pair in slots.windows(2) {
        assert_eq!(
            pair[1] - pair[0],
            crate::core::rate_limit::interval_us(fallback)
        );
    }
    let seen = events.take();
    assert_eq!(seen.len(), 1, "one warning for the outage: {seen:?}");
    let Event::BackendLost {
        backend,
        reason,
        fallback_per_minute,
    } = &seen[0]
    else {
        panic!("{seen:?}")
    };
    assert_eq!(backend, &url);
    assert!(reason.to_lowercase().contains("refused"), "{reason}");
    assert_eq!(*fallback_per_minute, fallback);
}

/// Killed mid-run and started again (empty): every acquire returns, the outage is reported
/// once per limiter, and each rejoins the shared budget when the server is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_and_restarted_mid_run_falls_back_once_and_rejoins() {
    let mut server = RedisServer::start();
    let recorders: Vec<Recorder> = (0..2).map(|_| Recorder::new()).collect();
    let limiters: Vec<Arc<RateLimiter>> = recorders
        .iter()
        .map(|r| Arc::new(limiter(RATE, server.backend(), KEY, Some(r.sink()))))
        .collect();

    tokio::time::timeout(HANG, async {
        let before = shared::acquire_all(&limiters, 3).await;
        assert!(before.iter().all(|p| p.is_shared()));

        server.kill();
        let during = shared::acquire_all(&limiters, 4).await;
        assert!(during.iter().all(|p| !p.is_shared()), "{during:?}");

        server.restart();
        // Each rejoins after its next probe; until then it keeps pacing alone.
        for (limiter, recorder) in limiters.iter().zip(&recorders) {
            while events_of(&recorder.snapshot(), "back").is_empty() {
                limiter.acquire().await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        let after = shared::acquire_all(&limiters, 3).await;
        assert!(after.iter().all(|p| p.is_shared()), "{after:?}");
    })
    .await
    .expect("no acquire hangs while Redis is down or coming back");

    for recorder in &recorders {
        let seen = recorder.take();
        assert_eq!(events_of(&seen, "lost").len(), 1, "{seen:?}");
        assert_eq!(events_of(&seen, "back").len(), 1, "{seen:?}");
    }
    // The budget is in the new server again.
    let keys: Vec<String> = server.command(&["KEYS", "*"]);
    assert_eq!(keys.len(), 1, "{keys:?}");
}

/// A server that stops answering (frozen, connections open) costs one bounded wait, not one
/// per request.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_redis_costs_one_bounded_wait_then_rejoins() {
    let server = RedisServer::start();
    let events = Recorder::new();
    let limiter = limiter(RATE, server.backend(), KEY, Some(events.sink()));
    assert!(limiter.acquire().await.is_shared());

    server.freeze();
    let during = tokio::time::timeout(HANG, async {
        let mut permits = Vec::new();
        for _ in 0..5 {
            permits.push(limiter.acquire().await);
        }
        permits
    })
    .await;
    server.thaw();
    let during = during.expect("no acquire hangs on a frozen server");
    assert!(during.iter().all(|p| !p.is_shared()));
    let seen = events.snapshot();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        matches!(&seen[0], Event::BackendLost { reason, .. }
            if reason.contains(&format!("{} s", OPERATION_TIMEOUT.as_secs()))
                || reason.to_lowercase().contains("timed out")),
        "{seen:?}"
    );

    tokio::time::timeout(HANG, async {
        while events_of(&events.snapshot(), "back").is_empty() {
            limiter.acquire().await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("rejoins once the server answers");
    assert!(limiter.acquire().await.is_shared());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_password_is_used_and_never_shown() {
    let password = "pw-Zq8-never-shown";
    let server = RedisServer::start_with(&["--requirepass", password]);
    let good = format!("redis://:{password}@127.0.0.1:{}/0", server.port());
    let wrong_password = "pw-wrong-also-secret";
    let wrong = format!("redis://:{wrong_password}@127.0.0.1:{}/0", server.port());

    let events = Recorder::new();
    let limiter_ok = limiter(
        RATE,
        Backend::parse(Some(&good)).unwrap(),
        KEY,
        Some(events.sink()),
    );
    assert!(limiter_ok.acquire().await.is_shared());
    assert_eq!(events.take(), vec![]);

    let limiter_bad = limiter(
        RATE,
        Backend::parse(Some(&wrong)).unwrap(),
        KEY,
        Some(events.sink()),
    );
    assert!(!limiter_bad.acquire().await.is_shared());
    let seen = events.take();
    assert_eq!(seen.len(), 1, "{seen:?}");
    for text in [
        seen[0].to_string(),
        format!("{seen:?}"),
        format!("{limiter_ok:?}"),
        format!("{limiter_bad:?}"),
    ] {
        assert!(
            !text.contains(password) && !text.contains(wrong_password),
            "{text}"
        );
    }
    assert!(seen[0].to_string().contains("***"), "{}", seen[0]);
}

/// Blocking calls run on a current-thread runtime that only turns while some thread is inside
/// a call; async calls on the multi-thread one. One limiter serves both, in turn, without
/// stalling (its connection lives on the multi-thread runtime).
#[test]
fn blocking_and_async_callers_share_a_limiter_without_stalling() {
    let server = RedisServer::start();
    let limiter = Arc::new(limiter(RATE, server.backend(), KEY, None));
    let bounded = |limiter: Arc<RateLimiter>| async move {
        tokio::time::timeout(Duration::from_secs(20), limiter.acquire())
            .await
            .expect("the acquire does not stall")
    };
    for _ in 0..3 {
        assert!(runtime::block_on(bounded(limiter.clone())).is_shared());
        assert!(runtime::handle()
            .block_on(bounded(limiter.clone()))
            .is_shared());
    }
}

/// A forked child (Python's multiprocessing, Dask's workers) builds its own limiter, as the
/// client rebuilds its pool there: it works, sharing the parent's budget. Even the parent's
/// limiter works in the child: it notices the fork and opens a connection of its own rather
/// than waiting on the parent's, whose driving task was not copied.
#[cfg(unix)]
#[test]
fn a_limiter_built_in_a_forked_child_works() {
    let server = RedisServer::start();
    let parent = limiter(RATE, server.backend(), KEY, None);
    let parent_slot = runtime::block_on(parent.acquire());
    assert!(parent_slot.is_shared());

    in_forked_child(|| {
        let child = limiter(RATE, server.backend(), KEY, None);
        runtime::block_on(async {
            let mut shared = true;
            for limiter in [&child, &child, &parent, &parent] {
                let permit = tokio::time::timeout(Duration::from_secs(20), limiter.acquire())
                    .await
                    .expect("the child's acquire does not stall");
                shared &= permit.is_shared();
            }
            shared
        })
    });
    // The child's grants went to the same budget.
    let after = runtime::block_on(parent.acquire());
    assert!(
        after.slot_us() >= parent_slot.slot_us() + 5 * crate::core::rate_limit::interval_us(RATE)
    );
}

/// `rediss://` goes through rustls: a certificate the system does not trust is refused (the
/// limiter paces alone and says why), and one it trusts connects. The trusted case runs in a
/// child, whose `SSL_CERT_FILE` names the test's certificate without touching this process.
#[cfg(unix)]
#[test]
fn rediss_uses_tls_and_checks_the_certificate() {
    let dir = TempDir::new("tls");
    let ca = dir.0.join("ca.pem");
    let cert = dir.0.join("cert.pem");
    let key = dir.0.join("key.pem");
    // A CA, and a certificate for localhost signed by it (rustls refuses a CA certificate as
    // the server's own).
    std::fs::write(
        dir.0.join("leaf.ext"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    for args in [
        "req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=helpcrunch-test-ca \
         -keyout ca.key -out ca.pem",
        "req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout key.pem -out leaf.csr",
        "x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 \
         -extfile leaf.ext -out cert.pem",
    ] {
        let made = std::process::Command::new("openssl")
            .args(args.split_whitespace())
            .current_dir(&dir.0)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect(
                "the openssl command makes the test's certificates (apt-get install -y openssl)",
            );
        assert!(made.success(), "openssl {args}");
    }
    let tls_port = free_port().to_string();
    let server = RedisServer::start_with(&[
        "--tls-port",
        &tls_port,
        "--tls-cert-file",
        &cert.display().to_string(),
        "--tls-key-file",
        &key.display().to_string(),
        "--tls-ca-cert-file",
        &ca.display().to_string(),
        "--tls-auth-clients",
        "no",
    ]);
    let url = format!("rediss://localhost:{tls_port}/0");

    let events = Recorder::new();
    let untrusted = limiter(
        RATE,
        Backend::parse(Some(&url)).unwrap(),
        KEY,
        Some(events.sink()),
    );
    assert!(!runtime::block_on(untrusted.acquire()).is_shared());
    let seen = events.take();
    assert!(
        matches!(&seen[..], [Event::BackendLost { reason, .. }]
            if reason.to_lowercase().contains("certificate")),
        "{seen:?}"
    );

    in_forked_child(|| {
        // Only this child reads it: rustls-native-certs takes its roots from this file.
        std::env::set_var("SSL_CERT_FILE", &ca);
        let trusted = limiter(RATE, Backend::parse(Some(&url)).unwrap(), KEY, None);
        runtime::block_on(async {
            tokio::time::timeout(Duration::from_secs(20), trusted.acquire())
                .await
                .expect("no stall")
                .is_shared()
        })
    });
    drop(server);
}
