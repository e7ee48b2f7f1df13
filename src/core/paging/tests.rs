//! The paging rules played out against a simulated server (no HTTP): a set of customers
//! sorted by key, ties in id order or shuffled on every request, changed by the consumer as
//! it takes customers and by others between pages. Every scenario checks the promise: each
//! customer that matched at the start and was not removed by someone else is handed out,
//! and none twice.

use std::collections::HashSet;

use proptest::prelude::*;

use super::*;

#[derive(Debug, Clone, Copy)]
struct Item {
    id: u64,
    key: i64,
}

/// A search's matches as the server holds them.
struct Server {
    items: Vec<Item>,
    unstable: bool,
    rng: fastrand::Rng,
    next_id: u64,
    requests: u64,
    /// Bumped by every change.
    version: u64,
    /// (version, key) of every customer that left the matches.
    removals: Vec<(u64, i64)>,
}

impl Server {
    fn new(keys: &[i64], unstable: bool, seed: u64) -> Server {
        let items: Vec<Item> = keys
            .iter()
            .enumerate()
            .map(|(i, &key)| Item {
                id: i as u64 + 1,
                key,
            })
            .collect();
        Server {
            next_id: items.len() as u64 + 1,
            items,
            unstable,
            rng: fastrand::Rng::with_seed(seed),
            requests: 0,
            version: 0,
            removals: Vec::new(),
        }
    }

    fn page(&mut self, request: &PageRequest) -> (Vec<Head>, u64) {
        self.requests += 1;
        let salt = self.rng.u64(..);
        let unstable = self.unstable;
        let mut order = self.items.clone();
        order.sort_by_key(|item| {
            let tie = if unstable {
                (salt ^ item.id)
                    .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                    .rotate_left(29)
            } else {
                item.id
            };
            (item.key, tie)
        });
        let page = order
            .iter()
            .skip(request.offset as usize)
            .take(request.limit as usize)
            .map(|item| Head {
                id: item.id,
                key: SortKey::Number(item.key as f64),
            })
            .collect();
        (page, order.len() as u64)
    }

    fn remove(&mut self, id: u64) {
        if let Some(i) = self.items.iter().position(|item| item.id == id) {
            let item = self.items.swap_remove(i);
            self.version += 1;
            self.removals.push((self.version, item.key));
        }
    }

    fn add(&mut self, key: i64) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.items.push(Item { id, key });
        self.version += 1;
        id
    }

    fn max_key(&self) -> i64 {
        self.items.iter().map(|i| i.key).max().unwrap_or(0)
    }
}

/// What the consumer does with each customer it takes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Caller {
    Keep,
    /// Untags it: the customer leaves the matches.
    Remove,
    /// Untags it with this probability.
    RemoveSome(f64),
}

/// What others do between two pages.
#[derive(Debug, Clone, Copy, Default)]
struct Others {
    /// New customers, at the end.
    add_at_end: u32,
    /// Old customers that start to match, anywhere.
    add_in_middle: u32,
    /// Customers not yet handed out that stop matching.
    remove_unread: u32,
}

#[derive(Debug, Clone, Copy)]
struct Scenario {
    caller: Caller,
    others: Others,
    /// The consumer's change to the first customer of a page reaches the server before the
    /// prefetch that page's hand-over sent.
    race: bool,
}

impl Scenario {
    fn reading() -> Scenario {
        Scenario {
            caller: Caller::Keep,
            others: Others::default(),
            race: false,
        }
    }

    fn removing() -> Scenario {
        Scenario {
            caller: Caller::Remove,
            ..Scenario::reading()
        }
    }
}

#[derive(Debug)]
struct Outcome {
    handed: Vec<u64>,
    requests: u64,
    stats: PagingStats,
    /// Ids that matched at the start and were removed by someone other than the consumer.
    removed_by_others: HashSet<u64>,
    /// A page was taken on an unchanged total although a customer that sorted before it had
    /// left meanwhile (the one case the module's docs say goes unnoticed).
    trusted_a_change: bool,
}

