//! Bulk runs: many calls on one client, at most `concurrency` at a time, each paced by the
//! client's rate limiter, their outcomes collected in completion order.
//!
//! The caller feeds items one by one ([`BulkRun::submit`]) and takes finished ones in batches
//! ([`BulkRun::next_batch`]), so a lazy source is read only as fast as the run can use it and
//! memory stays flat. Every submitted item yields exactly one outcome, cancelled ones included.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, watch, Semaphore};

use super::client::{Client, Observer, Response};
use super::error::{Error, Result};
use super::operation::Operation;
use super::runtime;

/// One finished item: its position in the input and what became of it.
#[derive(Debug)]
pub struct Finished {
    pub index: u64,
    pub outcome: Result<Response>,
}

pub struct BulkRun {
    client: Client,
    observer: Option<Arc<dyn Observer>>,
    slots: Arc<Semaphore>,
    done_tx: mpsc::UnboundedSender<Finished>,
    done_rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Finished>>,
    /// Finished items received by [`BulkRun::wait_ready`] and not yet taken.
    ready: Mutex<VecDeque<Finished>>,
    cancel: watch::Sender<bool>,
    /// Submitted and not yet handed back by `next_batch`.
    outstanding: AtomicUsize,
}

impl BulkRun {
    pub fn new(client: Client, concurrency: usize, observer: Option<Arc<dyn Observer>>) -> Self {
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        BulkRun {
            client,
            observer,
            slots: Arc::new(Semaphore::new(concurrency.max(1))),
            done_tx,
            done_rx: tokio::sync::Mutex::new(done_rx),
            ready: Mutex::new(VecDeque::new()),
            cancel: watch::channel(false).0,
            outstanding: AtomicUsize::new(0),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Items submitted whose outcome has not been taken yet.
    pub fn outstanding(&self) -> usize {
        self.outstanding.load(Ordering::Acquire)
    }

    /// Start `op` as item `index`. It waits for a free slot (and the rate limiter) on the
    /// runtime, not here: this returns at once.
    pub fn submit(&self, index: u64, op: Operation) {
        self.outstanding.fetch_add(1, Ordering::AcqRel);
        let done = self.done_tx.clone();
        if *self.cancel.borrow() {
            let _ = done.send(Finished {
                index,
                outcome: Err(Error::Cancelled { attempts: 0 }),
            });
            return;
        }
        let client = self.client.clone();
        let observer = self.observer.clone();
        let slots = self.slots.clone();
        let mut cancel = self.cancel.subscribe();
        let cancelled = self.cancel.subscribe();
        runtime::handle().spawn(async move {
            // Attempts sent so far, read when the item is cancelled mid-call: an item whose
            // request may have reached the server must not claim that nothing was sent.
            let sent = AtomicU32::new(0);
            let work = async {
                let _slot = slots
                    .acquire_owned()
                    .await
                    .map_err(|_| Error::Cancelled { attempts: 0 })?;
                // A slot let go by a cancelled item can reach a waiter before the cancel's own
                // wake-up does (the watch wakes its receivers one after another). The flag was
                // set before that slot was released, so reading it here cannot miss it.
                if *cancelled.borrow() {
                    return Err(Error::Cancelled { attempts: 0 });
                }
                client.call_counting(op, observer, &sent).await
            };
            // Cancellation first: an item woken by a slot the cancelled ones let go must not
            // start an attempt in the same poll.
            let outcome = tokio::select! {
                biased;
                _ = cancel.wait_for(|cancelled| *cancelled) => Err(Error::Cancelled {
                    attempts: sent.load(Ordering::Acquire),
                }),
                outcome = work => outcome,
            };
            // The receiver lives as long as the run; if the run is gone nobody is listening.
            let _ = done.send(Finished { index, outcome });
        });
    }

    /// Stop: queued and running items end as `Error::Cancelled` (their requests are dropped),
    /// and so does anything submitted later.
    pub fn cancel(&self) {
        self.cancel.send_replace(true);
    }

    /// Wait until an outcome is ready to take (at once if one is, or if nothing is outstanding).
    /// Takes nothing: dropping this future at any point loses no outcome.
    pub async fn wait_ready(&self) {
        if !self.lock_ready().is_empty() {
            return;
        }
        let mut rx = self.done_rx.lock().await;
        if !self.lock_ready().is_empty() || self.outstanding() == 0 {
            return;
        }
        if let Some(first) = rx.recv().await {
            // Kept in the same poll that received it: nothing is lost if the waiter goes.
            self.lock_ready().push_back(first);
        }
    }

    /// Take up to `max` outcomes that are ready, in completion order, without waiting.
    pub fn take_ready(&self, max: usize) -> Vec<Finished> {
        let mut ready = self.lock_ready();
        if let Ok(mut rx) = self.done_rx.try_lock() {
            while ready.len() < max {
                match rx.try_recv() {
                    Ok(item) => ready.push_back(item),
                    Err(_) => break,
                }
            }
        }
        let n = ready.len().min(max);
        let batch: Vec<Finished> = ready.drain(..n).collect();
        self.outstanding.fetch_sub(batch.len(), Ordering::AcqRel);
        batch
    }

    /// Wait for at least one outcome (none if nothing is outstanding), then take up to `max`
    /// of those ready, in completion order.
    pub async fn next_batch(&self, max: usize) -> Vec<Finished> {
        self.wait_ready().await;
        self.take_ready(max.max(1))
    }

    fn lock_ready(&self) -> std::sync::MutexGuard<'_, VecDeque<Finished>> {
        // Never held across an await; a poisoned lock still holds whole outcomes.
        self.ready.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for BulkRun {
    fn drop(&mut self) {
        // Nobody will collect what is still running: stop it.
        self.cancel.send_replace(true);
    }
}
