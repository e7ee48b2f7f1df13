//! Which requests find the customers a plan needs, for the fewest of them. Pure arithmetic on
//! what is known when the choice is made; the planner (`planner.rs`) makes the requests.
//!
//! Two ways to find them:
//! - **lookups**: search several keys per request (`=` filters joined by `comparison: OR`,
//!   `batch` filters a request), after the holders search where it pays: every holder found
//!   settles the audience keys it matches, so only the others are looked up. Costs
//!   `ceil(holders / page)` pages plus `ceil(filters left / batch)` lookups.
//! - **scan**: list the whole account, `ceil(total / page)` pages; it finds everyone, holders
//!   included.
//!
//! The account's total is learned with one count (skipped when the lookups would cost at most
//! one request: then no scan can repay it); the holders count from the first page of the
//! holders search, which is the first page either way. Before the holders are read, how many
//! keys they will settle is estimated from the first page (the share of holders that are
//! audience members); once they are read it is known, and the choice is made again.

use std::fmt;

use super::super::names::names;
use super::super::words::counted;
use super::mode::Mode;

/// How the customers were found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// Searches for the keys, several per request; `holders`: after the search for the tag's
    /// holders.
    Lookups { holders: bool },
    /// The whole account, listed.
    Scan,
}

names!(Strategy::name {
    Strategy::Lookups { .. } => "lookups",
    Strategy::Scan => "scan",
});

/// Requests needed for `n` items at `per` a request.
pub fn requests_for(n: u64, per: u64) -> u64 {
    n.div_ceil(per.max(1))
}

/// What is known when a choice is made. Counts of filters, not keys: an email given in mixed
/// case is looked up twice (as given and case-folded).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Known {
    pub mode: Mode,
    pub page_size: u64,
    pub batch: u64,
    /// Filters for the keys not settled yet.
    pub filters_left: u64,
    /// The account's customers, when counted.
    pub total: Option<u64>,
    /// The managed tags' holders, when known (every tag's first holders page read).
    pub holders: Option<Holders>,
}

/// What the holders searches still cost, and the keys they are expected to settle: one tag's
/// [`Holders::of_tag`], several tags' summed with [`Holders::plus`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Holders {
    /// Holder pages not read yet.
    pub pages_left: u64,
    /// Audience keys the unread holders are expected to settle.
    pub settles: u64,
}

impl Holders {
    /// One tag's `holders`, `pages_read` of them read, of which the share `settled_share`
    /// (0 to 1) settled an audience key.
    pub fn of_tag(holders: u64, pages_read: u64, settled_share: f64, page_size: u64) -> Holders {
        let page = page_size.max(1);
        let unread = holders.saturating_sub(pages_read * page) as f64;
        Holders {
            pages_left: requests_for(holders, page).saturating_sub(pages_read),
            settles: (unread * settled_share.clamp(0.0, 1.0)).round() as u64,
        }
    }

    /// Every holder read: nothing left to pay, nothing more to settle.
    pub const READ: Holders = Holders {
        pages_left: 0,
        settles: 0,
    };

    /// Two tags' together (a key two tags' holders settle is counted twice: the estimate is
    /// weighed again once the holders are read).
    pub fn plus(self, other: Holders) -> Holders {
        Holders {
            pages_left: self.pages_left + other.pages_left,
            settles: self.settles + other.settles,
        }
    }
}

/// A choice, with its costs (requests from now on) for the words.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Choice {
    pub strategy: Strategy,
    /// Requests from now on: with lookups (after the holders, when used) and with a scan
    /// (None when the total is not known).
    pub lookup_cost: u64,
    pub scan_cost: Option<u64>,
}

impl Choice {
    /// Why, in words, for the plan of one tag.
    pub fn reason(&self) -> String {
        self.reason_for(1)
    }

    /// Why, in words, for a plan of `tags` tags.
    pub fn reason_for(&self, tags: usize) -> String {
        let whose = if tags == 1 { "the tag's" } else { "the tags'" };
        let scan = match self.scan_cost {
            Some(n) => format!("a scan of the account would take {}", counted(n, "page")),
            None => "too few lookups for a scan to cost less".to_string(),
        };
        let lookups = counted(self.lookup_cost, "request");
        match self.strategy {
            Strategy::Scan => format!(
                "scanned the whole account: {} against about {lookups} for the lookups",
                counted(self.scan_cost.unwrap_or(0), "page"),
            ),
            Strategy::Lookups { holders: true } => format!(
                "searched {whose} holders and looked up the keys they did not settle: about \
                 {lookups}; {scan}"
            ),
            Strategy::Lookups { holders: false } => {
                format!("looked up the keys: about {lookups}; {scan}")
            }
        }
    }
}

/// Whether counting the account can pay: only when the lookups could cost two requests or more
/// (a scan reads at least the holders' pages, so it saves at most the lookups, less the count).
pub fn worth_counting(filters: u64, batch: u64) -> bool {
    requests_for(filters, batch) >= 2
}

