//! The calls this client makes: each one's name, HTTP method, path and body, written once.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::body::BodyKind;
use super::names::names;
use super::query::Query;
use super::validate::{tags_body, CustomerId, Tag, TagUse};

/// A kind of call, without its arguments. Its [`name`](Call::name) is how the Python layer (and
/// anything else outside the core) asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Call {
    RemoveTags,
    AddTags,
    GetCustomer,
    SearchCustomers,
    ListCustomers,
    UpdateCustomer,
    UpdateCustomers,
    CreateCustomer,
    DeleteCustomer,
}

names!(Call {
    RemoveTags => "remove_tags",
    AddTags => "add_tags",
    GetCustomer => "get_customer",
    SearchCustomers => "search_customers",
    ListCustomers => "list_customers",
    UpdateCustomer => "update_customer",
    UpdateCustomers => "update_customers",
    CreateCustomer => "create_customer",
    DeleteCustomer => "delete_customer",
});

impl Call {
    pub const fn method(self) -> &'static str {
        match self {
            Call::RemoveTags => "DELETE",
            Call::AddTags => "PUT",
            Call::GetCustomer | Call::ListCustomers => "GET",
            Call::SearchCustomers | Call::CreateCustomer => "POST",
            Call::UpdateCustomer => "PATCH",
            Call::UpdateCustomers => "PUT",
            Call::DeleteCustomer => "DELETE",
        }
    }

    /// Whether sending it twice does what sending it once does: a create does not (a retry
    /// after a request that may have arrived could make the customer twice), so it is sent
    /// again only after a 429, which did nothing.
    pub const fn retries_safely(self) -> bool {
        !matches!(self, Call::CreateCustomer)
    }

    /// How the call's tags are checked, for the calls that take tags.
    pub const fn tag_use(self) -> Option<TagUse> {
        match self {
            Call::RemoveTags => Some(TagUse::Remove),
            Call::AddTags => Some(TagUse::Add),
            _ => None,
        }
    }

    /// Whether the call is made by id and tags alone (what `call` takes by name), rather than
    /// on a page of customers or with fields.
    pub const fn is_per_customer(self) -> bool {
        matches!(self, Call::RemoveTags | Call::AddTags | Call::GetCustomer)
    }

    /// What its 2xx body must be.
    pub const fn body_kind(self) -> BodyKind {
        match self {
            Call::RemoveTags
            | Call::AddTags
            | Call::GetCustomer
            | Call::UpdateCustomer
            | Call::CreateCustomer => BodyKind::Customer,
            Call::SearchCustomers | Call::ListCustomers => BodyKind::Page,
            // Not documented: any JSON, or nothing.
            Call::UpdateCustomers | Call::DeleteCustomer => BodyKind::Any,
        }
    }
}

/// One HTTP call with its checked arguments.
#[derive(Debug, Clone)]
pub enum Operation {
    RemoveTags(CustomerId, Vec<Tag>),
    AddTags(CustomerId, Vec<Tag>),
    GetCustomer(CustomerId),
    /// One page of the customers a query matches, sorted oldest first.
    SearchCustomers {
        query: Arc<Query>,
        offset: u64,
        limit: u64,
    },
    /// One page of every customer, sorted oldest first.
    ListCustomers {
        offset: u64,
        limit: u64,
    },
    /// `PATCH /customers/<id>`: only the fields sent change.
    UpdateCustomer(CustomerId, Map<String, Value>),
    /// `PUT /customers/batch`: 1 to 10 customers, each with `"customer": <id>`.
    UpdateCustomers(Vec<Map<String, Value>>),
    /// `POST /customers`.
    CreateCustomer(Map<String, Value>),
    /// `DELETE /customers/<id>`.
    DeleteCustomer(CustomerId),
}

impl Operation {
    /// The call that changes `tags` on customer `id` as `tag_use` says.
    pub fn tags(tag_use: TagUse, id: CustomerId, tags: Vec<Tag>) -> Operation {
        match tag_use {
            TagUse::Add => Operation::AddTags(id, tags),
            TagUse::Remove => Operation::RemoveTags(id, tags),
        }
    }

    /// The page of `query` from `offset`, at most `limit` customers: a search, or the list of
    /// the whole account when the query has no filters.
    pub fn page(query: &Arc<Query>, offset: u64, limit: u64) -> Operation {
        if query.lists_everyone() {
            Operation::ListCustomers { offset, limit }
        } else {
            Operation::SearchCustomers {
                query: query.clone(),
                offset,
                limit,
            }
        }
    }

