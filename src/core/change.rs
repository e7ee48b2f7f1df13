//! One change to one customer: the unit a plan is made of, that applying sends, that a log
//! records and that undo reverses. A change names its customer, what it does and what it
//! replaces, so its inverse is known without reading anything again.
//!
//! New kinds of change (fields set, a customer created) are new [`Edit`] variants: the plan,
//! the bulk engine, the log and undo carry a `Change` and need no new path.
//!
//! A change's record (`{"change": "remove", "customer_id": 10, "tags": [{"name": "vip",
//! "color": "#c57de0"}]}`) is what a log holds; [`Change::from_record`] reads it back with the
//! same checks as any input, so a hand-edited log cannot send what a caller could not.

use serde::{Deserialize, Serialize};

use super::error::{excerpt, Error, Result};
use super::fields::edit::applied;
use super::fields::edit::{
    create_body, customer_record, patch_body, read_customer, read_set, set_record, FieldChange,
};
use super::fields::field::Fields;
use super::operation::Operation;
use super::validate::{normalize_tags, CustomerId, Tag, TagInput, TagUse};

/// What a change does to its customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// Tags the customer gains; a colour is what a tag new to the account gets.
    AddTags(Vec<Tag>),
    /// Tags the customer loses, each with the colour it had: what the inverse puts back.
    RemoveTags(Vec<Tag>),
    /// Fields set: each with the value it replaces; `base` is the customer's writable fields
    /// as read before (what a PATCH's whole `customData`, and a batch's whole customer, are
    /// made from).
    SetFields {
        changes: Vec<FieldChange>,
        base: Fields,
    },
    /// A customer created with these fields (recorded once HelpCrunch gave it its id).
    Create(Fields),
    /// A customer deleted, with the fields it had: undo of a create.
    Delete(Fields),
}

/// The kinds of change to tags, by the name a record and a tag plan's action use.
pub const CHANGE_KINDS: [&str; 2] = ["add", "remove"];

/// The kinds of change to a customer's fields or the customer itself, by their records' name.
pub const CUSTOMER_CHANGE_KINDS: [&str; 3] = ["set", "create", "delete"];

