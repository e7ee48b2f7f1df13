//! The plan: what each audience row (and, in mirror mode, each holder outside the audience)
//! becomes, built from the customers the requests found. Pure logic, no I/O. The requests may
//! have found the customers for several managed tags at once (`segments`): the findings know
//! which of them each customer carries, and one tag's plan is built from them by its index.

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::Deserialize;
use serde_json::Value;

use super::super::change::Change;
use super::super::names::names;
use super::super::validate::{CustomerId, Tag};
use super::super::words::grouped;
use super::audience::{customer_key, Audience, Key, MatchKind, Reason, Row};
// `plan::Mode` stays a path to it, as before it had a module of its own.
pub use super::mode::Mode;
use super::strategy::Strategy;

/// What happens to one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Add,
    Remove,
    /// Nothing to send: the customer already is as the mode wants.
    None,
    Reject,
}

names!(Action {
    Add => "add",
    Remove => "remove",
    None => "none",
    Reject => "reject",
});

/// What the plan's requests found out about one customer.
#[derive(Debug, Clone)]
pub struct FoundCustomer {
    pub id: CustomerId,
    /// Its JSON object, exactly as the server sent it.
    pub json: Vec<u8>,
    /// Its matched field, normalised as audience keys are.
    pub key: Option<Key>,
    /// The managed tags it carries (by their index in the request), each with its colour on
    /// it.
    pub holds: Vec<(usize, Option<String>)>,
}

/// The few fields the plan reads; the rest is kept as bytes.
#[derive(Deserialize)]
struct Fields {
    #[serde(default)]
    email: Option<Value>,
    #[serde(default, rename = "userId")]
    user_id: Option<Value>,
    #[serde(default)]
    tags: Option<Value>,
}

impl FoundCustomer {
    /// Read a customer of a page: its matched field and which of the managed `tags` it
    /// carries (names are case sensitive). A customer that is not a JSON object cannot come
    /// here: pages are checked when they arrive.
    pub fn read(id: CustomerId, json: &[u8], kind: MatchKind, tags: &[&str]) -> FoundCustomer {
        let fields: Option<Fields> = serde_json::from_slice(json).ok();
        let text = |value: &Option<Value>| match value {
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        };
        let (email, user_id, carried) = match &fields {
            Some(f) => (text(&f.email), text(&f.user_id), f.tags.as_ref()),
            None => (None, None, None),
        };
        let value = match kind {
            MatchKind::Email => email,
            MatchKind::UserId => user_id,
            MatchKind::Id => None,
        };
        let carried = carried.and_then(Value::as_array);
        let holds = tags
            .iter()
            .enumerate()
            .filter_map(|(index, tag)| {
                let entry = carried?
                    .iter()
                    .find(|t| t.get("name").and_then(Value::as_str) == Some(*tag))?;
                let color = entry
                    .get("color")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                Some((index, color))
            })
            .collect();
        FoundCustomer {
            id,
            json: json.to_vec(),
            key: customer_key(kind, id, value.as_deref()),
            holds,
        }
    }

    /// Whether it carries the managed tag `tag` (its index).
    pub fn carries(&self, tag: usize) -> bool {
        self.holds.iter().any(|(t, _)| *t == tag)
    }

    /// Whether it carries any managed tag.
    pub fn carries_any(&self) -> bool {
        !self.holds.is_empty()
    }

    /// The managed tag's colour on it.
    pub fn color(&self, tag: usize) -> Option<String> {
        self.holds
            .iter()
            .find(|(t, _)| *t == tag)
            .and_then(|(_, color)| color.clone())
    }
}

/// Everything the requests found so far. Every usable key is searched for (looked up, or the
/// whole account scanned) or settled by a holder, so a key no customer has is unknown.
#[derive(Debug)]
pub struct Findings {
    customers: HashMap<CustomerId, FoundCustomer>,
    /// Customers by matched key, in the order found.
    by_key: HashMap<Key, Vec<CustomerId>>,
    /// Keys HelpCrunch refused to look up, with its words.
    refused: HashMap<Key, String>,
    /// Every current holder of every managed tag has been found (their holders searches, or a
    /// scan).
    all_holders_found: bool,
}

impl Default for Findings {
    fn default() -> Self {
        Findings::new()
    }
}

impl Findings {
    pub fn new() -> Findings {
        Findings {
            customers: HashMap::new(),
            by_key: HashMap::new(),
            refused: HashMap::new(),
            all_holders_found: false,
        }
    }

    /// A customer a request returned. Found twice (a holder that a lookup finds again), it is
    /// kept once.
    pub fn add(&mut self, customer: FoundCustomer) {
        if self.customers.contains_key(&customer.id) {
            return;
        }
        if let Some(key) = &customer.key {
            self.by_key
                .entry(key.clone())
                .or_default()
                .push(customer.id);
        }
        self.customers.insert(customer.id, customer);
    }

