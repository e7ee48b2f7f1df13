//! Search queries: the filters of `POST /customers/search`, built from what callers give and
//! checked before anything is sent. A query with no filters lists the whole account
//! (`GET /customers`), so "every customer" and "these customers" page the same way.
//!
//! Where HelpCrunch documents a rule, it is enforced here: the documented fields and the type
//! of value each takes, the operators each type takes (the docs' table, `Operator::takes`,
//! which the sandbox reads too), a
//! tag filter's value as `[{"name": …}]`. A field the docs do not list is sent as given (the
//! API grows; the server says no with a 400 naming `filter[i].field` if it does not know it),
//! but its name must be an identifier, so nothing but a field name can reach the body.
//!
//! A module per concern: a filter's terms (`terms`: fields, operators, values as given, where
//! a filter came from), the checks a value goes through (`check`), a checked filter
//! (`filter`), and the query with the JSON body of its pages (`body`).

mod body;
mod check;
mod filter;
mod terms;

pub use body::{Condition, Match, Query, QueryInput};
pub use filter::Filter;
pub use terms::{Given, Operand, Operator, ValueKind, FIELDS};

/// The prefix HelpCrunch puts before every field name on the wire.
pub const FIELD_PREFIX: &str = "customers.";

/// Pages are sorted by this key of the customer object, oldest first: customers created
/// during a scan land at its end, where they shift nobody (see `paging`).
pub const SORT_KEY: &str = "firstSeen";
const SORT_ORDER: &str = "asc";

#[cfg(test)]
mod tests;