/// Plays a scan as `search::Pager` runs it: the next page is planned (and answered, as a
/// prefetch) when the consumer takes a page; a dropped page is asked for again when the
/// consumer wants the next one.
fn scan(server: &mut Server, paging: &mut Paging, scenario: Scenario, seed: u64) -> Outcome {
    let mut rng = fastrand::Rng::with_seed(seed);
    let originals: HashSet<u64> = server.items.iter().map(|i| i.id).collect();
    let mut outcome = Outcome {
        handed: Vec::new(),
        requests: 0,
        stats: PagingStats::default(),
        removed_by_others: HashSet::new(),
        trusted_a_change: false,
    };
    // (request, page, total, server version when answered)
    type Answer = (PageRequest, Vec<Head>, u64, u64);
    let mut prefetched: Option<Answer> = None;
    let mut anchor_version = 0;
    let mut frontier_key = i64::MIN;
    let remove = |server: &mut Server, rng: &mut fastrand::Rng, id: u64| match scenario.caller {
        Caller::Keep => {}
        Caller::Remove => {
            server.remove(id);
        }
        Caller::RemoveSome(p) => {
            if rng.f64() < p {
                server.remove(id);
            }
        }
    };
    let mut guard = 0;
    let mut rounds = 0;
    'scan: loop {
        let (ids, raced) = loop {
            guard += 1;
            assert!(guard < 100_000, "the scan does not end");
            let (request, page, total, version) = match prefetched.take() {
                Some(answer) => answer,
                None => {
                    let Some(request) = paging.next_request() else {
                        break 'scan;
                    };
                    let (page, total) = server.page(&request);
                    (request, page, total, server.version)
                }
            };
            match paging.receive(&request, &page, total) {
                Received::Rejected => continue,
                Received::Accepted { new } => {
                    let shifted = server
                        .removals
                        .iter()
                        .any(|&(v, key)| v > anchor_version && v <= version && key <= frontier_key);
                    if request.assume_static && shifted {
                        outcome.trusted_a_change = true;
                    }
                    anchor_version = version;
                    if let Some(last) = page.last() {
                        if let SortKey::Number(key) = last.key {
                            frontier_key = frontier_key.max(key as i64);
                        }
                    }
                    let ids: Vec<u64> = new.iter().map(|&i| page[i].id).collect();
                    let mut raced = None;
                    if scenario.race {
                        if let Some(&first) = ids.first() {
                            remove(server, &mut rng, first);
                            raced = Some(first);
                        }
                    }
                    if let Some(next) = paging.next_request() {
                        let (page, total) = server.page(&next);
                        prefetched = Some((next, page, total, server.version));
                    }
                    paging.hand_over(ids.len());
                    if ids.is_empty() {
                        continue;
                    }
                    break (ids, raced);
                }
            }
        };
        for id in ids {
            outcome.handed.push(id);
            if raced != Some(id) {
                remove(server, &mut rng, id);
            }
        }
        // Others act for a while, then stop: a set that grows faster than it is read has no end.
        rounds += 1;
        let others = if rounds <= 30 {
            scenario.others
        } else {
            Others::default()
        };
        for _ in 0..others.add_at_end {
            let key = server.max_key() + 1;
            server.add(key);
        }
        for _ in 0..others.add_in_middle {
            let key = rng.i64(0..=server.max_key().max(1));
            server.add(key);
        }
        for _ in 0..others.remove_unread {
            let handed: HashSet<u64> = outcome.handed.iter().copied().collect();
            let unread: Vec<u64> = server
                .items
                .iter()
                .map(|i| i.id)
                .filter(|id| !handed.contains(id))
                .collect();
            if !unread.is_empty() {
                let id = unread[rng.usize(..unread.len())];
                server.remove(id);
                if originals.contains(&id) {
                    outcome.removed_by_others.insert(id);
                }
            }
        }
    }
    outcome.requests = server.requests;
    outcome.stats = paging.stats();
    outcome
}

/// Every customer that matched at the start and was not removed by others, once; nothing
/// handed out twice.
fn assert_complete(keys: &[i64], outcome: &Outcome) {
    let mut once = HashSet::new();
    for id in &outcome.handed {
        assert!(once.insert(*id), "customer {id} was handed out twice");
    }
    let missed: Vec<u64> = (1..=keys.len() as u64)
        .filter(|id| !once.contains(id) && !outcome.removed_by_others.contains(id))
        .collect();
    assert!(missed.is_empty(), "missed {missed:?} ({outcome:?})");
}

fn distinct_keys(n: usize) -> Vec<i64> {
    (0..n as i64).map(|i| i * 10).collect()
}

/// Keys with runs of equal values, none longer than `longest`.
fn keys_with_ties(n: usize, longest: usize, seed: u64) -> Vec<i64> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut keys = Vec::with_capacity(n);
    let mut key = 0;
    while keys.len() < n {
        key += 1 + rng.i64(0..3);
        let run = 1 + rng.usize(0..longest);
        for _ in 0..run.min(n - keys.len()) {
            keys.push(key);
        }
    }
    keys
}

fn run(keys: &[i64], page: u64, unstable: bool, scenario: Scenario) -> Outcome {
    let mut server = Server::new(keys, unstable, 7);
    let mut paging = Paging::new(page, None);
    scan(&mut server, &mut paging, scenario, 11)
}

