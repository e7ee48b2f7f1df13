//! Making a plan: the requests that find the customers (through the pager and the client's one
//! call loop: the same limiter, retries, errors and key hygiene as every call), in the order
//! `strategy` chooses, and the plan built from what they found. Nothing is written.

use std::sync::Arc;

use super::super::client::{Client, Observer};
use super::super::config::{Setting, DEFAULT_PAGE_SIZE};
use super::super::error::Result;
use super::super::query::{Filter, Match, Query};
use super::super::search::{Pager, SearchOptions};
use super::super::validate::{normalize_tags, Tag, TagInput, TagUse};
use super::audience::{Audience, KeyInput, MatchKind, Row};
use super::lookup::{Lookups, Refusal};
use super::plan::{build, Findings, FoundCustomer, Mode, Plan, PlanContext, PlanRequests};
use super::strategy::{choose, requests_for, worth_counting, Choice, Known, Strategy};

/// What to plan, checked.
#[derive(Debug, Clone)]
pub struct PlanRequest {
    pub tag: Tag,
    pub mode: Mode,
    pub audience: Audience,
    /// Filters per lookup to start from (halved while the server refuses them).
    pub lookup_batch: u64,
    /// Customers per page to start from (halved while the server refuses them).
    pub page_size: u64,
}

impl PlanRequest {
    /// Check the tag (and its colour, for a tag that does not exist yet), the mode, the match
    /// kind and the batch size; each audience row is checked too, and a bad one becomes a
    /// rejected row rather than an error. Nothing is sent.
    pub fn new(
        tag: &str,
        color: Option<&str>,
        mode: &str,
        kind: &str,
        keys: Vec<KeyInput>,
        lookup_batch: Option<i128>,
    ) -> Result<PlanRequest> {
        let mode = Mode::parse(mode)?;
        let kind = MatchKind::parse(kind)?;
        let lookup_batch = match lookup_batch {
            Some(n) => Setting::LookupBatch.integer(Some(n))?,
            None => super::super::config::DEFAULT_LOOKUP_BATCH,
        };
        let mut tags = normalize_tags(
            vec![TagInput {
                name: tag.to_owned(),
                color: color.map(str::to_owned),
                position: None,
            }],
            TagUse::Add,
        )?;
        Ok(PlanRequest {
            tag: tags.remove(0),
            mode,
            audience: Audience::check(kind, keys),
            lookup_batch,
            page_size: DEFAULT_PAGE_SIZE,
        })
    }
}

/// A plan in the making: what was found, and the requests it took.
struct Planner<'a> {
    client: &'a Client,
    observer: Option<Arc<dyn Observer>>,
    request: &'a PlanRequest,
    findings: Findings,
    requests: PlanRequests,
    page_size: u64,
    lookup_batch: u64,
}

impl Client {
    /// Plan making HelpCrunch's tag match the audience (see [`super`]). Sends searches only;
    /// writes nothing.
    pub async fn plan_tag(
        &self,
        request: &PlanRequest,
        observer: Option<Arc<dyn Observer>>,
    ) -> Result<Plan> {
        Planner {
            client: self,
            observer,
            request,
            findings: Findings::new(),
            requests: PlanRequests::default(),
            page_size: request.page_size,
            lookup_batch: request.lookup_batch,
        }
        .run()
        .await
    }
}

