//! Making a plan: the requests that find the customers (through the pager and the client's one
//! call loop: the same limiter, retries, errors and key hygiene as every call), in the order
//! `strategy` chooses, and the plan built from what they found. Nothing is written.

use std::collections::HashSet;
use std::sync::Arc;

use super::super::client::{Client, Observer};
use super::super::config::{Setting, DEFAULT_PAGE_SIZE};
use super::super::error::Result;
use super::super::query::{Filter, Match, Query};
use super::super::search::{Pager, SearchOptions};
use super::super::validate::{normalize_tags, Tag, TagInput, TagUse};
use super::super::words;
use super::audience::{Audience, Key, KeyInput, MatchKind, Row};
use super::lookup::{Lookups, Refusal};
use super::mode::Mode;
use super::plan::{build, Findings, FoundCustomer, Plan, PlanContext, PlanRequests};
use super::progress::PlanProgress;
use super::strategy::{choose, requests_for, worth_counting, Choice, Holders, Known, Strategy};

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

/// One managed tag and its audience, as the planner reads them.
#[derive(Clone, Copy)]
pub(super) struct Managed<'a> {
    pub tag: &'a Tag,
    pub audience: &'a Audience,
}

/// A plan in the making: what was found, and the requests it took. It plans several managed
/// tags at once (a one-tag plan is the case of one): each distinct key is looked up once for
/// all of them, each tag's holders are read once, or the account is scanned once.
struct Planner<'a> {
    client: &'a Client,
    observer: Option<Arc<dyn Observer>>,
    /// Where the planner says how far it has got (see [`PlanProgress`]).
    progress: Arc<PlanProgress>,
    mode: Mode,
    kind: MatchKind,
    managed: Vec<Managed<'a>>,
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
        self.plan_tag_showing(request, observer, Arc::new(PlanProgress::new()))
            .await
    }

    /// [`Client::plan_tag`], saying in `progress` how far it has got as it goes.
    pub async fn plan_tag_showing(
        &self,
        request: &PlanRequest,
        observer: Option<Arc<dyn Observer>>,
        progress: Arc<PlanProgress>,
    ) -> Result<Plan> {
        let managed = vec![Managed {
            tag: &request.tag,
            audience: &request.audience,
        }];
        let settings = (request.mode, request.lookup_batch, request.page_size);
        let mut plans = self
            .plan_managed(managed, settings, observer, progress)
            .await?;
        Ok(plans.remove(0))
    }

    /// One plan per managed tag, made together (see [`Planner`]); `settings`: the mode, the
    /// filters per lookup and the customers per page to start from; `progress`: where it says
    /// how far it has got.
    pub(super) async fn plan_managed(
        &self,
        managed: Vec<Managed<'_>>,
        (mode, lookup_batch, page_size): (Mode, u64, u64),
        observer: Option<Arc<dyn Observer>>,
        progress: Arc<PlanProgress>,
    ) -> Result<Vec<Plan>> {
        let kind = managed
            .first()
            .map_or(MatchKind::Email, |m| m.audience.kind());
        Planner {
            client: self,
            observer,
            progress,
            mode,
            kind,
            managed,
            findings: Findings::new(),
            requests: PlanRequests::default(),
            page_size,
            lookup_batch,
        }
        .run()
        .await
    }
}

/// What a request was for: the plan's counter it goes under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Probe,
    HolderPages,
    Lookups,
    ScanPages,
}

/// A search the plan reads page by page, its requests counted under `purpose` once finished.
struct Searching {
    pager: Pager,
    purpose: Purpose,
    /// Customers read so far (for the progress of a scan).
    seen: u64,
    /// Its requests already counted in the plan's progress.
    reported: u64,
}

/// Which customers of a page the findings keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keep {
    /// Every one (holders, or customers a lookup asked for).
    All,
    /// Audience members and holders only (a scan sees everyone else too).
    Needed,
}

/// One page read: its customers, and how many of them an audience key matches.
#[derive(Debug, Clone, Copy)]
struct PageRead {
    customers: usize,
    in_audience: usize,
}

/// The strategy chosen before the keys are searched, and what the plan needs of how.
struct Decision {
    choice: Choice,
    /// Each tag's holders count when not every holder is found (a count, or the holders
    /// search's total).
    holders_counted: Vec<Option<u64>>,
    /// What was done before the choice was made again, in words.
    reason_before: Option<String>,
}

