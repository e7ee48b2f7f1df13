//! A checked query: its filters, how they combine, and the JSON body of each page (encoded
//! once, since only the window changes).

use serde_json::Value;

use super::filter::Filter;
use super::terms::{At, Given};
use super::{FIELD_PREFIX, SORT_KEY, SORT_ORDER};
use crate::core::error::Result;
use crate::core::names::names;

/// How the filters combine: HelpCrunch's `comparison`, for the whole list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Match {
    /// Every filter (`AND`).
    #[default]
    All,
    /// At least one (`OR`).
    Any,
}

names!(Match as "match" {
    All => "all",
    Any => "any",
});

impl Match {
    pub const fn comparison(self) -> &'static str {
        match self {
            Match::All => "AND",
            Match::Any => "OR",
        }
    }
}

/// A checked query. Cheap to page: the filter list is encoded once.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    filters: Vec<Filter>,
    matching: Match,
    /// `"filter":[…],"comparison":"…"`, the part of every page's body that never changes.
    encoded: String,
}

impl Query {
    /// Customers matching `filters` combined by `matching`; no filters: every customer.
    pub fn new(filters: Vec<Filter>, matching: Match) -> Query {
        let list = Value::Array(filters.iter().map(Filter::to_json).collect());
        let encoded = format!(
            "\"filter\":{},\"comparison\":\"{}\"",
            serde_json::to_string(&list).expect("JSON values always encode"),
            matching.comparison()
        );
        Query {
            filters,
            matching,
            encoded,
        }
    }

    /// Every customer of the account (`GET /customers`).
    pub fn everyone() -> Query {
        Query::new(Vec::new(), Match::All)
    }

    /// The query the keyword arguments and `where` entries of a search stand for: `tag`,
    /// `email` and `user_id` first, then each condition, in order.
    pub fn from_input(input: QueryInput) -> Result<Query> {
        let mut filters = Vec::new();
        if let Some(tag) = input.tag {
            filters.push(Filter::check("tagsData", "=", tag, At::named("tag"))?);
        }
        if let Some(email) = input.email {
            filters.push(Filter::check("email", "=", email, At::named("email"))?);
        }
        if let Some(user_id) = input.user_id {
            filters.push(Filter::check("userId", "=", user_id, At::named("user_id"))?);
        }
        for (i, condition) in input.conditions.into_iter().enumerate() {
            let at = At::item("where", i);
            filters.push(match condition {
                Condition::Text(text) => Filter::parse_at(&text, at)?,
                Condition::Triple {
                    field,
                    operator,
                    value,
                } => Filter::check(&field, &operator, value, at)?,
            });
        }
        let matching = match input.matching {
            Some(text) => Match::parse(&text)?,
            None => Match::All,
        };
        Ok(Query::new(filters, matching))
    }

    pub fn filters(&self) -> &[Filter] {
        &self.filters
    }

    pub fn matching(&self) -> Match {
        self.matching
    }

    /// No filters: pages come from the account's list rather than a search.
    pub fn lists_everyone(&self) -> bool {
        self.filters.is_empty()
    }

    /// The body of `POST /customers/search` for one page, keys in the documented order.
    pub(crate) fn search_body(&self, offset: u64, limit: u64) -> Vec<u8> {
        format!(
            "{{{},\"limit\":{limit},\"offset\":{offset},\"sort\":\"{FIELD_PREFIX}{SORT_KEY}\",\
             \"order\":\"{SORT_ORDER}\"}}",
            self.encoded
        )
        .into_bytes()
    }

    /// The query string of `GET /customers` for one page.
    pub(crate) fn list_query(offset: u64, limit: u64) -> String {
        format!("offset={offset}&limit={limit}&sort={FIELD_PREFIX}{SORT_KEY}&order={SORT_ORDER}")
    }
}

/// What a caller asked for, before checks (see [`Query::from_input`]).
#[derive(Debug, Clone, Default)]
pub struct QueryInput {
    pub tag: Option<Given>,
    pub email: Option<Given>,
    pub user_id: Option<Given>,
    pub conditions: Vec<Condition>,
    /// `"all"` or `"any"`; None: all.
    pub matching: Option<String>,
}

/// One `where` entry.
#[derive(Debug, Clone)]
pub enum Condition {
    /// `"FIELD OP VALUE"` (see [`Filter::parse`]).
    Text(String),
    Triple {
        field: String,
        operator: String,
        value: Given,
    },
}
