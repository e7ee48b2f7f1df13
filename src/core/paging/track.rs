//! What the page walk keeps between pages: the last page used and the last one dropped, how
//! the set's total moves, and whether the server still serves anything new.

use std::collections::HashSet;

use super::{Head, MAX_DROPPED_PAGES, MAX_STALE_PAGES};

/// The last page used.
#[derive(Debug)]
pub(super) struct Anchor {
    /// Just past the page's last item, in the order as that page saw it.
    pub read_end: u64,
    pub total: u64,
    pub consumed: u64,
    /// The page's last items that share the frontier key (0 when it ended before it).
    pub run: u64,
    pub last: u64,
}

/// The last page dropped since the anchor.
#[derive(Debug, Clone, Copy)]
pub(super) struct Rejected {
    pub offset: u64,
    pub total: u64,
    pub consumed: u64,
}

/// How the total moved between pages, and what that says of the set's losses.
#[derive(Debug)]
pub(super) struct Change {
    /// The last two pages' totals were equal.
    pub held: bool,
    /// The total has fallen at some point: customers leave during this scan, and a later
    /// unchanged total may hide a loss balanced by arrivals, so pages always overlap.
    pub fell: bool,
    /// Total lost per item handed out, as last measured (0 to 1).
    rate: f64,
    /// Pages in a row that showed nothing moved under an unchanged total.
    calm: u32,
}

/// See [`Change::verified`].
const CALM_PAGES: u32 = 2;

impl Change {
    pub fn new() -> Change {
        Change {
            held: true,
            fell: false,
            rate: 0.0,
            calm: 0,
        }
    }

    /// The loss expected from `items` handed out, rounded down: guessing low costs a few
    /// re-read items, guessing high a whole page asked for again.
    pub fn predicted(&self, items: u64) -> u64 {
        (self.rate * items as f64).floor() as u64
    }

    /// Whether a page re-read the last page's end exactly where it was (nothing before it
    /// left). After [`CALM_PAGES`] such pages in a row under an unchanged total, a fall seen
    /// before is taken for a recount (HelpCrunch counts while customers come and go), not a
    /// loss that goes on: pages stop overlapping. A consumer that removes what it is handed
    /// moves the end on every page or changes the total, and never gets there.
    pub fn verified(&mut self, unmoved: bool) {
        if unmoved && self.held {
            self.calm += 1;
        } else {
            self.calm = 0;
        }
        if self.calm >= CALM_PAGES {
            self.fell = false;
            self.rate = 0.0;
        }
    }

    /// A page came back with `total`, planned when `consumed` items were handed out, after one
    /// with `before` planned at `consumed_before`.
    pub fn measure(&mut self, before: u64, consumed_before: u64, total: u64, consumed: u64) {
        let fell = total < before;
        self.fell |= fell;
        if consumed > consumed_before {
            let lost = before as f64 - total as f64;
            self.rate = (lost / (consumed - consumed_before) as f64).clamp(0.0, 1.0);
        } else if fell {
            // Lost while the consumer took nothing new: it is changing the page it has, faster
            // than the page fetched ahead got there. Expect it to go on.
            self.rate = 1.0;
        }
    }
}

/// Whether the server still serves anything new, and how long its pages are.
#[derive(Debug, Default)]
pub(super) struct Progress {
    /// Pages dropped in a row.
    dropped: u32,
    /// Pages used in a row that held nothing new and nothing not already re-read since the
    /// last customer handed out: the server is answering the same customers again.
    stale: u32,
    /// Customers re-read since the last one handed out.
    reread: HashSet<u64>,
    /// Where a page past the start came back empty since the last customer handed out.
    emptied: Option<u64>,
    /// The last page used was shorter than asked, with more to come: its length.
    short: Option<u64>,
}

impl Progress {
    /// A page was used, with `new` customers not handed out before; `short`: its length, when
    /// it was shorter than asked and more should follow.
    pub fn used(&mut self, page: &[Head], new: usize, short: Option<u64>) {
        self.dropped = 0;
        self.short = short;
        if new > 0 {
            self.stale = 0;
            self.reread.clear();
            self.emptied = None;
            return;
        }
        // Every customer on it was handed out before; walking over them is progress only
        // while some of them were not re-read yet.
        let mut fresh = false;
        for head in page {
            fresh |= self.reread.insert(head.id);
        }
        if !fresh {
            self.stale += 1;
        }
    }

    /// A page was dropped; `empty_at`: its offset, if it held nothing.
    pub fn dropped(&mut self, empty_at: Option<u64>) {
        self.dropped += 1;
        if empty_at.is_some() {
            self.emptied = empty_at;
        }
    }

    /// The server is not getting anywhere: too many pages dropped in a row, or too many
    /// answered with nothing new to read (see the module's docs).
    pub fn stalled(&self) -> bool {
        self.dropped >= MAX_DROPPED_PAGES || self.stale >= MAX_STALE_PAGES
    }

    /// Where a page past the start came back empty since the last customer handed out.
    pub fn emptied(&self) -> Option<u64> {
        self.emptied
    }

    /// The size the walk plans with: `asked`, or the server's own when its last page was
    /// shorter with more to follow (so that a run of ties is judged against what one page
    /// really holds). Only for planning: every request asks for `asked` again, so one short
    /// answer does not shrink the rest of the scan.
    pub fn size(&self, asked: u64) -> u64 {
        self.short.map_or(asked, |served| served.clamp(1, asked))
    }
}
