//! The calls this client makes: each one's name, HTTP method, path and body, written once.

use super::validate::{tags_body, CustomerId, Tag, TagUse};

/// A kind of call, without its arguments. Its [`name`](Call::name) is how the Python layer (and
/// anything else outside the core) asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Call {
    RemoveTags,
    AddTags,
    GetCustomer,
}

impl Call {
    pub const ALL: [Call; 3] = [Call::RemoveTags, Call::AddTags, Call::GetCustomer];

    pub const fn name(self) -> &'static str {
        match self {
            Call::RemoveTags => "remove_tags",
            Call::AddTags => "add_tags",
            Call::GetCustomer => "get_customer",
        }
    }

    pub fn from_name(name: &str) -> Option<Call> {
        Call::ALL.into_iter().find(|call| call.name() == name)
    }

    pub const fn method(self) -> &'static str {
        match self {
            Call::RemoveTags => "DELETE",
            Call::AddTags => "PUT",
            Call::GetCustomer => "GET",
        }
    }

    /// How the call's tags are checked, for the calls that take tags.
    pub const fn tag_use(self) -> Option<TagUse> {
        match self {
            Call::RemoveTags => Some(TagUse::Remove),
            Call::AddTags => Some(TagUse::Add),
            Call::GetCustomer => None,
        }
    }
}

/// One HTTP call with its checked arguments.
#[derive(Debug, Clone)]
pub enum Operation {
    RemoveTags(CustomerId, Vec<Tag>),
    AddTags(CustomerId, Vec<Tag>),
    GetCustomer(CustomerId),
}

impl Operation {
    /// The call that changes `tags` on customer `id` as `tag_use` says.
    pub fn tags(tag_use: TagUse, id: CustomerId, tags: Vec<Tag>) -> Operation {
        match tag_use {
            TagUse::Add => Operation::AddTags(id, tags),
            TagUse::Remove => Operation::RemoveTags(id, tags),
        }
    }

    pub fn call(&self) -> Call {
        match self {
            Operation::RemoveTags(..) => Call::RemoveTags,
            Operation::AddTags(..) => Call::AddTags,
            Operation::GetCustomer(_) => Call::GetCustomer,
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
            Operation::GetCustomer(id) => format!("/customers/{id}"),
        }
    }

    /// The JSON body, for the calls that send one.
    pub fn body(&self) -> Option<Vec<u8>> {
        match self {
            Operation::RemoveTags(_, tags) | Operation::AddTags(_, tags) => Some(tags_body(tags)),
            Operation::GetCustomer(_) => None,
        }
    }

    pub fn customer_id(&self) -> CustomerId {
        match self {
            Operation::RemoveTags(id, _)
            | Operation::AddTags(id, _)
            | Operation::GetCustomer(id) => *id,
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
}