impl Edit {
    pub const fn kind(&self) -> &'static str {
        match self {
            Edit::AddTags(_) => CHANGE_KINDS[0],
            Edit::RemoveTags(_) => CHANGE_KINDS[1],
            Edit::SetFields { .. } => CUSTOMER_CHANGE_KINDS[0],
            Edit::Create(_) => CUSTOMER_CHANGE_KINDS[1],
            Edit::Delete(_) => CUSTOMER_CHANGE_KINDS[2],
        }
    }

    /// The tags it adds or removes (none for other kinds).
    pub fn tags(&self) -> &[Tag] {
        match self {
            Edit::AddTags(tags) | Edit::RemoveTags(tags) => tags,
            Edit::SetFields { .. } | Edit::Create(_) | Edit::Delete(_) => &[],
        }
    }

    /// The fields it sets, each with the value it replaces (none for other kinds).
    pub fn field_changes(&self) -> &[FieldChange] {
        match self {
            Edit::SetFields { changes, .. } => changes,
            _ => &[],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub customer_id: CustomerId,
    pub edit: Edit,
}

/// A change as a log line holds it.
#[derive(Serialize, Deserialize)]
struct Record {
    change: String,
    customer_id: u64,
    tags: Vec<TagRecord>,
}

#[derive(Serialize, Deserialize)]
struct TagRecord {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    color: Option<String>,
}

impl Change {
    pub fn add_tags(customer_id: CustomerId, tags: Vec<Tag>) -> Change {
        Change {
            customer_id,
            edit: Edit::AddTags(tags),
        }
    }

    pub fn remove_tags(customer_id: CustomerId, tags: Vec<Tag>) -> Change {
        Change {
            customer_id,
            edit: Edit::RemoveTags(tags),
        }
    }

    /// The change that puts back what this one replaced: a removed tag comes back with the
    /// colour it had; an added one goes again.
    pub fn inverse(&self) -> Change {
        let edit = match &self.edit {
            Edit::AddTags(tags) => Edit::RemoveTags(tags.clone()),
            Edit::RemoveTags(tags) => Edit::AddTags(tags.clone()),
            Edit::SetFields { changes, base } => Edit::SetFields {
                changes: changes.iter().map(FieldChange::swapped).collect(),
                base: applied(base, changes),
            },
            Edit::Create(fields) => Edit::Delete(fields.clone()),
            Edit::Delete(fields) => Edit::Create(fields.clone()),
        };
        Change {
            customer_id: self.customer_id,
            edit,
        }
    }

    /// The request that makes it. A removal names the tags only: HelpCrunch takes no colour
    /// there, and the colours are kept for the inverse.
    pub fn operation(&self) -> Operation {
        match &self.edit {
            Edit::AddTags(tags) => Operation::AddTags(self.customer_id, tags.clone()),
            Edit::RemoveTags(tags) => Operation::RemoveTags(
                self.customer_id,
                tags.iter()
                    .map(|t| Tag {
                        name: t.name.clone(),
                        color: None,
                    })
                    .collect(),
            ),
            Edit::SetFields { changes, base } => {
                Operation::UpdateCustomer(self.customer_id, patch_body(base, changes))
            }
            Edit::Create(fields) => Operation::CreateCustomer(create_body(fields)),
            Edit::Delete(_) => Operation::DeleteCustomer(self.customer_id),
        }
    }

    /// Its record, as JSON text.
    pub fn to_record(&self) -> String {
        let kind = self.edit.kind();
        let encoded = match &self.edit {
            Edit::AddTags(_) | Edit::RemoveTags(_) => None,
            Edit::SetFields { changes, base } => Some(serde_json::to_string(&set_record(
                kind,
                self.customer_id,
                changes,
                base,
            ))),
            Edit::Create(fields) | Edit::Delete(fields) => Some(serde_json::to_string(
                &customer_record(kind, self.customer_id, fields),
            )),
        };
        if let Some(text) = encoded {
            return text.expect("a change always encodes");
        }
        let record = Record {
            change: self.edit.kind().to_owned(),
            customer_id: self.customer_id.get(),
            tags: self
                .edit
                .tags()
                .iter()
                .map(|t| TagRecord {
                    name: t.name.clone(),
                    color: t.color.clone(),
                })
                .collect(),
        };
        serde_json::to_string(&record).expect("a change always encodes")
    }

    /// A change read back from its record. The colours are kept as recorded: they are the ones
    /// HelpCrunch showed, which may be any CSS colour.
    pub fn from_record(text: &str) -> Result<Change> {
        #[derive(Deserialize)]
        struct Kind {
            change: String,
        }
        if let Ok(Kind { change }) = serde_json::from_str::<Kind>(text) {
            match change.as_str() {
                "set" => {
                    let (customer_id, changes, base) = read_set(text)?;
                    let edit = Edit::SetFields { changes, base };
                    return Ok(Change { customer_id, edit });
                }
                "create" | "delete" => {
                    let (customer_id, fields) = read_customer(text)?;
                    let edit = if change == "create" {
                        Edit::Create(fields)
                    } else {
                        Edit::Delete(fields)
                    };
                    return Ok(Change { customer_id, edit });
                }
                _ => {}
            }
        }
        let record: Record = serde_json::from_str(text).map_err(|e| {
            Error::value_error(format!(
                "not the record of a change ({e}): {}",
                excerpt(text, 80)
            ))
        })?;
        let customer_id = CustomerId::new(record.customer_id)?;
        let inputs = record
            .tags
            .iter()
            .enumerate()
            .map(|(i, t)| TagInput {
                name: t.name.clone(),
                color: None,
                position: Some(i),
            })
            .collect();
        // The names pass the checks any input passes; the colours come back as they were.
        let names = normalize_tags(inputs, TagUse::Remove)?;
        let tags = names
            .into_iter()
            .map(|tag| {
                let color = record
                    .tags
                    .iter()
                    .find(|t| t.name == tag.name)
                    .and_then(|t| t.color.clone());
                Tag { color, ..tag }
            })
            .collect();
        match record.change.as_str() {
            "add" => Ok(Change::add_tags(customer_id, tags)),
            "remove" => Ok(Change::remove_tags(customer_id, tags)),
            other => Err(Error::value_error(format!(
                "a change is one of {CHANGE_KINDS:?} or {CUSTOMER_CHANGE_KINDS:?}, not {}",
                excerpt(other, 20)
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(name: &str, color: Option<&str>) -> Tag {
        Tag {
            name: name.into(),
            color: color.map(Into::into),
        }
    }

    fn id(n: u64) -> CustomerId {
        CustomerId::new(n).unwrap()
    }

    #[test]
    fn the_inverse_of_the_inverse_is_the_change() {
        for change in [
            Change::add_tags(id(1), vec![tag("vip", Some("#c57de0"))]),
            Change::remove_tags(id(2), vec![tag("vip", Some("red")), tag("Lead", None)]),
        ] {
            assert_ne!(change.inverse(), change);
            assert_eq!(change.inverse().inverse(), change);
            assert_eq!(change.inverse().customer_id, change.customer_id);
        }
    }

    #[test]
    fn a_removal_sends_no_colour_and_its_inverse_puts_the_colour_back() {
        let removal = Change::remove_tags(id(7), vec![tag("vip", Some("#abc"))]);
        let sent = removal.operation();
        assert_eq!(
            (sent.method(), sent.path()),
            ("DELETE", "/customers/7/tags".into())
        );
        assert_eq!(sent.body().unwrap(), br#"{"tags":[{"name":"vip"}]}"#);
        let back = removal.inverse().operation();
        assert_eq!(back.method(), "PUT");
        assert_eq!(
            back.body().unwrap(),
            br##"{"tags":[{"name":"vip","color":"#abc"}]}"##
        );
    }

    #[test]
    fn a_record_reads_back_as_the_same_change() {
        for change in [
            Change::add_tags(id(1), vec![tag("vip", None)]),
            Change::remove_tags(id(u64::MAX), vec![tag("a,b \"q\"", Some("hsl(1, 2%, 3%)"))]),
        ] {
            assert_eq!(Change::from_record(&change.to_record()).unwrap(), change);
        }
    }

    fn set_change() -> Change {
        use crate::core::fields::Field;
        use serde_json::json;
        let base = Fields::of_customer(
            json!({"company": "Globex", "customData": {"plan": "basic", "mrr": 10}})
                .as_object()
                .unwrap(),
        );
        Change {
            customer_id: id(3),
            edit: Edit::SetFields {
                changes: vec![
                    FieldChange {
                        field: Field::Top("company"),
                        before: Some(json!("Globex")),
                        after: Some(json!("Initech")),
                    },
                    FieldChange {
                        field: Field::Custom("plan".into()),
                        before: Some(json!("basic")),
                        after: None,
                    },
                ],
                base,
            },
        }
    }

    #[test]
    fn field_changes_invert_read_back_and_patch_what_changes() {
        let change = set_change();
        assert_eq!(change.inverse().inverse(), change);
        assert_eq!(Change::from_record(&change.to_record()).unwrap(), change);
        let back = change.inverse();
        assert_eq!(back.edit.field_changes()[1].after, Some("basic".into()));
        let op = change.operation();
        assert_eq!((op.method(), op.path().as_str()), ("PATCH", "/customers/3"));
        assert_eq!(
            op.body().unwrap(),
            br#"{"company":"Initech","customData":{"mrr":10}}"#
        );
        let created = Change {
            customer_id: id(9),
            edit: Edit::Create(Fields::of_customer(&serde_json::Map::new())),
        };
        assert_eq!(created.inverse().edit.kind(), "delete");
        assert_eq!(created.inverse().inverse(), created);
        assert_eq!(created.inverse().operation().method(), "DELETE");
        for c in [created.clone(), created.inverse()] {
            assert_eq!(Change::from_record(&c.to_record()).unwrap(), c);
        }
    }

    #[test]
    fn a_field_record_holding_what_a_caller_could_not_send_is_refused() {
        let good = set_change().to_record();
        for (from, to) in [
            (r#""company""#, r#""tags""#),
            (r#""Initech""#, "[1]"),
            (r#""customer_id":3"#, r#""customer_id":0"#),
        ] {
            let bad = good.replacen(from, to, 1);
            assert!(Change::from_record(&bad).is_err(), "{bad}");
        }
        let blocked = r#"{"change":"create","customer_id":1,"fields":{"blocked":"yes"}}"#;
        assert!(Change::from_record(blocked).is_err());
    }

    #[test]
    fn a_bad_record_is_refused_saying_why() {
        for text in [
            "",
            "[]",
            r#"{"change":"add","customer_id":0,"tags":[{"name":"vip"}]}"#,
            r#"{"change":"add","customer_id":1,"tags":[]}"#,
            r#"{"change":"add","customer_id":1,"tags":[{"name":"  "}]}"#,
            r#"{"change":"rename","customer_id":1,"tags":[{"name":"vip"}]}"#,
            r#"{"change":"add","customer_id":-1,"tags":[{"name":"vip"}]}"#,
        ] {
            let error = Change::from_record(text).unwrap_err();
            assert!(!error.to_string().is_empty(), "{text}");
        }
    }
}