impl Planner<'_> {
    fn audience(&self) -> &Audience {
        &self.request.audience
    }

    /// Filters to send for the usable keys no customer found so far has.
    fn filters_left(&self) -> u64 {
        self.audience()
            .rows()
            .iter()
            .filter_map(|row| match row {
                Row::Usable { key, lookup } if !self.findings.settles(key) => {
                    Some(lookup.len() as u64)
                }
                _ => None,
            })
            .sum()
    }

    fn known(
        &self,
        total: Option<u64>,
        holders: Option<u64>,
        pages_read: u64,
        share: f64,
    ) -> Known {
        Known {
            mode: self.request.mode,
            page_size: self.page_size,
            batch: self.lookup_batch,
            filters_left: self.filters_left(),
            total,
            holders,
            holder_pages_read: pages_read,
            settled_share: share,
        }
    }

    async fn run(mut self) -> Result<Plan> {
        let mode = self.request.mode;
        let total = if worth_counting(self.filters_left(), self.lookup_batch) {
            self.requests.probes += 1;
            Some(
                self.client
                    .count_customers(&Arc::new(Query::everyone()), self.observer.clone())
                    .await?,
            )
        } else {
            None
        };
        let mut holders_counted = None;
        let mut reason_before = None;
        let choice = if mode == Mode::Remove || (mode == Mode::Add && total.is_none()) {
            let choice = choose(&self.known(total, None, 0, 0.0));
            if mode == Mode::Remove && choice.strategy != Strategy::Scan {
                // The guard weighs removals against every holder: one count.
                self.requests.probes += 1;
                holders_counted = Some(
                    self.client
                        .count_customers(&self.holders_query(), self.observer.clone())
                        .await?,
                );
            }
            choice
        } else {
            self.search_holders(total, &mut holders_counted, &mut reason_before)
                .await?
        };
        if choice.strategy == Strategy::Scan {
            self.scan().await?;
        } else {
            self.look_up().await?;
        }
        let mut strategy_reason = choice.reason();
        if let Some(before) = reason_before {
            strategy_reason = format!("{before}; then {strategy_reason}");
        }
        let context = PlanContext {
            tag: self.request.tag.name.clone(),
            color: self.request.tag.color.clone(),
            mode,
            strategy: choice.strategy,
            strategy_reason,
            requests: self.requests,
            lookup_batch: self.lookup_batch,
            page_size: self.page_size,
            holders_counted,
        };
        Ok(build(self.audience(), &self.findings, context))
    }

    fn holders_query(&self) -> Arc<Query> {
        let filter = Filter::new("tagsData", "=", self.request.tag.name.as_str())
            .expect("a checked tag name is a valid tag filter");
        Arc::new(Query::new(vec![filter], Match::All))
    }

    /// The holders' first page (its total is their count), the choice, and the other pages if
    /// it keeps them.
    async fn search_holders(
        &mut self,
        total: Option<u64>,
        holders_counted: &mut Option<u64>,
        reason_before: &mut Option<String>,
    ) -> Result<Choice> {
        let mut pager = self.pager(self.holders_query());
        let (read, in_audience) = self.take_page(&mut pager).await?;
        let holders = pager.total().unwrap_or(0);
        *holders_counted = Some(holders);
        let share = if read == 0 {
            0.0
        } else {
            in_audience as f64 / read as f64
        };
        let choice = choose(&self.known(total, Some(holders), 1, share));
        if choice.strategy != (Strategy::Lookups { holders: true }) {
            pager.stop();
            self.finish_pager(&pager, |r| &mut r.holder_pages);
            return Ok(choice);
        }
        while self.take_page(&mut pager).await?.0 > 0 {}
        self.finish_pager(&pager, |r| &mut r.holder_pages);
        self.findings.mark_all_holders_found();
        // The keys the holders settled are known now: weigh the rest again.
        let pages = requests_for(holders, self.page_size);
        let again = choose(&self.known(total, Some(holders), pages, 0.0));
        if again.strategy == Strategy::Scan {
            *reason_before = Some(format!(
                "searched the tag's {holders} holders, expecting them to settle more keys"
            ));
            return Ok(again);
        }
        Ok(choice)
    }

    fn pager(&self, query: Arc<Query>) -> Pager {
        self.client.search(
            query,
            SearchOptions {
                page_size: self.page_size,
                limit: None,
            },
            self.observer.clone(),
        )
    }

    /// Read one page into the findings: how many customers it had, and how many of them an
    /// audience key matches. (0, 0) at the end.
    async fn take_page(&mut self, pager: &mut Pager) -> Result<(usize, usize)> {
        let Some(page) = pager.next_page().await? else {
            return Ok((0, 0));
        };
        let kind = self.audience().kind();
        let tag = &self.request.tag.name;
        let mut in_audience = 0;
        for found in page.customers() {
            let customer = FoundCustomer::read(found.id, found.json, kind, tag);
            if customer
                .key
                .as_ref()
                .is_some_and(|k| self.request.audience.row_of(k).is_some())
            {
                in_audience += 1;
            }
            self.findings.add(customer);
        }
        Ok((page.len(), in_audience))
    }

    /// Count a finished pager's requests under `bucket`, and keep the page size it settled on.
    fn finish_pager(&mut self, pager: &Pager, bucket: fn(&mut PlanRequests) -> &mut u64) {
        let stats = pager.stats();
        *bucket(&mut self.requests) += stats.requests;
        // Requests neither used nor dropped for paging's sake: refused (a page or a batch too
        // large), or a page fetched ahead that was not needed.
        self.requests.unused += stats
            .requests
            .saturating_sub(stats.paging.pages + stats.paging.rejected);
        self.page_size = stats.page_size;
    }

    /// List the whole account, keeping the customers the plan needs.
    async fn scan(&mut self) -> Result<()> {
        let mut pager = self.pager(Arc::new(Query::everyone()));
        let kind = self.audience().kind();
        loop {
            let page = match pager.next_page().await {
                Ok(Some(page)) => page,
                Ok(None) => break,
                Err(e) => {
                    self.finish_pager(&pager, |r| &mut r.scan_pages);
                    return Err(e);
                }
            };
            for found in page.customers() {
                let customer =
                    FoundCustomer::read(found.id, found.json, kind, &self.request.tag.name);
                let wanted = customer.carries
                    || customer
                        .key
                        .as_ref()
                        .is_some_and(|k| self.request.audience.row_of(k).is_some());
                if wanted {
                    self.findings.add(customer);
                }
            }
        }
        self.finish_pager(&pager, |r| &mut r.scan_pages);
        self.findings.mark_all_holders_found();
        Ok(())
    }

    /// Look up every usable key no customer found so far has, a batch at a time.
    async fn look_up(&mut self) -> Result<()> {
        let kind = self.audience().kind();
        let mut lookups = Lookups::new(kind, self.lookup_batch);
        for row in self.audience().rows() {
            if let Row::Usable { key, lookup } = row {
                if !self.findings.settles(key) {
                    for value in lookup {
                        lookups.push(key.clone(), value.clone());
                    }
                }
            }
        }
        while let Some(batch) = lookups.next_batch() {
            let mut pager = self.pager(Arc::new(lookups.query(&batch)));
            let outcome = loop {
                match self.take_page(&mut pager).await {
                    Ok((0, _)) => break Ok(()),
                    Ok(_) => {}
                    Err(e) => break Err(e),
                }
            };
            self.finish_pager(&pager, |r| &mut r.lookups);
            let Err(error) = outcome else { continue };
            match lookups.refused(batch, &error) {
                Refusal::Halved => self.lookup_batch = lookups.batch(),
                Refusal::Keys(keys) => {
                    for (key, message) in keys {
                        self.findings.mark_refused(key, message);
                    }
                }
                Refusal::Fatal => return Err(error),
            }
        }
        Ok(())
    }
}
