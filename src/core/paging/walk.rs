//! The page walk: which page to ask for next and whether a page that came back can be used,
//! by the rules in the module's docs ([`super`]).

use std::collections::HashSet;

use super::track::{Anchor, Change, Progress, Rejected};
use super::{Head, PageRequest, PagingStats, Received, SortKey, MAX_RACE_SLACK};

/// Where a scan stands. See the module's docs for the rules.
#[derive(Debug)]
pub struct Paging {
    /// The size asked for: the caller's, or smaller once the server refused it.
    page_size: u64,
    limit: Option<u64>,
    seen: HashSet<u64>,
    handed_out: u64,
    anchor: Option<Anchor>,
    frontier: Option<SortKey>,
    change: Change,
    /// The last page dropped since the anchor, and how many were dropped in a row.
    rejected: Option<Rejected>,
    rejections: u32,
    /// Extra customers re-read at the start of a page, raised each time a page planned with
    /// an overlap still came back shifted: the consumer's changes to the page it had just
    /// taken reached the server first.
    race_slack: u64,
    progress: Progress,
    first_total: Option<u64>,
    long_run_key: Option<SortKey>,
    done: bool,
    stats: PagingStats,
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
            change: Change::new(),
            rejected: None,
            rejections: 0,
            race_slack: 0,
            progress: Progress::default(),
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

    /// The page size asked for: the caller's, or the smaller one the server said it takes.
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

    /// Customers still wanted before the limit.
    fn wanted(&self) -> u64 {
        match self.limit {
            Some(limit) => limit.saturating_sub(self.found()),
            None => u64::MAX,
        }
    }

    /// The next page to ask for; None when the scan is over.
    pub fn next_request(&mut self) -> Option<PageRequest> {
        if self.done {
            return None;
        }
        let wanted = self.wanted();
        if wanted == 0 {
            self.done = true;
            return None;
        }
        if self.progress.stalled() {
            // The total promised more than the server will serve (see the module's docs).
            self.done = true;
            self.stats.total_disagrees = true;
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
        let size = self.progress.size(self.page_size);
        let mut loss = self.change.predicted(self.handed_out - anchor.consumed);
        if let Some(rejected) = self.rejected {
            let observed = anchor.total.saturating_sub(rejected.total)
                + self.change.predicted(self.handed_out - rejected.consumed);
            loss = loss.max(observed);
        }
        let estimate = anchor.read_end.saturating_sub(loss);
        let assume_static = self.change.held
            && !self.change.fell
            && loss == 0
            && self.rejected.is_none()
            && !self.stats.unstable_ties;
        // The run and the customer before it, and more where the consumer's first changes to
        // the page just handed over have been seen to reach the server before the request.
        let overlap = anchor.run + 1 + self.race_slack;
        let (margin, long_run) = if assume_static {
            (0, false)
        } else if overlap < size {
            (overlap, false)
        } else {
            // Too long to re-read: read on from (just before) where the last page ended.
            ((1 + self.race_slack).min(size - 1), true)
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
            self.reject(request, page.is_empty(), total);
            Received::Rejected
        }
    }

    fn usable(&mut self, request: &PageRequest, page: &[Head], total: u64) -> bool {
        if page.is_empty() && total > 0 && (request.offset == 0 || self.anchor.is_none()) {
            // Nothing at the start, where the total says there is more: asked for once more
            // before it is believed.
            return self.progress.emptied().is_some();
        }
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
        let Some(frontier) = &self.frontier else {
            return false;
        };
        if request.assume_static && total == anchor.total {
            let mut again = page.iter().filter(|h| self.seen.contains(&h.id)).peekable();
            if again.peek().is_none() {
                return true;
            }
            // Read again past where the last page ended, with nothing changed: at the frontier,
            // equal keys came back in another order (from now on every page re-reads its run);
            // before it, the server repeated itself. Asked for again from earlier either way.
            if again.any(|h| h.key == *frontier) {
                self.stats.unstable_ties = true;
            }
            return false;
        }
        if request.long_run {
            // Inside the run: usable if it starts on a customer read before (enough when the
            // server keeps equal keys in one order), or if a page holds one customer and so
            // cannot start on one.
            let single = self.progress.size(self.page_size) <= 1;
            if single || first.key < *frontier || self.seen.contains(&first.id) {
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
        let mut wanted = self.wanted();
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
        if let Some(anchor) = &self.anchor {
            let unmoved = !request.assume_static
                && page
                    .iter()
                    .position(|h| h.id == anchor.last)
                    .is_some_and(|i| request.offset + i as u64 + 1 == anchor.read_end);
            let (before, consumed) = (anchor.total, anchor.consumed);
            self.change
                .measure(before, consumed, total, request.consumed);
            self.change.held = total == before;
            self.change.verified(unmoved);
        }
        let len = page.len() as u64;
        let end = request.offset + len;
        let short = len < request.limit;
        let limit_reached = self.limit.is_some_and(|l| self.found() >= l);
        // The server served past its own total: a full page beyond it says more may follow.
        let past_total = end > total && !short;
        if end > total {
            self.stats.total_disagrees = true;
        }
        let reached_total = end >= total && !past_total;
        // Nothing new, just after an empty page, and shorter than asked or reaching it:
        // nothing lies past what was read.
        let ran_out = page.is_empty()
            || (new.is_empty()
                && self
                    .progress
                    .emptied()
                    .is_some_and(|empty| short || end >= empty));
        let more = !(limit_reached || reached_total || ran_out);
        self.progress
            .used(page, new.len(), (more && short).then_some(len));
        if !more {
            self.done = true;
            if !limit_reached && end < total {
                self.stats.total_disagrees = true;
            }
        }
        let Some(last) = page.last() else {
            return new;
        };
        let run = match &self.frontier {
            // The page ended before the frontier, on customers read before: reading goes on
            // from its last item, which sorts before every unread one.
            Some(frontier) if last.key < *frontier => 0,
            _ => {
                let trailing = page.iter().rev().take_while(|h| h.key == last.key).count() as u64;
                let continues_run = trailing == len
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
            last: last.id,
        });
        self.rejected = None;
        self.rejections = 0;
        new
    }

    fn reject(&mut self, request: &PageRequest, empty: bool, total: u64) {
        self.stats.rejected += 1;
        self.progress.dropped(empty.then_some(request.offset));
        if !request.assume_static && !request.retry {
            self.race_slack = (self.race_slack + 1).min(MAX_RACE_SLACK);
        }
        if let Some((before, consumed)) = self.anchor.as_ref().map(|a| (a.total, a.consumed)) {
            self.change
                .measure(before, consumed, total, request.consumed);
        }
        self.change.held = false;
        self.rejections += 1;
        self.rejected = Some(Rejected {
            offset: request.offset,
            total,
            consumed: request.consumed,
        });
    }
}