    pub fn call(&self) -> Call {
        match self {
            Operation::RemoveTags(..) => Call::RemoveTags,
            Operation::AddTags(..) => Call::AddTags,
            Operation::GetCustomer(_) => Call::GetCustomer,
            Operation::SearchCustomers { .. } => Call::SearchCustomers,
            Operation::ListCustomers { .. } => Call::ListCustomers,
            Operation::UpdateCustomer(..) => Call::UpdateCustomer,
            Operation::UpdateCustomers(_) => Call::UpdateCustomers,
            Operation::CreateCustomer(_) => Call::CreateCustomer,
            Operation::DeleteCustomer(_) => Call::DeleteCustomer,
        }
    }

    pub fn method(&self) -> &'static str {
        self.call().method()
    }

    /// The path under the base URL. The id is a number, so it can never change the path's shape.
    pub fn path(&self) -> String {
        match self {
            Operation::RemoveTags(id, _) | Operation::AddTags(id, _) => {
                format!("/customers/{id}/tags")
            }
            Operation::GetCustomer(id)
            | Operation::UpdateCustomer(id, _)
            | Operation::DeleteCustomer(id) => format!("/customers/{id}"),
            Operation::SearchCustomers { .. } => "/customers/search".to_string(),
            Operation::ListCustomers { .. } | Operation::CreateCustomer(_) => {
                "/customers".to_string()
            }
            Operation::UpdateCustomers(_) => "/customers/batch".to_string(),
        }
    }

    /// The query string, for the calls that send one (numbers and fixed words only).
    pub fn query_string(&self) -> Option<String> {
        match self {
            Operation::ListCustomers { offset, limit } => Some(Query::list_query(*offset, *limit)),
            _ => None,
        }
    }

    /// The JSON body, for the calls that send one.
    pub fn body(&self) -> Option<Vec<u8>> {
        match self {
            Operation::RemoveTags(_, tags) | Operation::AddTags(_, tags) => Some(tags_body(tags)),
            Operation::SearchCustomers {
                query,
                offset,
                limit,
            } => Some(query.search_body(*offset, *limit)),
            Operation::UpdateCustomer(_, fields) | Operation::CreateCustomer(fields) => {
                Some(serde_json::to_vec(fields).expect("a JSON object always encodes"))
            }
            Operation::UpdateCustomers(customers) => {
                Some(serde_json::to_vec(customers).expect("JSON objects always encode"))
            }
            Operation::GetCustomer(_)
            | Operation::ListCustomers { .. }
            | Operation::DeleteCustomer(_) => None,
        }
    }

    /// The customer the call is about, for the calls about one.
    pub fn customer_id(&self) -> Option<CustomerId> {
        match self {
            Operation::RemoveTags(id, _)
            | Operation::AddTags(id, _)
            | Operation::GetCustomer(id)
            | Operation::UpdateCustomer(id, _)
            | Operation::DeleteCustomer(id) => Some(*id),
            Operation::SearchCustomers { .. }
            | Operation::ListCustomers { .. }
            | Operation::UpdateCustomers(_)
            | Operation::CreateCustomer(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_call_is_found_by_its_name_and_no_other() {
        for call in Call::ALL {
            assert_eq!(Call::from_name(call.name()), Some(call));
        }
        assert_eq!(Call::from_name("remove"), None);
        assert_eq!(Call::from_name(""), None);
    }

    #[test]
    fn a_query_without_filters_pages_through_the_list() {
        let everyone = Arc::new(Query::everyone());
        let op = Operation::page(&everyone, 200, 100);
        assert_eq!((op.method(), op.path().as_str()), ("GET", "/customers"));
        assert_eq!(
            op.query_string().as_deref(),
            Some("offset=200&limit=100&sort=customers.firstSeen&order=asc")
        );
        assert_eq!(op.body(), None);
        let leads = Arc::new(Query::new(
            vec![crate::core::query::Filter::new("tagsData", "=", "Lead").unwrap()],
            crate::core::query::Match::All,
        ));
        let op = Operation::page(&leads, 0, 10);
        assert_eq!(
            (op.method(), op.path().as_str()),
            ("POST", "/customers/search")
        );
        assert_eq!(op.query_string(), None);
        assert!(op.body().is_some());
        assert_eq!(op.customer_id(), None);
    }
}