impl Planner<'_> {
    async fn run(mut self) -> Result<Vec<Plan>> {
        // A first guess, revised at each choice: a count, the holders, the lookups.
        let probe = u64::from(worth_counting(self.filters_left(), self.lookup_batch));
        let tags = self.managed.len() as u64;
        self.progress
            .expect(probe + tags + requests_for(self.filters_left(), self.lookup_batch));
        // Probe: the account's size, when a scan could repay counting it.
        let total = self.count_account().await?;
        // Holders: searched first when they can settle keys for fewer requests than the
        // lookups they save; the choice is made on what they show.
        let decision = if self.holders_first(total) {
            self.search_holders(total).await?
        } else {
            self.choose_without_holders(total).await?
        };
        // The keys the holders did not settle: looked up, or the whole account scanned.
        self.progress.expect(match decision.choice.strategy {
            Strategy::Scan => decision.choice.scan_cost.unwrap_or(1),
            Strategy::Lookups { .. } => requests_for(self.filters_left(), self.lookup_batch),
        });
        match decision.choice.strategy {
            Strategy::Scan => self.scan().await?,
            Strategy::Lookups { .. } => self.look_up().await?,
        }
        Ok(self.into_plans(decision))
    }

    /// Each distinct usable key of every audience, once, with the values to search for.
    fn keys(&self) -> impl Iterator<Item = (&Key, &Vec<String>)> {
        let mut seen = HashSet::new();
        self.managed
            .iter()
            .flat_map(|m| m.audience.rows())
            .filter_map(move |row| match row {
                Row::Usable { key, lookup } if seen.insert(key) => Some((key, lookup)),
                _ => None,
            })
    }

    /// Whether `key` is in some managed tag's audience.
    fn is_member(&self, key: &Key) -> bool {
        self.managed
            .iter()
            .any(|m| m.audience.row_of(key).is_some())
    }

    /// Filters to send for the usable keys no customer found so far has.
    fn filters_left(&self) -> u64 {
        self.keys()
            .filter(|(key, _)| !self.findings.settles(key))
            .map(|(_, lookup)| lookup.len() as u64)
            .sum()
    }

    /// What is known now, the holders not searched yet; the holders search adds what it
    /// learns by name.
    fn known(&self, total: Option<u64>) -> Known {
        Known {
            mode: self.mode,
            page_size: self.page_size,
            batch: self.lookup_batch,
            filters_left: self.filters_left(),
            total,
            holders: None,
        }
    }

    /// The account's customers, counted only when the lookups could cost two requests or more
    /// (see [`worth_counting`]).
    async fn count_account(&mut self) -> Result<Option<u64>> {
        if !worth_counting(self.filters_left(), self.lookup_batch) {
            return Ok(None);
        }
        self.count(Arc::new(Query::everyone())).await.map(Some)
    }

    /// Whether the holders are searched before choosing: always to mirror (every holder outside
    /// the audience loses the tag), never to remove (only members lose it), and to add only
    /// when the account was counted (else the lookups take one request at most, which no
    /// holders page can save).
    fn holders_first(&self, total: Option<u64>) -> bool {
        match self.mode {
            Mode::Mirror => true,
            Mode::Add => total.is_some(),
            Mode::Remove => false,
        }
    }

    /// The choice on the counts alone, and (without a scan) each tag's holders counted: the
    /// guard weighs removals against every holder, and a plan says how many carry its tag
    /// (none: a new tag, or a typo).
    async fn choose_without_holders(&mut self, total: Option<u64>) -> Result<Decision> {
        let choice = choose(&self.known(total));
        let mut holders_counted = vec![None; self.managed.len()];
        // Not mirror (whose holders are searched); not before a scan (which finds them all).
        let counting = choice.strategy != Strategy::Scan;
        self.progress.expect(
            if counting {
                self.managed.len() as u64
            } else {
                0
            } + match choice.strategy {
                Strategy::Scan => choice.scan_cost.unwrap_or(1),
                Strategy::Lookups { .. } => choice.lookup_cost,
            },
        );
        if counting {
            for (t, counted) in holders_counted.iter_mut().enumerate() {
                *counted = Some(self.count(self.holders_query(t)).await?);
            }
        }
        Ok(Decision {
            choice,
            holders_counted,
            reason_before: None,
        })
    }

    /// Each tag's first holders page (its total is the tag's count), the choice, and the other
    /// pages if it keeps them; once they are all read, the choice is weighed again.
    async fn search_holders(&mut self, total: Option<u64>) -> Result<Decision> {
        let mut searches = Vec::with_capacity(self.managed.len());
        let mut outlook = Holders::default();
        let mut counted = Vec::with_capacity(self.managed.len());
        for t in 0..self.managed.len() {
            let mut search = self.search(self.holders_query(t), Purpose::HolderPages);
            let first = match self.take_page(&mut search, Keep::All).await {
                Ok(first) => first,
                Err(e) => {
                    self.finish_all(searches.into_iter().chain([search]));
                    return Err(e);
                }
            };
            let holders = search.pager.total().unwrap_or(0);
            let settled_share = if first.customers == 0 {
                0.0
            } else {
                first.in_audience as f64 / first.customers as f64
            };
            outlook = outlook.plus(Holders::of_tag(holders, 1, settled_share, self.page_size));
            counted.push(holders);
            searches.push(search);
        }
        let choice = choose(&Known {
            holders: Some(outlook),
            ..self.known(total)
        });
        self.progress.expect(match choice.strategy {
            Strategy::Scan => choice.scan_cost.unwrap_or(1),
            Strategy::Lookups { .. } => choice.lookup_cost,
        });
        let mut decision = Decision {
            choice,
            holders_counted: counted.iter().copied().map(Some).collect(),
            reason_before: None,
        };
        if choice.strategy != (Strategy::Lookups { holders: true }) {
            for search in &mut searches {
                search.pager.stop();
            }
            self.finish_all(searches);
            return Ok(decision);
        }
        let mut read = Ok(());
        for search in &mut searches {
            if read.is_ok() {
                read = self.read_all(search, Keep::All).await;
            } else {
                search.pager.stop();
            }
        }
        self.finish_all(searches);
        read?;
        self.findings.mark_all_holders_found();
        // The keys the holders settled are known now: weigh the rest again.
        let again = choose(&Known {
            holders: Some(Holders::READ),
            ..self.known(total)
        });
        if again.strategy == Strategy::Scan {
            decision.choice = again;
            let holders: u64 = counted.iter().sum();
            let holders = words::counted(holders, "holder");
            decision.reason_before = Some(if self.managed.len() == 1 {
                format!("searched the tag's {holders}, expecting them to settle more keys")
            } else {
                format!(
                    "searched the {} tags' {holders}, expecting them to settle more keys",
                    self.managed.len()
                )
            });
        }
        Ok(decision)
    }

    /// List the whole account, keeping the customers the plan needs.
    async fn scan(&mut self) -> Result<()> {
        let mut search = self.search(Arc::new(Query::everyone()), Purpose::ScanPages);
        let read = self.read_all(&mut search, Keep::Needed).await;
        self.finish(search);
        read?;
        self.findings.mark_all_holders_found();
        Ok(())
    }

    /// Look up every usable key no customer found so far has, a batch at a time: a key in
    /// several audiences once.
    async fn look_up(&mut self) -> Result<()> {
        let mut lookups = Lookups::new(self.kind, self.lookup_batch);
        for (key, lookup) in self.keys() {
            if !self.findings.settles(key) {
                for value in lookup {
                    lookups.push(key.clone(), value.clone());
                }
            }
        }
        loop {
            // Revised each time: a halved batch means more requests.
            self.progress
                .expect(requests_for(lookups.len() as u64, lookups.batch()));
            let Some(batch) = lookups.next_batch() else {
                break;
            };
            let mut search = self.search(Arc::new(lookups.query(&batch)), Purpose::Lookups);
            let read = self.read_all(&mut search, Keep::All).await;
            self.finish(search);
            let Err(error) = read else { continue };
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

    /// One plan per managed tag, from what was found and the decision that found it; each
    /// carries the requests and the strategy of the whole.
    fn into_plans(self, decision: Decision) -> Vec<Plan> {
        let Decision {
            choice,
            holders_counted,
            reason_before,
        } = decision;
        let reason = choice.reason_for(self.managed.len());
        let strategy_reason = match reason_before {
            Some(before) => format!("{before}; then {reason}"),
            None => reason,
        };
        self.managed
            .iter()
            .zip(holders_counted)
            .enumerate()
            .map(|(index, (managed, holders_counted))| {
                let context = PlanContext {
                    tag: managed.tag.name.clone(),
                    index,
                    color: managed.tag.color.clone(),
                    mode: self.mode,
                    strategy: choice.strategy,
                    strategy_reason: strategy_reason.clone(),
                    requests: self.requests,
                    lookup_batch: self.lookup_batch,
                    page_size: self.page_size,
                    holders_counted,
                };
                build(managed.audience, &self.findings, context)
            })
            .collect()
    }

    fn holders_query(&self, tag: usize) -> Arc<Query> {
        let filter = Filter::new("tagsData", "=", self.managed[tag].tag.name.as_str())
            .expect("a checked tag name is a valid tag filter");
        Arc::new(Query::new(vec![filter], Match::All))
    }

    // --- the requests: every one is sent and counted below ------------------------------

    /// One count of the customers `query` matches: a probe.
    async fn count(&mut self, query: Arc<Query>) -> Result<u64> {
        self.tally(Purpose::Probe, 1, 0);
        let counted = self
            .client
            .count_customers(&query, self.observer.clone())
            .await;
        self.progress.add(1);
        counted
    }

    /// A search of `query` at the page size in force; nothing is sent until a page is taken.
    fn search(&self, query: Arc<Query>, purpose: Purpose) -> Searching {
        let pager = self.client.search(
            query,
            SearchOptions {
                page_size: self.page_size,
                limit: None,
            },
            self.observer.clone(),
        );
        Searching {
            pager,
            purpose,
            seen: 0,
            reported: 0,
        }
    }

    /// Read one page into the findings (those `keep` says); no customers at the end.
    async fn take_page(&mut self, search: &mut Searching, keep: Keep) -> Result<PageRead> {
        let next = search.pager.next_page().await;
        self.report_sent(search);
        let Some(page) = next? else {
            return Ok(PageRead {
                customers: 0,
                in_audience: 0,
            });
        };
        if search.purpose == Purpose::ScanPages {
            // The scan is the last phase: its pages left are what is left.
            search.seen += page.len() as u64;
            if let Some(total) = search.pager.total() {
                let left = total.saturating_sub(search.seen);
                self.progress.expect(requests_for(left, self.page_size));
            }
        }
        let tags: Vec<&str> = self.managed.iter().map(|m| m.tag.name.as_str()).collect();
        let mut in_audience = 0;
        for found in page.customers() {
            let customer = FoundCustomer::read(found.id, found.json, self.kind, &tags);
            let member = customer.key.as_ref().is_some_and(|k| self.is_member(k));
            if member {
                in_audience += 1;
            }
            if keep == Keep::All || member || customer.carries_any() {
                self.findings.add(customer);
            }
        }
        Ok(PageRead {
            customers: page.len(),
            in_audience,
        })
    }

    /// Read every page left.
    async fn read_all(&mut self, search: &mut Searching, keep: Keep) -> Result<()> {
        while self.take_page(search, keep).await?.customers > 0 {}
        Ok(())
    }

    /// Count a search's requests (finished, failed or stopped), and keep the page size it
    /// settled on.
    fn finish(&mut self, mut search: Searching) {
        self.report_sent(&mut search);
        let stats = search.pager.stats();
        // Requests neither used nor dropped for paging's sake: refused (a page or a batch too
        // large), or a page fetched ahead that was not needed.
        let unused = stats
            .requests
            .saturating_sub(stats.paging.pages + stats.paging.rejected);
        self.tally(search.purpose, stats.requests, unused);
        self.page_size = stats.page_size;
    }

    /// [`Planner::finish`] for several searches.
    fn finish_all(&mut self, searches: impl IntoIterator<Item = Searching>) {
        for search in searches {
            self.finish(search);
        }
    }

    /// A search's requests sent since last said, added to the plan's progress.
    fn report_sent(&self, search: &mut Searching) {
        let sent = search.pager.stats().requests;
        self.progress.add(sent.saturating_sub(search.reported));
        search.reported = sent;
    }

    /// The one place the plan's request counters move.
    fn tally(&mut self, purpose: Purpose, requests: u64, unused: u64) {
        let r = &mut self.requests;
        let counter = match purpose {
            Purpose::Probe => &mut r.probes,
            Purpose::HolderPages => &mut r.holder_pages,
            Purpose::Lookups => &mut r.lookups,
            Purpose::ScanPages => &mut r.scan_pages,
        };
        *counter += requests;
        r.unused += unused;
    }
}