    /// Whether a customer with `key` has been seen.
    pub fn settles(&self, key: &Key) -> bool {
        self.by_key.contains_key(key)
    }

    pub fn mark_refused(&mut self, key: Key, message: String) {
        self.refused.insert(key, message);
    }

    /// Every holder has been read (a whole holders search, or a scan).
    pub fn mark_all_holders_found(&mut self) {
        self.all_holders_found = true;
    }

    /// The holders of the managed tag `tag` found so far.
    pub fn holders(&self, tag: usize) -> usize {
        self.customers.values().filter(|c| c.carries(tag)).count()
    }

    /// A colour the tag has on some holder (the lowest id's, so the answer does not depend on
    /// the order things were found in).
    pub fn known_color(&self, tag: usize) -> Option<String> {
        self.customers
            .values()
            .filter(|c| c.color(tag).is_some())
            .min_by_key(|c| c.id)
            .and_then(|c| c.color(tag))
    }
}

/// One line of the plan.
#[derive(Debug, Clone)]
pub struct PlanItem {
    /// Position in the audience; None for a holder outside it (mirror mode).
    pub row: Option<usize>,
    pub customer_id: Option<CustomerId>,
    pub action: Action,
    /// Why a row is rejected.
    pub reason: Option<Reason>,
    /// The customer as found (JSON), when one was.
    pub customer: Option<Vec<u8>>,
    /// The tag's colour on this customer, for a removal (what undo puts back).
    pub color: Option<String>,
    /// What applying sends for it (an add or a removal); None when nothing is to be sent.
    pub change: Option<Change>,
}

/// How many requests the plan spent, by purpose.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlanRequests {
    /// Counts asked for to choose a strategy (one request each).
    pub probes: u64,
    /// Pages of the search for the tag's current holders.
    pub holder_pages: u64,
    /// Searches for several keys at once (pages of them).
    pub lookups: u64,
    /// Pages of the whole account's list.
    pub scan_pages: u64,
    /// Of all of these, the ones whose answer was not used: refused with a 400 and sent again
    /// smaller (a batch or a page the server found too large), or a page fetched ahead that
    /// the plan turned out not to need.
    pub unused: u64,
}

impl PlanRequests {
    pub fn total(&self) -> u64 {
        self.probes + self.holder_pages + self.lookups + self.scan_pages
    }
}

/// A plan that would remove the tag from too many of its holders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MassRemoval {
    pub removing: u64,
    pub holders: u64,
    /// No audience row is usable (empty, or every row rejected).
    pub empty_audience: bool,
}

impl fmt::Display for MassRemoval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = if self.empty_audience {
            "the audience has no usable row"
        } else {
            "that is more than half of them"
        };
        write!(
            f,
            "this plan removes the tag from {} of its {} current holders, and {why}; pass \
             allow_mass_removal=True if that is what you mean",
            grouped(self.removing),
            grouped(self.holders)
        )
    }
}

/// The plan: every audience row in order, then (mirror mode) the holders outside it.
#[derive(Debug, Clone)]
pub struct Plan {
    pub tag: String,
    /// The colour to give a tag that does not exist yet (as the caller gave it).
    pub color: Option<String>,
    /// The tag's colour on its current holders, when it has any.
    pub known_color: Option<String>,
    pub mode: Mode,
    pub kind: MatchKind,
    pub items: Vec<PlanItem>,
    /// Audience rows (the first `audience_rows` items).
    pub audience_rows: usize,
    pub usable_rows: usize,
    /// The tag's holders when the plan was made.
    pub holders: u64,
    pub strategy: Strategy,
    /// Why that strategy, in words.
    pub strategy_reason: String,
    pub requests: PlanRequests,
    /// Filters per lookup and customers per page in force at the end (smaller than asked
    /// when the server refused larger ones).
    pub lookup_batch: u64,
    pub page_size: u64,
}

impl Plan {
    pub fn count(&self, action: Action) -> usize {
        self.items.iter().filter(|i| i.action == action).count()
    }

    /// Requests the plan will send when applied: one per customer whose tags change.
    pub fn writes(&self) -> usize {
        self.count(Action::Add) + self.count(Action::Remove)
    }

    /// The guard against the classic accident (an empty or truncated audience mirroring the tag
    /// away from everyone): set when the plan removes the tag from more than half of its
    /// holders, or from anyone while no audience row is usable.
    pub fn mass_removal(&self) -> Option<MassRemoval> {
        let removing = self.count(Action::Remove) as u64;
        let empty_audience = self.usable_rows == 0;
        (removing > 0 && (empty_audience || removing * 2 > self.holders)).then_some(MassRemoval {
            removing,
            holders: self.holders,
            empty_audience,
        })
    }
}

