//! A shared budget, whichever backend holds it: one operation on the account's state at a time.

use std::sync::Arc;
use std::time::Duration;

use super::account::AccountId;
use super::backend::{Backend, StoreError, SETTING};
use super::file_store::FileStore;
use super::gcra::{Op, Reply, Tuning};
use super::redis_store::RedisStore;
use crate::core::error::{Argument, Result};

/// How long an idle account's shared state is kept (the Redis key's expiry, the file's
/// pruning). Longer than any recovery from throttling, so forgetting it changes nothing.
pub const STATE_RETENTION: Duration = Duration::from_secs(3600);

pub(super) enum Store {
    Redis(Arc<RedisStore>),
    File(FileStore),
}

impl Store {
    /// The store of a shared `backend`; None for a budget of the limiter's own.
    pub(super) fn open(backend: &Backend, account: &AccountId) -> Result<Option<Store>> {
        Ok(match backend {
            Backend::Local => None,
            Backend::Redis(target) => Some(Store::Redis(Arc::new(
                RedisStore::new(target, account).map_err(|e| {
                    Argument::named(SETTING)
                        .setting_error(format!("{}: {}", backend.describe(), e.0), "")
                })?,
            ))),
            Backend::File(path) => Some(Store::File(FileStore::new(path.clone(), account.clone()))),
        })
    }

    pub(super) async fn run(
        &self,
        op: Op,
        ceiling: f64,
        tuning: &Tuning,
    ) -> std::result::Result<Reply, StoreError> {
        match self {
            Store::Redis(store) => store.run(op, ceiling, tuning, STATE_RETENTION, None).await,
            Store::File(store) => store.run(op, ceiling, tuning, STATE_RETENTION).await,
        }
    }
}
