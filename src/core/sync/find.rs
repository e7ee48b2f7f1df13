//! Keys to customers, for any plan that needs only the customers its keys name (a customer
//! sync, undo reading current values by id): the account counted when a scan could pay, then
//! the keys looked up several per search (the batch halved when refused, see `lookup`) or the
//! whole account scanned, whichever costs fewer requests (`strategy::choose`). A tag plan's own
//! planner adds the tag's holders to the same steps.

use std::collections::HashMap;
use std::sync::Arc;

use super::super::client::{Client, Observer};
use super::super::error::Result;
use super::super::query::Query;
use super::super::search::{Pager, SearchOptions};
use super::super::validate::CustomerId;
use super::audience::{customer_key, Audience, Key, Reason, Row};
use super::lookup::{Lookups, Refusal};
use super::mode::Mode;
use super::plan::PlanRequests;
use super::strategy::{choose, worth_counting, Known, Strategy};

/// One customer found, its JSON as the server sent it.
#[derive(Debug, Clone)]
pub struct Found {
    pub id: CustomerId,
    pub json: Vec<u8>,
}

/// What the searches found for an audience's keys.
#[derive(Debug, Default)]
pub struct Findings {
    pub customers: HashMap<CustomerId, Found>,
    by_key: HashMap<Key, Vec<CustomerId>>,
    refused: HashMap<Key, String>,
    pub requests: PlanRequests,
    /// Customers read (every one a scan listed, or each one a lookup returned).
    pub read: u64,
    /// The account's customers, when counted.
    pub total: Option<u64>,
}

/// How the customers were found, and at what sizes in the end.
#[derive(Debug, Clone)]
pub struct FindReport {
    pub strategy: Strategy,
    pub strategy_reason: String,
    pub lookup_batch: u64,
    pub page_size: u64,
}

impl Findings {
    /// The customer a usable row's key names, or why none is taken: unknown, shared by
    /// several, refused by HelpCrunch.
    pub fn resolve(&self, audience: &Audience, key: &Key) -> std::result::Result<&Found, Reason> {
        let kind = audience.kind();
        if let Some(message) = self.refused.get(key) {
            return Err(Reason::Refused(message.clone()));
        }
        match self.by_key.get(key).map(Vec::as_slice).unwrap_or(&[]) {
            [] => Err(Reason::Unknown(kind)),
            [id] => Ok(&self.customers[id]),
            many => {
                let mut customers = many.to_vec();
                customers.sort();
                Err(Reason::Shared { kind, customers })
            }
        }
    }

    fn add(&mut self, audience: &Audience, id: CustomerId, json: &[u8]) {
        self.read += 1;
        let value = match audience.kind() {
            super::audience::MatchKind::Id => None,
            kind => serde_json::from_slice::<serde_json::Value>(json)
                .ok()
                .and_then(|v| v.get(kind.field())?.as_str().map(str::to_owned)),
        };
        let Some(key) = customer_key(audience.kind(), id, value.as_deref()) else {
            return;
        };
        if audience.row_of(&key).is_none() || self.customers.contains_key(&id) {
            return;
        }
        self.by_key.entry(key).or_default().push(id);
        self.customers.insert(
            id,
            Found {
                id,
                json: json.to_vec(),
            },
        );
    }
}

impl Client {
    /// Find the customers `audience`'s usable keys name, with the fewest requests (module
    /// docs). Reads only.
    pub async fn find_customers(
        &self,
        audience: &Audience,
        lookup_batch: u64,
        page_size: u64,
        observer: Option<Arc<dyn Observer>>,
    ) -> Result<(Findings, FindReport)> {
        let mut findings = Findings::default();
        let filters: u64 = audience
            .rows()
            .iter()
            .map(|row| match row {
                Row::Usable { lookup, .. } => lookup.len() as u64,
                Row::Rejected(_) => 0,
            })
            .sum();
        let mut report = FindReport {
            strategy: Strategy::Lookups { holders: false },
            strategy_reason: "no key to look up".into(),
            lookup_batch,
            page_size,
        };
        if filters == 0 {
            return Ok((findings, report));
        }
        if worth_counting(filters, lookup_batch) {
            findings.requests.probes += 1;
            findings.total = Some(
                self.count_customers(&Arc::new(Query::everyone()), observer.clone())
                    .await?,
            );
        }
        let choice = choose(&Known {
            mode: Mode::Add,
            page_size,
            batch: lookup_batch,
            filters_left: filters,
            total: findings.total,
            holders: None,
        });
        report.strategy = choice.strategy;
        report.strategy_reason = choice.reason();
        let mut finder = Finder {
            client: self,
            observer,
            audience,
            findings,
            report,
        };
        match choice.strategy {
            Strategy::Scan => finder.scan().await?,
            Strategy::Lookups { .. } => finder.look_up().await?,
        }
        Ok((finder.findings, finder.report))
    }
}

struct Finder<'a> {
    client: &'a Client,
    observer: Option<Arc<dyn Observer>>,
    audience: &'a Audience,
    findings: Findings,
    report: FindReport,
}

impl Finder<'_> {
    fn search(&self, query: Query) -> Pager {
        self.client.search(
            Arc::new(query),
            SearchOptions {
                page_size: self.report.page_size,
                limit: None,
            },
            self.observer.clone(),
        )
    }

    /// Every page of `pager` into the findings; its requests counted (`scan`: as scan pages).
    async fn read_all(&mut self, mut pager: Pager, scan: bool) -> Result<()> {
        let read = async {
            while let Some(page) = pager.next_page().await? {
                if page.is_empty() {
                    break;
                }
                for found in page.customers() {
                    self.findings.add(self.audience, found.id, found.json);
                }
            }
            Ok(())
        }
        .await;
        let stats = pager.stats();
        let r = &mut self.findings.requests;
        if scan {
            r.scan_pages += stats.requests;
        } else {
            r.lookups += stats.requests;
        }
        r.unused += stats
            .requests
            .saturating_sub(stats.paging.pages + stats.paging.rejected);
        self.report.page_size = stats.page_size;
        read
    }

    async fn scan(&mut self) -> Result<()> {
        let pager = self.search(Query::everyone());
        self.read_all(pager, true).await
    }

    async fn look_up(&mut self) -> Result<()> {
        let mut lookups = Lookups::new(self.audience.kind(), self.report.lookup_batch);
        for row in self.audience.rows() {
            if let Row::Usable { key, lookup } = row {
                for value in lookup {
                    lookups.push(key.clone(), value.clone());
                }
            }
        }
        while let Some(batch) = lookups.next_batch() {
            let pager = self.search(lookups.query(&batch));
            let Err(error) = self.read_all(pager, false).await else {
                continue;
            };
            match lookups.refused(batch, &error) {
                Refusal::Halved => self.report.lookup_batch = lookups.batch(),
                Refusal::Keys(keys) => {
                    for (key, message) in keys {
                        self.findings.refused.insert(key, message);
                    }
                }
                Refusal::Fatal => return Err(error),
            }
        }
        Ok(())
    }
}
