//! A budget shared through Redis by every client of an account, on any machine: `gcra.lua`
//! run atomically on one hash per account, timed by the server's clock (EVALSHA, with EVAL
//! when the server does not have the script).
//!
//! The connection (redis's `ConnectionManager`, which reconnects by itself) lives on the
//! process's multi-thread runtime whatever runtime the caller is on: a connection is driven by
//! a task of the runtime that opened it, and the blocking API's current-thread runtime only
//! runs while some thread is inside a call, so a connection opened there would stall async
//! callers. Every operation is bounded by [`OPERATION_TIMEOUT`].

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::account::AccountId;
use super::backend::{scrub, RedisTarget, StoreError};
use super::gcra::{Op, Reply, Tuning, RELAY_STEP, SAFETY_MARGIN};
use crate::core::runtime;

/// The longest one operation may take, connecting included, before the backend counts as
/// unreachable and the caller paces locally.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(2);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(1);

/// Redis key names are this followed by the account's hash.
pub const KEY_PREFIX: &str = "helpcrunch:rate-limit:";

static SCRIPT_SOURCE: &str = include_str!("gcra.lua");

pub(crate) struct RedisStore {
    client: redis::Client,
    password: Option<String>,
    key: String,
    script: redis::Script,
    /// Made on first use, on the multi-thread runtime (see the module's doc), tagged with the
    /// process generation that made it: a forked child makes its own.
    connection: Mutex<Option<(u64, ConnectionManager)>>,
}

impl RedisStore {
    pub(crate) fn new(target: &RedisTarget, account: &AccountId) -> Result<Self, StoreError> {
        let client = redis::Client::open(target.url())
            .map_err(|e| StoreError(scrub(&e.to_string(), target.password())))?;
        Ok(RedisStore {
            client,
            password: target.password().map(str::to_string),
            key: format!("{KEY_PREFIX}{}", account.as_hex()),
            script: redis::Script::new(SCRIPT_SOURCE),
            connection: Mutex::new(None),
        })
    }

    #[cfg(test)]
    pub(crate) fn key(&self) -> &str {
        &self.key
    }

    /// Run `op` on the server's state, on the multi-thread runtime, within
    /// [`OPERATION_TIMEOUT`]. `now_us` pins the clock (tests compare with `gcra.rs`); None
    /// uses the server's.
    pub(crate) async fn run(
        self: &Arc<Self>,
        op: Op,
        ceiling: f64,
        tuning: &Tuning,
        retention: Duration,
        now_us: Option<i64>,
    ) -> Result<Reply, StoreError> {
        let store = Arc::clone(self);
        let tuning = *tuning;
        let task = runtime::handle().spawn(async move {
            tokio::time::timeout(
                OPERATION_TIMEOUT,
                store.invoke(op, ceiling, &tuning, retention, now_us),
            )
            .await
        });
        match task.await {
            Ok(Ok(result)) => {
                result.map_err(|e| StoreError(scrub(&e.to_string(), self.password.as_deref())))
            }
            Ok(Err(_elapsed)) => Err(StoreError(format!(
                "no answer within {} s",
                OPERATION_TIMEOUT.as_secs()
            ))),
            Err(join) => Err(StoreError(format!("the operation failed: {join}"))),
        }
    }

    async fn invoke(
        &self,
        op: Op,
        ceiling: f64,
        tuning: &Tuning,
        retention: Duration,
        now_us: Option<i64>,
    ) -> redis::RedisResult<Reply> {
        let mut connection = self.connection()?;
        let (epoch, slot) = match op {
            Op::Throttled { epoch } => (epoch.to_string(), String::new()),
            Op::Confirm { epoch, slot } => (epoch.to_string(), slot.to_string()),
            Op::Grant | Op::Peek => (String::new(), String::new()),
        };
        let script = |command: &str, body: &str| {
            let mut cmd = redis::cmd(command);
            cmd.arg(body)
                .arg(1)
                .arg(&self.key)
                .arg(op.name())
                .arg(ceiling)
                .arg(SAFETY_MARGIN)
                .arg(tuning.decrease_factor)
                .arg(tuning.recovery_us())
                .arg(tuning.floor_share)
                .arg(tuning.horizon_us())
                .arg(tuning.episode_us())
                .arg(u64::try_from(retention.as_millis()).unwrap_or(u64::MAX))
                .arg(&epoch)
                .arg(&slot)
                .arg(now_us.map(|n| n.to_string()).unwrap_or_default())
                .arg(RELAY_STEP);
            cmd
        };
        type Answer = (i64, u64, String, i64, i64);
        // By hash first (the script is cached on the server); a server that does not have it
        // (restarted, flushed, failed over) gets the text once, which also caches it.
        let answer: Answer = match script("EVALSHA", self.script.get_hash())
            .query_async(&mut connection)
            .await
        {
            Err(e) if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) => {
                script("EVAL", SCRIPT_SOURCE)
                    .query_async(&mut connection)
                    .await?
            }
            other => other?,
        };
        let (wait_us, epoch, rate, decreased, slot_us) = answer;
        let rate: f64 = rate.parse().map_err(|_| {
            redis::RedisError::from((
                redis::ErrorKind::UnexpectedReturnType,
                "the rate limit script answered a rate that is not a number",
            ))
        })?;
        Ok(Reply {
            wait_us: wait_us.max(0),
            slot_us,
            epoch,
            rate,
            decreased: decreased != 0,
        })
    }

    /// The connection manager, made on first use (it must be made inside the runtime it will
    /// live on). Cloning it is cheap; clones share one connection.
    fn connection(&self) -> redis::RedisResult<ConnectionManager> {
        let generation = runtime::process_generation();
        let mut slot = self
            .connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((made_in, connection)) = slot.as_ref() {
            if *made_in == generation {
                return Ok(connection.clone());
            }
            // The parent's: its driving task does not exist here. Dropping it would try to
            // stop that task; it is left alone instead.
            std::mem::forget(slot.take());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            // The limiter paces locally while the server is away and probes it now and then;
            // retrying inside an operation would only hold a request back.
            .set_number_of_retries(0);
        let connection = ConnectionManager::new_lazy_with_config(self.client.clone(), config)?;
        *slot = Some((generation, connection.clone()));
        Ok(connection)
    }
}