#[test]
fn a_read_only_scan_costs_one_request_per_page() {
    for (n, expected) in [
        (0, 1),
        (1, 1),
        (99, 1),
        (100, 1),
        (101, 2),
        (1000, 10),
        (1050, 11),
    ] {
        let keys = distinct_keys(n);
        let outcome = run(&keys, 100, false, Scenario::reading());
        assert_complete(&keys, &outcome);
        assert_eq!(outcome.requests, expected, "{n} customers");
        assert_eq!(outcome.stats.rejected, 0);
        assert_eq!(outcome.stats.duplicates, 0);
    }
}

#[test]
fn removing_every_customer_costs_a_few_percent() {
    for n in [150, 1000, 10_000] {
        let keys = distinct_keys(n);
        let outcome = run(&keys, 100, false, Scenario::removing());
        assert_complete(&keys, &outcome);
        assert!(!outcome.trusted_a_change);
        let pages = n.div_ceil(100) as u64;
        // One dropped page when the removals are first seen, then two re-read per page.
        assert!(
            outcome.requests <= pages + 2 + pages * 3 / 100,
            "{n}: {} requests for {pages} pages ({:?})",
            outcome.requests,
            outcome.stats
        );
    }
}

#[test]
fn a_removal_that_beats_the_prefetch_is_caught() {
    let keys = distinct_keys(1000);
    let outcome = run(
        &keys,
        100,
        false,
        Scenario {
            race: true,
            ..Scenario::removing()
        },
    );
    assert_complete(&keys, &outcome);
    assert!(outcome.stats.rejected >= 1);
}

#[test]
fn removing_some_customers_misses_none() {
    for p in [0.1, 0.5, 0.9] {
        let keys = distinct_keys(2000);
        let outcome = run(
            &keys,
            100,
            false,
            Scenario {
                caller: Caller::RemoveSome(p),
                ..Scenario::reading()
            },
        );
        assert_complete(&keys, &outcome);
    }
}

#[test]
fn customers_added_at_the_end_or_in_the_middle_shift_nobody_out() {
    let keys = distinct_keys(1000);
    for caller in [Caller::Keep, Caller::Remove] {
        for others in [
            Others {
                add_at_end: 3,
                ..Others::default()
            },
            Others {
                add_in_middle: 2,
                ..Others::default()
            },
            Others {
                add_at_end: 1,
                add_in_middle: 1,
                remove_unread: 1,
            },
        ] {
            let scenario = Scenario {
                caller,
                others,
                race: false,
            };
            let outcome = run(&keys, 100, false, scenario);
            assert!(!outcome.trusted_a_change, "{scenario:?}");
            assert_complete(&keys, &outcome);
        }
    }
}

#[test]
fn a_shrinking_total_from_others_skips_nobody() {
    let keys = distinct_keys(1000);
    let outcome = run(
        &keys,
        50,
        false,
        Scenario {
            others: Others {
                remove_unread: 5,
                ..Others::default()
            },
            ..Scenario::reading()
        },
    );
    assert_complete(&keys, &outcome);
    assert!(!outcome.removed_by_others.is_empty());
}

#[test]
fn ties_reordered_on_every_request_are_read_whole() {
    for seed in 0..20 {
        let keys = keys_with_ties(1500, 8, seed);
        for scenario in [Scenario::reading(), Scenario::removing()] {
            let mut server = Server::new(&keys, true, seed);
            let mut paging = Paging::new(50, None);
            let outcome = scan(&mut server, &mut paging, scenario, seed);
            assert_complete(&keys, &outcome);
            assert_eq!(outcome.stats.unchecked_tie_runs, 0);
        }
    }
}

#[test]
fn stable_ties_cost_nothing_extra_when_reading() {
    let keys = keys_with_ties(1000, 8, 3);
    let outcome = run(&keys, 100, false, Scenario::reading());
    assert_complete(&keys, &outcome);
    assert_eq!(outcome.requests, 10);
}

#[test]
fn a_tie_run_longer_than_a_page_is_counted_when_it_cannot_be_reread() {
    let mut keys = distinct_keys(300);
    for key in keys.iter_mut().skip(120).take(150) {
        *key = 1200;
    }
    let mut server = Server::new(&keys, true, 5);
    let mut paging = Paging::new(100, None);
    let outcome = scan(&mut server, &mut paging, Scenario::reading(), 5);
    assert!(outcome.stats.unchecked_tie_runs >= 1, "{:?}", outcome.stats);
    let distinct: HashSet<_> = outcome.handed.iter().collect();
    assert_eq!(
        distinct.len(),
        outcome.handed.len(),
        "none twice, even then"
    );
}

