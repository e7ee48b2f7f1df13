//! Paging through matches that may change while the scan runs: which page to ask for next,
//! and whether a page that came back can be used. Pure logic, no I/O ([`crate::core::search`]
//! sends the requests), so every case can be played out in a unit test.
//!
//! # The problem
//!
//! HelpCrunch pages a search by `offset` over the matches sorted by `firstSeen`. Between two
//! requests the matches change: the caller untags the customers it was given (the set loses
//! them, and every later customer moves up), new customers arrive (at the end: their
//! `firstSeen` is the newest), someone tags an old customer (it appears in the middle), and a
//! server may order customers with equal `firstSeen` differently on every request. A plain
//! `offset += page_size` then skips some customers and repeats others.
//!
//! # What is tracked
//!
//! - every id handed out (`seen`): a customer is never handed out twice;
//! - the *frontier*: the largest sort key read so far. Every customer that matched at the
//!   start, still matches and has not been handed out sorts at or after it;
//! - the last page used (the *anchor*): its total, where it ended (`read_end`), how many of its
//!   last items share the last key (the *run*), and how many items the consumer had taken when
//!   it was requested.
//!
//! # Which page to ask for
//!
//! The next unread customer is estimated to sit at `read_end` minus what the set lost before
//! it since the anchor's request. That loss is predicted from the consumer's own pace: the
//! removal rate (total lost per item taken, between the last two pages, 0 to 1) times the
//! items taken since. A prefetch is planned when the consumer takes a page, before it has
//! touched that page, so the prediction covers the page it finished just before.
//!
//! - While nothing seems to change (the last two totals were equal and no loss is predicted)
//!   the page starts exactly at the estimate: a read-only scan of N matches costs
//!   `ceil(N / page_size)` requests.
//! - Otherwise the page starts one item before the anchor's run: it re-reads the run (the tie
//!   group at the frontier, usually just the last customer) and the customer before it. The
//!   consumer's first changes to the page it has just taken can reach the server before this
//!   request (nothing orders them without a rate limit); each time that shows, pages start
//!   one item earlier still (up to three).
//!
//! # When a page can be used
//!
//! A page starting at offset 0 always can. Otherwise its first item must sort strictly before
//! the frontier: everything before it sorts before it too, so no unread customer lies there
//! (it holds only customers already handed out, or ones that arrived in the middle, which did
//! not match at the start). The run at the frontier is then read whole, in whatever order the
//! server gives equal keys this time. A page planned while nothing seemed to change is used
//! when the total is unchanged and it holds nothing already read: with nothing changed, the
//! unread part of the run is exactly what follows the last page, and a reordered run shows
//! itself by bringing back something already read (then the run is re-read, and from then on
//! every page re-reads its run).
//!
//! A page that fails its check is thrown away and asked for again from earlier (an estimate
//! from its total, and at least one before it, then twice as far each time), never trusted:
//! a prefetch may have been sent before the consumer's latest changes.
//!
//! # What cannot be guaranteed
//!
//! - A change that leaves the total as it was between two pages while nothing else seemed to
//!   change (a customer handed out leaves the set while another arrives at the end) shifts
//!   the rest by one unnoticed: the total is all that tells a change without an overlap, and an
//!   overlap on every page would cost a read-only scan one request in a hundred.
//! - A run of equal sort keys longer than a page cannot be re-read whole; if the server
//!   reorders equal keys between requests, members of such a run may be missed. It is read
//!   on by position and counted in [`PagingStats::unchecked_tie_runs`].
//! - Customers that start to match during the scan are handed out if the scan reaches them
//!   (at the end, or in a page that re-reads where they appeared), not otherwise.

use std::cmp::Ordering;
use std::collections::HashSet;

/// A customer's place in the sort order: its `firstSeen`, as HelpCrunch compares it (UNIX
/// times, sent as numbers or numeric strings). A customer without one sorts first.
#[derive(Debug, Clone)]
pub enum SortKey {
    Missing,
    Number(f64),
    /// A value that is not a number, after every number.
    Text(String),
}

impl SortKey {
    /// The key for a `firstSeen` sent as text: its number when it holds one.
    pub fn from_text(text: &str) -> SortKey {
        match text.trim().parse::<f64>() {
            Ok(x) if x.is_finite() => SortKey::Number(x),
            _ => SortKey::Text(text.to_owned()),
        }
    }

