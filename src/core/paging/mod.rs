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
//! # When the scan ends
//!
//! When a page reaches the total, when the limit is reached, or when the server shows it has
//! no more: a page past the start that comes back empty is dropped (the set may have shrunk
//! under it), and if the re-read from before it is shorter than asked and brings nothing new,
//! nothing lies past what was read. A short page otherwise is taken as it is and the next one
//! asked for at the full size again: a server that pages smaller than asked is followed page
//! by page, and one short answer costs one request, not a smaller size for the rest of the
//! scan.
//!
//! Whatever the server answers, the scan ends. Pages dropped in a row step back twice as far
//! each time, and after [`MAX_DROPPED_PAGES`] of them the scan stops; pages used that hold
//! nothing new walk on over customers already handed out (a consumer that keeps some of them
//! makes the walk re-read a few), and after [`MAX_STALE_PAGES`] in a row that hold only
//! customers already re-read since the last new one (a server answering the same page for
//! ever) it stops too. HelpCrunch counts its total while customers come and go, and a server
//! may serve nothing past a fixed offset however many match: a scan that ends before its total,
//! or reads past it, says so in [`PagingStats::total_disagrees`]. A scan of a server that
//! serves `N` customers and misbehaves once costs at most `ceil(N / page_size)` +
//! [`EXTRA_REQUESTS`] requests, never an endless loop.
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

//! - A page past the start that comes back empty, followed by a re-read that comes back short
//!   with nothing new, is taken as the end: a server that glitches twice in a row there ends
//!   the scan early (with [`PagingStats::total_disagrees`] set when its total said more).

mod key;
mod track;
mod walk;

pub use key::{Head, SortKey};
pub use walk::Paging;

/// Pages dropped in a row after which a scan stops: each steps back twice as far as the one
/// before, so this reaches far behind the page that was first dropped; an honest server needs
/// half as many at most.
pub const MAX_DROPPED_PAGES: u32 = 8;

/// Pages used in a row, holding only customers re-read since the last new one, after which a
/// scan stops: the server is answering the same customers again.
pub const MAX_STALE_PAGES: u32 = 2;

/// What one surprise of the server's costs a scan at most, beyond `ceil(served / page_size)`
/// requests: a total it does not serve up to (an empty page, and the re-read that shows
/// nothing lies past it), a short or empty page in the middle (one request, and one more
/// where the pages no longer line up with the end), the same page answered for ever (the
/// pages before it is seen to repeat, and [`MAX_STALE_PAGES`]). The tests hold every hostile
/// server to it.
pub const EXTRA_REQUESTS: u64 = 5;

/// The most extra customers a page re-reads for changes racing the request.
const MAX_RACE_SLACK: u64 = 3;

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
    /// The server's total and what it served disagree: the scan ended before the total (the
    /// server served nothing past some offset, or kept answering customers already handed out),
    /// or a page went past it.
    pub total_disagrees: bool,
}

#[cfg(test)]
mod hostile_tests;
#[cfg(test)]
mod tests;