#[test]
fn a_limit_caps_what_is_handed_out_and_the_page_asked_for() {
    let keys = distinct_keys(1000);
    let mut server = Server::new(&keys, false, 1);
    let mut paging = Paging::new(100, Some(5));
    let request = paging.next_request().unwrap();
    assert_eq!((request.offset, request.limit), (0, 5));
    let outcome = scan(&mut server, &mut paging, Scenario::reading(), 1);
    assert_eq!(outcome.handed, [1, 2, 3, 4, 5]);
    assert_eq!(outcome.requests, 1);
    let mut none = Paging::new(100, Some(0));
    assert_eq!(none.next_request(), None);
}

#[test]
fn a_refused_page_size_halves_down_to_one() {
    let mut paging = Paging::new(100, None);
    let request = paging.next_request().unwrap();
    assert!(paging.shrink_page_size(&request, None));
    assert_eq!(paging.page_size(), 50);
    let request = paging.next_request().unwrap();
    assert_eq!(request.limit, 50);
    // A stated size no smaller than the refused one says nothing useful: halve.
    assert!(paging.shrink_page_size(&request, Some(50)));
    assert_eq!(paging.page_size(), 25);
    let mut tiny = Paging::new(1, None);
    let request = tiny.next_request().unwrap();
    assert!(!tiny.shrink_page_size(&request, Some(0)));
}

#[test]
fn a_refused_page_size_takes_the_size_the_server_states() {
    let mut paging = Paging::new(100, None);
    let request = paging.next_request().unwrap();
    assert!(paging.shrink_page_size(&request, Some(30)));
    assert_eq!(paging.next_request().unwrap().limit, 30);
}

#[test]
fn one_short_page_does_not_shrink_the_rest_of_the_scan() {
    let keys = distinct_keys(230);
    let mut server = Server::new(&keys, false, 1);
    let mut paging = Paging::new(100, None);
    // The first answer holds 40 of the 100 asked for.
    let first = paging.next_request().unwrap();
    let (page, total) = server.page(&PageRequest { limit: 40, ..first });
    let Received::Accepted { new } = paging.receive(&first, &page, total) else {
        panic!("the first page is always usable");
    };
    assert_eq!(new.len(), 40);
    paging.hand_over(40);
    assert_eq!(paging.page_size(), 100);
    let next = paging.next_request().unwrap();
    assert_eq!(
        (next.offset, next.limit),
        (40, 100),
        "on from the short page, full size"
    );
    let outcome = scan(&mut server, &mut paging, Scenario::reading(), 1);
    assert_eq!(outcome.handed.len(), 190);
    assert_eq!(
        outcome.requests, 3,
        "the short page, then 190 in pages of 100"
    );
    assert!(!outcome.stats.total_disagrees);
}

#[test]
fn sort_keys_compare_as_helpcrunch_orders_first_seen() {
    assert_eq!(SortKey::from_text("1700000000"), SortKey::Number(1.7e9));
    assert_eq!(SortKey::from_text(" 5 "), SortKey::Number(5.0));
    assert!(SortKey::Missing < SortKey::Number(-1e300));
    assert!(SortKey::Number(1e300) < SortKey::from_text("yesterday"));
    assert!(SortKey::Number(9.0) < SortKey::Number(10.0));
}

fn arb_scenario() -> impl Strategy<Value = Scenario> {
    let caller = prop_oneof![
        Just(Caller::Keep),
        Just(Caller::Remove),
        (0.05f64..0.95).prop_map(Caller::RemoveSome),
    ];
    let others = (0u32..3, 0u32..3, 0u32..3).prop_map(|(end, middle, gone)| Others {
        add_at_end: end,
        add_in_middle: middle,
        remove_unread: gone,
    });
    (caller, others, any::<bool>()).prop_map(|(caller, others, race)| Scenario {
        caller,
        others,
        race,
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1000,
        // No regression files written into the source tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Any mix of the consumer's changes, others' changes, races and tie orders: nothing is
    /// handed out twice, and, unless a change went unnoticed behind an unchanged total (the
    /// documented limit) or a tie run was too long to check, nothing is missed.
    #[test]
    fn no_customer_is_skipped_or_repeated(
        n in 0usize..600,
        page in 3u64..40,
        longest in 1usize..6,
        unstable in any::<bool>(),
        scenario in arb_scenario(),
        seed in any::<u64>(),
    ) {
        let keys = keys_with_ties(n, longest, seed);
        let mut server = Server::new(&keys, unstable, seed);
        let mut paging = Paging::new(page, None);
        let outcome = scan(&mut server, &mut paging, scenario, seed);
        let distinct: HashSet<_> = outcome.handed.iter().collect();
        prop_assert_eq!(distinct.len(), outcome.handed.len());
        if !outcome.trusted_a_change && outcome.stats.unchecked_tie_runs == 0 {
            assert_complete(&keys, &outcome);
        }
    }
}