/// The cheapest way on from here (see the module's docs). Ties go to the scan: for the same
/// requests it finds every customer of every key, which lookups after a holders search do not.
pub fn choose(known: &Known) -> Choice {
    let page = known.page_size.max(1);
    let lookups_alone = requests_for(known.filters_left, known.batch);
    let scan_cost = known.total.map(|t| requests_for(t, page).max(1));
    let (strategy, lookup_cost) = match (known.mode, known.holders) {
        // Holders not searched yet and not to be: lookups, or a scan.
        (Mode::Remove, _) | (Mode::Add, None) => {
            (Strategy::Lookups { holders: false }, lookups_alone)
        }
        (Mode::Mirror | Mode::Add, Some(holders)) => {
            let with_holders = holders.pages_left
                + requests_for(
                    known.filters_left.saturating_sub(holders.settles),
                    known.batch,
                );
            if known.mode == Mode::Add && lookups_alone < with_holders {
                (Strategy::Lookups { holders: false }, lookups_alone)
            } else {
                (Strategy::Lookups { holders: true }, with_holders)
            }
        }
        (Mode::Mirror, None) => (
            Strategy::Lookups { holders: true },
            lookups_alone, // unknown holders: the pages come on top, whatever is chosen
        ),
    };
    let strategy = match scan_cost {
        Some(scan) if scan <= lookup_cost => Strategy::Scan,
        _ => strategy,
    };
    Choice {
        strategy,
        lookup_cost,
        scan_cost,
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(mode: Mode) -> Known {
        Known {
            mode,
            page_size: 100,
            batch: 20,
            // The first holders page settled 94 of the 10,000 keys.
            filters_left: 9_906,
            total: Some(50_000),
            holders: Some(Holders::of_tag(10_100, 1, 0.9406, 100)),
        }
    }

    #[test]
    fn the_standard_case_searches_the_holders_and_looks_up_the_rest() {
        // 10,000 emails, 9,500 of them among the 10,100 holders: the first page of holders
        // shows 94 % of them in the audience.
        let choice = choose(&known(Mode::Mirror));
        assert_eq!(choice.strategy, Strategy::Lookups { holders: true });
        // 100 more holder pages, and ~500 keys left: 25 lookups.
        assert_eq!(choice.lookup_cost, 100 + 25);
        assert_eq!(choice.scan_cost, Some(500));
        assert!(choice.reason().contains("holders"), "{}", choice.reason());
    }

    #[test]
    fn a_small_account_with_many_keys_is_scanned() {
        let choice = choose(&Known {
            total: Some(900),
            holders: Some(Holders::of_tag(50, 1, 1.0, 100)),
            filters_left: 1_000,
            ..known(Mode::Mirror)
        });
        assert_eq!(choice.strategy, Strategy::Scan);
        assert_eq!(choice.scan_cost, Some(9));
        assert!(choice
            .reason()
            .starts_with("scanned the whole account: 9 pages"));
    }

    #[test]
    fn once_the_holders_are_read_only_the_lookups_left_are_weighed() {
        let read = Known {
            holders: Some(Holders::READ),
            filters_left: 500,
            ..known(Mode::Mirror)
        };
        assert_eq!(choose(&read).lookup_cost, 25);
        assert_eq!(choose(&read).strategy, Strategy::Lookups { holders: true });
        // Were 20,000 keys left (holders that are not audience members), the 500-page scan wins.
        let unsettled = Known {
            filters_left: 20_000,
            ..read
        };
        assert_eq!(choose(&unsettled).strategy, Strategy::Scan);
    }

    #[test]
    fn add_mode_skips_the_holders_when_they_cost_more_than_they_settle() {
        // 100,000 holders, 2,000 keys: 1,000 holder pages against 100 lookups.
        let choice = choose(&Known {
            mode: Mode::Add,
            filters_left: 2_000,
            total: Some(1_000_000),
            holders: Some(Holders::of_tag(100_000, 1, 0.01, 100)),
            ..known(Mode::Add)
        });
        assert_eq!(choice.strategy, Strategy::Lookups { holders: false });
        assert_eq!(choice.lookup_cost, 100);
        // Few holders, all of them members (the first page settled 100 keys): they settle
        // keys for less.
        let choice = choose(&Known {
            mode: Mode::Add,
            filters_left: 1_900,
            total: Some(1_000_000),
            holders: Some(Holders::of_tag(1_900, 1, 1.0, 100)),
            ..known(Mode::Add)
        });
        assert_eq!(choice.strategy, Strategy::Lookups { holders: true });
        assert_eq!(choice.lookup_cost, 18 + 5);
    }

    #[test]
    fn remove_mode_looks_up_every_key_or_scans() {
        let choice = choose(&Known {
            filters_left: 10_000,
            total: Some(100_000),
            holders: None,
            ..known(Mode::Remove)
        });
        assert_eq!(choice.strategy, Strategy::Lookups { holders: false });
        assert_eq!(choice.lookup_cost, 500);
        let choice = choose(&Known {
            total: Some(5_000),
            holders: None,
            ..known(Mode::Remove)
        });
        assert_eq!(choice.strategy, Strategy::Scan);
    }

    #[test]
    fn without_a_total_there_is_no_scan_and_ties_go_to_the_scan() {
        let choice = choose(&Known {
            total: None,
            ..known(Mode::Mirror)
        });
        assert_ne!(choice.strategy, Strategy::Scan);
        assert_eq!(choice.scan_cost, None);
        // 1 page either way: the scan also sees every customer of every key.
        let tie = choose(&Known {
            total: Some(80),
            holders: Some(Holders::of_tag(10, 0, 0.0, 100)),
            filters_left: 0,
            ..known(Mode::Mirror)
        });
        assert_eq!(tie.strategy, Strategy::Scan);
    }

    #[test]
    fn counting_the_account_pays_only_past_one_lookup() {
        assert!(!worth_counting(0, 20));
        assert!(!worth_counting(20, 20));
        assert!(worth_counting(21, 20));
    }
}