    fn rank(&self) -> u8 {
        match self {
            SortKey::Missing => 0,
            SortKey::Number(_) => 1,
            SortKey::Text(_) => 2,
        }
    }
}

impl Ord for SortKey {
    fn cmp(&self, other: &SortKey) -> Ordering {
        match (self, other) {
            (SortKey::Number(a), SortKey::Number(b)) => a.total_cmp(b),
            (SortKey::Text(a), SortKey::Text(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for SortKey {
    fn partial_cmp(&self, other: &SortKey) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for SortKey {
    fn eq(&self, other: &SortKey) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for SortKey {}

/// What paging needs of each customer on a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub id: u64,
    pub key: SortKey,
}

/// One page to ask for, with what it was planned on (handed back to [`Paging::receive`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub offset: u64,
    pub limit: u64,
    /// Items handed to the consumer when this was planned.
    consumed: u64,
    /// Planned as if nothing changed: no overlap, checked by the total and by holding nothing
    /// already read.
    assume_static: bool,
    /// The run at the frontier is too long to re-read in one page: read on by position.
    long_run: bool,
    /// Planned after a page was dropped.
    retry: bool,
}

/// Whether a page was used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// The page is used: these are the positions (in the page) of the customers to hand out,
    /// in order; the others were handed out before.
    Accepted { new: Vec<usize> },
    /// The page may have skipped customers: it is dropped and asked for again from earlier.
    Rejected,
}

/// What a scan did, for reports and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PagingStats {
    /// Pages used.
    pub pages: u64,
    /// Pages dropped because they could not be shown to continue from what was read.
    pub rejected: u64,
    /// Customers read again and not handed out.
    pub duplicates: u64,
    /// Runs of equal sort keys too long to re-read whole (see the module's docs).
    pub unchecked_tie_runs: u64,
    /// Whether the server was seen to order equal sort keys differently between requests.
    pub unstable_ties: bool,
}

/// Where a scan stands. See the module's docs for the rules.
#[derive(Debug)]
pub struct Paging {
    page_size: u64,
    limit: Option<u64>,
    seen: HashSet<u64>,
    handed_out: u64,
    anchor: Option<Anchor>,
    frontier: Option<SortKey>,
    /// The last two pages' totals were equal.
    total_held: bool,
    /// The total has fallen at some point: customers leave during this scan, and a later
    /// unchanged total may hide a loss balanced by arrivals, so pages always overlap.
    total_fell: bool,
    /// Total lost per item handed out, as last measured (0 to 1).
    removal_rate: f64,
    /// The last page dropped since the anchor, and how many were dropped in a row.
    rejected: Option<Rejected>,
    rejections: u32,
    /// Extra customers re-read at the start of a page, raised each time a page planned with
    /// an overlap still came back shifted: the consumer's changes to the page it had just
    /// taken reached the server first.
    race_slack: u64,
    first_total: Option<u64>,
    long_run_key: Option<SortKey>,
    done: bool,
    stats: PagingStats,
}

#[derive(Debug)]
struct Anchor {
    /// Just past the page's last item, in the order as that page saw it.
    read_end: u64,
    total: u64,
    consumed: u64,
    /// The page's last items that share the frontier key (0 when it ended before it).
    run: u64,
}

#[derive(Debug, Clone, Copy)]
struct Rejected {
    offset: u64,
    total: u64,
    consumed: u64,
}

/// The most extra customers a page re-reads for changes racing the request.
const MAX_RACE_SLACK: u64 = 3;

/// The loss expected from `items` handed out at `rate`, rounded down: guessing low costs a
/// few re-read items, guessing high a whole page asked for again.
fn predicted(rate: f64, items: u64) -> u64 {
    (rate * items as f64).floor() as u64
}

impl Paging {
    /// `page_size` items per request (at least 1); at most `limit` customers handed out.
    pub fn new(page_size: u64, limit: Option<u64>) -> Paging {
        Paging {
            page_size: page_size.max(1),
            limit,
            seen: HashSet::new(),
            handed_out: 0,
            anchor: None,
            frontier: None,
            total_held: true,
            total_fell: false,
            removal_rate: 0.0,
            rejected: None,
            rejections: 0,
            race_slack: 0,
            first_total: None,
            long_run_key: None,
            done: limit == Some(0),
            stats: PagingStats::default(),
        }
    }

    /// The total of the first page (None before it came).
    pub fn total(&self) -> Option<u64> {
        self.first_total
    }

    /// Customers accepted for handing out so far.
    pub fn found(&self) -> u64 {
        self.seen.len() as u64
    }

    pub fn page_size(&self) -> u64 {
        self.page_size
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    pub fn stats(&self) -> PagingStats {
        self.stats
    }

    /// End the scan: no more requests.
    pub fn stop(&mut self) {
        self.done = true;
    }

    /// The consumer took `n` more customers (call it after planning the prefetch of the next
    /// page: that plan must not count the page being handed over).
    pub fn hand_over(&mut self, n: usize) {
        self.handed_out += n as u64;
    }

    /// The server refused `request`'s page size (a 400 naming `limit`): ask again with the
    /// largest it `states` it takes, when that is smaller, or else half. False when it is
    /// already 1.
    pub fn shrink_page_size(&mut self, request: &PageRequest, states: Option<u64>) -> bool {
        let size = self.page_size.min(request.limit);
        if size <= 1 {
            return false;
        }
        self.page_size = match states {
            Some(largest) if (1..size).contains(&largest) => largest,
            _ => size / 2,
        };
        true
    }

    /// The next page to ask for; None when the scan is over.
    pub fn next_request(&mut self) -> Option<PageRequest> {
        if self.done {
            return None;
        }
        let wanted = match self.limit {
            Some(limit) => limit.saturating_sub(self.found()),
            None => u64::MAX,
        };
        if wanted == 0 {
            self.done = true;
            return None;
        }
        let Some(anchor) = &self.anchor else {
            return Some(PageRequest {
                offset: 0,
                limit: self.page_size.min(wanted),
                consumed: self.handed_out,
                assume_static: false,
                long_run: false,
                retry: false,
            });
        };
        let rate = self.removal_rate;
        let mut loss = predicted(rate, self.handed_out - anchor.consumed);
        if let Some(rejected) = self.rejected {
            let observed = anchor.total.saturating_sub(rejected.total)
                + predicted(rate, self.handed_out - rejected.consumed);
            loss = loss.max(observed);
        }
        let estimate = anchor.read_end.saturating_sub(loss);
        let unstable = self.stats.unstable_ties;
        let assume_static = self.total_held
            && !self.total_fell
            && loss == 0
            && self.rejected.is_none()
            && !unstable;
        // The run and the customer before it, and more where the consumer's first changes to
        // the page just handed over have been seen to reach the server before the request.
        let overlap = anchor.run + 1 + self.race_slack;
        let (margin, long_run) = if assume_static {
            (0, false)
        } else if overlap < self.page_size {
            (overlap, false)
        } else {
            // Too long to re-read: read on from (just before) where the last page ended.
            ((1 + self.race_slack).min(self.page_size - 1), true)
        };
        let mut offset = estimate.saturating_sub(margin);
        if let Some(rejected) = self.rejected {
            // Strictly before the dropped page, and twice as far back each time after that.
            let step = if self.rejections <= 1 {
                1
            } else {
                (margin + 1).saturating_mul(1u64 << (self.rejections - 2).min(40))
            };
            offset = offset.min(rejected.offset.saturating_sub(step));
        }
        let reread = estimate.saturating_sub(offset);
        Some(PageRequest {
            offset,
            limit: self.page_size.min(wanted.saturating_add(reread)),
            consumed: self.handed_out,
            assume_static,
            long_run,
            retry: self.rejected.is_some(),
        })
    }

    /// The server's answer to `request`: the page's customers in order, and its total.
    pub fn receive(&mut self, request: &PageRequest, page: &[Head], total: u64) -> Received {
        self.first_total.get_or_insert(total);
        if self.usable(request, page, total) {
            Received::Accepted {
                new: self.accept(request, page, total),
            }
        } else {
            self.reject(request, total);
            Received::Rejected
        }
    }

    fn usable(&mut self, request: &PageRequest, page: &[Head], total: u64) -> bool {
        let Some(anchor) = &self.anchor else {
            return true;
        };
        if request.offset == 0 || total == 0 {
            // Nothing before it, or nothing at all: nothing can have been skipped.
            return true;
        }
        let Some(first) = page.first() else {
            return false;
        };
        if request.assume_static && total == anchor.total {
            if page.iter().any(|h| self.seen.contains(&h.id)) {
                // Read again past where the last page ended, with nothing changed: equal keys
                // came back in another order.
                self.stats.unstable_ties = true;
                return false;
            }
            return true;
        }
        let Some(frontier) = &self.frontier else {
            return false;
        };
        if request.long_run {
            // Inside the run: usable if it starts on a customer read before (enough when the
            // server keeps equal keys in one order).
            if first.key < *frontier || self.seen.contains(&first.id) {
                if self.long_run_key.as_ref() != Some(frontier) {
                    self.long_run_key = Some(frontier.clone());
                    self.stats.unchecked_tie_runs += 1;
                }
                return true;
            }
            return false;
        }
        first.key < *frontier
    }

    fn accept(&mut self, request: &PageRequest, page: &[Head], total: u64) -> Vec<usize> {
        let mut wanted = match self.limit {
            Some(limit) => limit.saturating_sub(self.found()),
            None => u64::MAX,
        };
        let mut new = Vec::new();
        for (i, head) in page.iter().enumerate() {
            if wanted == 0 {
                break;
            }
            if self.seen.insert(head.id) {
                new.push(i);
                wanted -= 1;
            } else {
                self.stats.duplicates += 1;
            }
        }
        self.stats.pages += 1;
        if let Some((before, consumed)) = self.anchor.as_ref().map(|a| (a.total, a.consumed)) {
            self.measure_rate(before, consumed, total, request.consumed);
            self.total_held = total == before;
        }
        let end = request.offset + page.len() as u64;
        let Some(last) = page.last() else {
            // An empty page that could be used: nothing is left.
            self.done = true;
            return new;
        };
        let run = match &self.frontier {
            // The page ended before the frontier, on customers read before: reading goes on
            // from its last item, which sorts before every unread one.
            Some(frontier) if last.key < *frontier => 0,
            _ => {
                let trailing = page.iter().rev().take_while(|h| h.key == last.key).count() as u64;
                let continues_run = trailing == page.len() as u64
                    && self.frontier.as_ref() == Some(&last.key)
                    && (request.assume_static || request.long_run);
                match &self.anchor {
                    Some(anchor) if continues_run => anchor.run + trailing,
                    _ => trailing,
                }
            }
        };
        if self.frontier.as_ref().is_none_or(|f| last.key > *f) {
            self.frontier = Some(last.key.clone());
        }
        self.anchor = Some(Anchor {
            read_end: end,
            total,
            consumed: request.consumed,
            run,
        });
        self.rejected = None;
        self.rejections = 0;
        let short = (page.len() as u64) < request.limit;
        if end >= total || self.limit.is_some_and(|l| self.found() >= l) {
            self.done = true;
        } else if short {
            // Fewer than asked for, and more to come: the server has a smaller page size of
            // its own. Use it.
            self.page_size = page.len() as u64;
        }
        new
    }

    fn reject(&mut self, request: &PageRequest, total: u64) {
        self.stats.rejected += 1;
        if !request.assume_static && !request.retry {
            self.race_slack = (self.race_slack + 1).min(MAX_RACE_SLACK);
        }
        if let Some((before, consumed)) = self.anchor.as_ref().map(|a| (a.total, a.consumed)) {
            self.measure_rate(before, consumed, total, request.consumed);
        }
        self.total_held = false;
        self.rejections += 1;
        self.rejected = Some(Rejected {
            offset: request.offset,
            total,
            consumed: request.consumed,
        });
    }

    fn measure_rate(&mut self, before: u64, consumed_before: u64, total: u64, consumed: u64) {
        let fell = total < before;
        self.total_fell |= fell;
        if consumed > consumed_before {
            let lost = before as f64 - total as f64;
            self.removal_rate = (lost / (consumed - consumed_before) as f64).clamp(0.0, 1.0);
        } else if fell {
            // Lost while the consumer took nothing new: it is changing the page it has, faster
            // than the page fetched ahead got there. Expect it to go on.
            self.removal_rate = 1.0;
        }
    }
}

#[cfg(test)]
mod tests;
