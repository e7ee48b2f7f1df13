//! The sort order pages follow: a customer's `firstSeen`, as HelpCrunch compares it.

use std::cmp::Ordering;

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
