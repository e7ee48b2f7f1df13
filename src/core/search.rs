//! Finding customers: a query's pages fetched through the client's one call loop (pacing,
//! retries, timeouts, errors, key hygiene), one page ahead of the consumer, with the rules of
//! [`super::paging`] deciding which page to ask for and whether it can be used.
//!
//! ```no_run
//! # async fn demo(client: helpcrunch::core::Client) -> helpcrunch::core::Result<()> {
//! use std::sync::Arc;
//! use helpcrunch::core::query::{Filter, Match, Query};
//! use helpcrunch::core::search::SearchOptions;
//!
//! let leads = Arc::new(Query::new(vec![Filter::new("tagsData", "=", "Lead")?], Match::All));
//! let mut pager = client.search(leads.clone(), SearchOptions::default(), None);
//! while let Some(page) = pager.next_page().await? {
//!     for customer in page.customers() {
//!         println!("{} {:?}", customer.id, customer.fields());
//!     }
//! }
//! let how_many = client.count_customers(&leads, None).await?; // one request
//! # Ok(()) }
//! ```
//!
//! Nothing is sent after the pager is stopped or dropped: the page being fetched ahead is
//! dropped with its request, and requests are only ever made by `next_page` or by the one
//! fetch ahead it starts.

use std::sync::Arc;

use serde_json::{Map, Value};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::body::parse_customer;
use super::client::{Client, Observer, Response};
use super::config::DEFAULT_PAGE_SIZE;
use super::error::{Error, Result};
use super::operation::Operation;
use super::paging::{Head, PageRequest, Paging, PagingStats, Received};
use super::query::Query;
use super::runtime;
use super::validate::CustomerId;

/// How a search pages. Values are checked where they come in (`config::Setting::PageSize`,
/// `Setting::Limit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchOptions {
    /// Customers per request, 1 to 100.
    pub page_size: u64,
    /// The most customers handed out; None: all.
    pub limit: Option<u64>,
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions {
            page_size: DEFAULT_PAGE_SIZE,
            limit: None,
        }
    }
}

/// What a search did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SearchStats {
    /// Page requests made (each is one call; retries inside it are not counted here).
    pub requests: u64,
    /// Customers handed out.
    pub found: u64,
    /// The page size asked for (smaller than the caller's once the server refused it; a page
    /// that comes back shorter does not change it).
    pub page_size: u64,
    pub paging: PagingStats,
}

/// One customer of a page, as the server sent it.
#[derive(Debug, Clone, Copy)]
pub struct Found<'a> {
    pub id: CustomerId,
    /// The customer's JSON object, exactly as sent.
    pub json: &'a [u8],
}

impl Found<'_> {
    /// Every field, in order, numbers exact (see [`Response::fields`]).
    pub fn fields(&self) -> std::result::Result<Map<String, Value>, String> {
        parse_customer(self.json)
    }
}

/// Customers of one page that were not handed out before, in the server's order.
#[derive(Debug)]
pub struct FoundPage {
    response: Response,
    /// Positions in the page's `items`.
    new: Vec<usize>,
}

impl FoundPage {
    pub fn len(&self) -> usize {
        self.new.len()
    }

    pub fn is_empty(&self) -> bool {
        self.new.is_empty()
    }

    pub fn customers(&self) -> impl Iterator<Item = Found<'_>> + '_ {
        let items = &self.response.page.as_ref().expect("a page").items;
        self.new.iter().map(move |&i| {
            let item = &items[i];
            Found {
                id: CustomerId::new(item.id).expect("the body check refuses id 0"),
                json: &self.response.body[item.span.clone()],
            }
        })
    }

    pub fn ids(&self) -> impl Iterator<Item = CustomerId> + '_ {
        self.customers().map(|c| c.id)
    }

    /// The response the page came in (for errors about its body).
    pub fn response(&self) -> &Response {
        &self.response
    }
}

/// Stops a [`Pager`] from anywhere: nothing more is sent, and the page being fetched ahead is
/// dropped with its request.
#[derive(Debug, Clone)]
pub struct Stopper(Arc<watch::Sender<bool>>);

impl Stopper {
    pub fn stop(&self) {
        self.0.send_replace(true);
    }

    fn is_stopped(&self) -> bool {
        *self.0.borrow()
    }
}

/// The fetch of the next page, started when the consumer took the current one.
struct Ahead {
    request: PageRequest,
    task: JoinHandle<Result<Response>>,
}

impl Drop for Ahead {
    fn drop(&mut self) {
        // Whoever dropped it will not read it: the request goes too.
        self.task.abort();
    }
}

/// Pages of a query, each customer handed out once (see [`super::paging`]).
pub struct Pager {
    client: Client,
    query: Arc<Query>,
    observer: Option<Arc<dyn Observer>>,
    paging: Paging,
    ahead: Option<Ahead>,
    stopper: Stopper,
    requests: u64,
}