/// What the plan is built from, besides the findings.
pub struct PlanContext {
    pub tag: String,
    /// The tag's index among the managed tags (what the findings know it by).
    pub index: usize,
    pub color: Option<String>,
    pub mode: Mode,
    pub strategy: Strategy,
    pub strategy_reason: String,
    pub requests: PlanRequests,
    pub lookup_batch: u64,
    pub page_size: u64,
    /// The holders count when not every holder was found (a count, or a search's total).
    pub holders_counted: Option<u64>,
}

/// Every row to one of add / remove / none / reject, and (mirror) each holder no row matches
/// to remove. A holder matched by a key that is rejected as shared is left alone: the audience
/// names it, only not unambiguously.
pub fn build(audience: &Audience, findings: &Findings, context: PlanContext) -> Plan {
    let kind = audience.kind();
    let mode = context.mode;
    let mut items = Vec::with_capacity(audience.len());
    let mut matched: HashSet<CustomerId> = HashSet::new();
    let t = context.index;
    let known_color = findings.known_color(t);
    // An existing tag keeps its colour; the one asked for is for a tag not made yet.
    let add_color = known_color.clone().or_else(|| context.color.clone());
    let change = |action, customer: &FoundCustomer| {
        let tag = |color| {
            vec![Tag {
                name: context.tag.clone(),
                color,
            }]
        };
        match action {
            Action::Add => Some(Change::add_tags(customer.id, tag(add_color.clone()))),
            // The colour it had here (or the tag's), so that undo puts it back as it was.
            Action::Remove => Some(Change::remove_tags(
                customer.id,
                tag(customer.color(t).or_else(|| known_color.clone())),
            )),
            Action::None | Action::Reject => None,
        }
    };
    for (row, checked) in audience.rows().iter().enumerate() {
        let item = |action, reason, customer: Option<&FoundCustomer>| PlanItem {
            row: Some(row),
            customer_id: customer.map(|c| c.id),
            action,
            reason,
            customer: customer.map(|c| c.json.clone()),
            color: customer.and_then(|c| c.color(t)),
            change: customer.and_then(|c| change(action, c)),
        };
        let key = match checked {
            Row::Rejected(reason) => {
                items.push(item(Action::Reject, Some(reason.clone()), None));
                continue;
            }
            Row::Usable { key, .. } => key,
        };
        let ids = findings.by_key.get(key).map(Vec::as_slice).unwrap_or(&[]);
        matched.extend(ids.iter().copied());
        if let Some(message) = findings.refused.get(key) {
            items.push(item(
                Action::Reject,
                Some(Reason::Refused(message.clone())),
                None,
            ));
            continue;
        }
        match ids {
            [] => items.push(item(Action::Reject, Some(Reason::Unknown(kind)), None)),
            [id] => {
                let customer = &findings.customers[id];
                let action = match (mode, customer.carries(t)) {
                    (Mode::Mirror | Mode::Add, false) => Action::Add,
                    (Mode::Remove, true) => Action::Remove,
                    _ => Action::None,
                };
                items.push(item(action, None, Some(customer)));
            }
            many => {
                let mut customers = many.to_vec();
                customers.sort();
                items.push(item(
                    Action::Reject,
                    Some(Reason::Shared { kind, customers }),
                    None,
                ));
            }
        }
    }
    let audience_rows = items.len();
    if mode == Mode::Mirror {
        let mut outside: Vec<&FoundCustomer> = findings
            .customers
            .values()
            .filter(|c| c.carries(t) && !matched.contains(&c.id))
            .collect();
        outside.sort_by_key(|c| c.id);
        items.extend(outside.into_iter().map(|c| PlanItem {
            row: None,
            customer_id: Some(c.id),
            action: Action::Remove,
            reason: None,
            customer: Some(c.json.clone()),
            color: c.color(t),
            change: change(Action::Remove, c),
        }));
    }
    let holders = if findings.all_holders_found {
        findings.holders(t) as u64
    } else {
        context
            .holders_counted
            .unwrap_or(0)
            .max(findings.holders(t) as u64)
    };
    Plan {
        tag: context.tag,
        color: context.color,
        known_color,
        mode,
        kind,
        items,
        audience_rows,
        usable_rows: audience.usable(),
        holders,
        strategy: context.strategy,
        strategy_reason: context.strategy_reason,
        requests: context.requests,
        lookup_batch: context.lookup_batch,
        page_size: context.page_size,
    }
}