impl std::fmt::Debug for Pager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pager")
            .field("query", &self.query)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// The customers `query` matches, page by page, oldest first. Nothing is sent until
    /// [`Pager::next_page`].
    pub fn search(
        &self,
        query: Arc<Query>,
        options: SearchOptions,
        observer: Option<Arc<dyn Observer>>,
    ) -> Pager {
        Pager {
            client: self.clone(),
            query,
            observer,
            paging: Paging::new(options.page_size, options.limit),
            ahead: None,
            stopper: Stopper(Arc::new(watch::channel(false).0)),
            requests: 0,
        }
    }

    /// How many customers `query` matches: HelpCrunch's total, in one request.
    pub async fn count_customers(
        &self,
        query: &Arc<Query>,
        observer: Option<Arc<dyn Observer>>,
    ) -> Result<u64> {
        let response = self.call(Operation::page(query, 0, 1), observer).await?;
        Ok(response.page.map_or(0, |page| page.total))
    }
}

impl Pager {
    /// The next customers not handed out before; None when the scan is over (or stopped).
    /// Calling it says the consumer is done with the page before: the page after this one is
    /// fetched at once, while the consumer works on this one.
    pub async fn next_page(&mut self) -> Result<Option<FoundPage>> {
        loop {
            if self.stopper.is_stopped() {
                self.paging.stop();
                self.ahead = None;
                return Ok(None);
            }
            let mut fetch = match self.ahead.take() {
                Some(ahead) => ahead,
                None => {
                    let Some(request) = self.paging.next_request() else {
                        return Ok(None);
                    };
                    Ahead {
                        task: self.start(&request),
                        request,
                    }
                }
            };
            let request = fetch.request;
            let outcome = self.wait(&mut fetch.task).await;
            drop(fetch);
            let response = match outcome {
                Ok(response) => response,
                Err(Error::Cancelled { .. }) if self.stopper.is_stopped() => continue,
                Err(e)
                    if refuses_page_size(&e)
                        && self.paging.shrink_page_size(&request, stated_page_size(&e)) =>
                {
                    continue
                }
                Err(e) => {
                    self.paging.stop();
                    return Err(e);
                }
            };
            let page = response
                .page
                .as_ref()
                .expect("a page call's body is a page");
            let heads: Vec<Head> = page
                .items
                .iter()
                .map(|item| Head {
                    id: item.id,
                    key: item.key.clone(),
                })
                .collect();
            match self.paging.receive(&request, &heads, page.total) {
                Received::Rejected => continue,
                Received::Accepted { new } => {
                    // Planned before this page counts as handed out: the consumer has not
                    // touched it yet.
                    if let Some(next) = self.paging.next_request() {
                        let task = self.start(&next);
                        self.ahead = Some(Ahead {
                            request: next,
                            task,
                        });
                    }
                    self.paging.hand_over(new.len());
                    if new.is_empty() {
                        continue;
                    }
                    return Ok(Some(FoundPage { response, new }));
                }
            }
        }
    }

    fn start(&mut self, request: &PageRequest) -> JoinHandle<Result<Response>> {
        self.requests += 1;
        let op = Operation::page(&self.query, request.offset, request.limit);
        let client = self.client.clone();
        let observer = self.observer.clone();
        let mut stopped = self.stopper.0.subscribe();
        runtime::handle().spawn(async move {
            tokio::select! {
                outcome = client.call(op, observer) => outcome,
                _ = stopped.wait_for(|stopped| *stopped) => Err(Error::Cancelled { attempts: 0 }),
            }
        })
    }

    async fn wait(&self, task: &mut JoinHandle<Result<Response>>) -> Result<Response> {
        let mut stopped = self.stopper.0.subscribe();
        tokio::select! {
            joined = &mut *task => match joined {
                Ok(outcome) => outcome,
                Err(e) if e.is_panic() => Err(Error::Internal(format!(
                    "a page request panicked: {}",
                    runtime::panic_message(&*e.into_panic())
                ))),
                Err(_) => Err(Error::Cancelled { attempts: 0 }),
            },
            // The fetch is dropped by its owner, and its request with it.
            _ = stopped.wait_for(|stopped| *stopped) => Err(Error::Cancelled { attempts: 0 }),
        }
    }

    /// A handle that stops this pager from elsewhere (another task, a signal handler).
    pub fn stopper(&self) -> Stopper {
        self.stopper.clone()
    }

    /// Stop: nothing more is sent; the page being fetched ahead is dropped.
    pub fn stop(&mut self) {
        self.stopper.stop();
        self.paging.stop();
        self.ahead = None;
    }

    /// HelpCrunch's total on the first page (None before it came).
    pub fn total(&self) -> Option<u64> {
        self.paging.total()
    }

    pub fn stats(&self) -> SearchStats {
        SearchStats {
            requests: self.requests,
            found: self.paging.found(),
            page_size: self.paging.page_size(),
            paging: self.paging.stats(),
        }
    }
}

impl Drop for Pager {
    fn drop(&mut self) {
        self.stopper.stop();
    }
}

/// A 400 that names `limit`: the server's page size is smaller than the one asked for.
fn refuses_page_size(error: &Error) -> bool {
    matches!(error, Error::Status(e) if e.status == 400 && e.errors.iter().any(|d| d.code == "limit"))
}

/// The largest page size a refusal states ("This value should be less than or equal to 50."):
/// the last number in its `limit` message, if any.
fn stated_page_size(error: &Error) -> Option<u64> {
    let Error::Status(e) = error else { return None };
    let message = &e.errors.iter().find(|d| d.code == "limit")?.message;
    message
        .split(|c: char| !c.is_ascii_digit())
        .rfind(|word| !word.is_empty())?
        .parse()
        .ok()
}
