//! What a change of fields holds, the requests that make it, and its log record: the field
//! half of [`crate::core::change`], whose `Edit::{SetFields, Create, Delete}` these are.
//!
//! A field change keeps the value it replaced, so its inverse is known; it also keeps the
//! customer's writable fields as the plan read them (`base`), so that a PATCH can send the
//! whole `customData` (whether HelpCrunch merges or replaces it, the result is the same) and a
//! batch update can send each customer whole.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::super::error::{excerpt, Error, Result};
use super::super::validate::CustomerId;
use super::field::{Field, Fields};

/// One field's change: the value it had (None: none) and the value it gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    pub field: Field,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

impl FieldChange {
    pub fn swapped(&self) -> FieldChange {
        FieldChange {
            field: self.field.clone(),
            before: self.after.clone(),
            after: self.before.clone(),
        }
    }
}

/// `base` with every change applied: the customer's fields once the change is made.
pub fn applied(base: &Fields, changes: &[FieldChange]) -> Fields {
    let mut fields = base.clone();
    for change in changes {
        fields.set(&change.field, change.after.clone());
    }
    fields
}

/// A PATCH body: only the top-level fields that change, and `customData` whole when a key of
/// it changes.
pub fn patch_body(base: &Fields, changes: &[FieldChange]) -> Map<String, Value> {
    let after = applied(base, changes);
    let mut body = Map::new();
    let mut custom = false;
    for change in changes {
        match &change.field {
            Field::Top(name) => {
                body.insert(
                    (*name).to_owned(),
                    change.after.clone().unwrap_or(Value::Null),
                );
            }
            Field::Custom(_) => custom = true,
        }
    }
    if custom {
        body.insert("customData".to_owned(), after.custom_data());
    }
    body
}

/// One customer of a batch update: every writable field (the changes applied) and its id.
pub fn batch_entry(id: CustomerId, base: &Fields, changes: &[FieldChange]) -> Map<String, Value> {
    let mut entry = Map::new();
    entry.insert("customer".to_owned(), Value::from(id.get()));
    for (k, v) in applied(base, changes).0 {
        entry.insert(k, v);
    }
    entry
}

/// A create's body: the fields with a value (`customData` only when it has keys).
pub fn create_body(fields: &Fields) -> Map<String, Value> {
    let mut body = Map::new();
    for (k, v) in &fields.0 {
        let empty = v.is_null() || v.as_object().is_some_and(Map::is_empty);
        if !empty {
            body.insert(k.clone(), v.clone());
        }
    }
    body
}

// --- records ----------------------------------------------------------------------------------

#[derive(Serialize, Deserialize)]
struct FieldRecord {
    field: String,
    #[serde(default)]
    before: Value,
    #[serde(default)]
    after: Value,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct SetRecord {
    pub change: String,
    pub customer_id: u64,
    fields: Vec<FieldRecord>,
    base: Map<String, Value>,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct CustomerRecord {
    pub change: String,
    pub customer_id: u64,
    fields: Map<String, Value>,
}

fn value_of(v: &Option<Value>) -> Value {
    v.clone().unwrap_or(Value::Null)
}

fn option_of(v: Value) -> Option<Value> {
    (!v.is_null()).then_some(v)
}

pub(crate) fn set_record(
    kind: &str,
    id: CustomerId,
    changes: &[FieldChange],
    base: &Fields,
) -> SetRecord {
    SetRecord {
        change: kind.to_owned(),
        customer_id: id.get(),
        fields: changes
            .iter()
            .map(|c| FieldRecord {
                field: c.field.to_string(),
                before: value_of(&c.before),
                after: value_of(&c.after),
            })
            .collect(),
        base: base.0.clone(),
    }
}

pub(crate) fn customer_record(kind: &str, id: CustomerId, fields: &Fields) -> CustomerRecord {
    CustomerRecord {
        change: kind.to_owned(),
        customer_id: id.get(),
        fields: fields.0.clone(),
    }
}

/// Every value checked as a caller's would be: a hand-edited log cannot send what a caller
/// could not.
pub fn checked_fields(map: Map<String, Value>) -> Result<Fields> {
    for (name, value) in &map {
        if name == "customData" {
            let Value::Object(custom) = value else {
                return Err(Error::value_error("customData must be an object"));
            };
            for (key, v) in custom {
                check(&Field::Custom(key.clone()), v)?;
            }
            continue;
        }
        check(&Field::named(name)?, value)?;
    }
    Ok(Fields(map))
}

fn check(field: &Field, value: &Value) -> Result<()> {
    match field.refuses(value) {
        Some(why) => Err(Error::value_error(why)),
        None => Ok(()),
    }
}

pub(crate) fn read_set(text: &str) -> Result<(CustomerId, Vec<FieldChange>, Fields)> {
    let record: SetRecord = parse(text)?;
    let id = CustomerId::new(record.customer_id)?;
    if record.fields.is_empty() {
        return Err(Error::value_error("a change of fields names at least one"));
    }
    let mut changes = Vec::with_capacity(record.fields.len());
    for f in record.fields {
        let field = Field::named(&f.field)?;
        check(&field, &f.before)?;
        check(&field, &f.after)?;
        changes.push(FieldChange {
            field,
            before: option_of(f.before),
            after: option_of(f.after),
        });
    }
    Ok((id, changes, checked_fields(record.base)?))
}

pub(crate) fn read_customer(text: &str) -> Result<(CustomerId, Fields)> {
    let record: CustomerRecord = parse(text)?;
    Ok((
        CustomerId::new(record.customer_id)?,
        checked_fields(record.fields)?,
    ))
}

fn parse<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| {
        Error::value_error(format!(
            "not the record of a change ({e}): {}",
            excerpt(text, 80)
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Fields {
        Fields::of_customer(
            json!({"company": "Globex", "phone": "1", "customData": {"plan": "basic", "mrr": 10}})
                .as_object()
                .unwrap(),
        )
    }

    #[test]
    fn a_patch_sends_the_changed_top_fields_and_custom_data_whole() {
        let changes = vec![
            FieldChange {
                field: Field::Top("company"),
                before: Some(json!("Globex")),
                after: Some(json!("Initech")),
            },
            FieldChange {
                field: Field::Custom("plan".into()),
                before: Some(json!("basic")),
                after: Some(json!("pro")),
            },
        ];
        let body = Value::Object(patch_body(&base(), &changes));
        assert_eq!(
            body,
            json!({"company": "Initech", "customData": {"plan": "pro", "mrr": 10}})
        );
        let only_top = Value::Object(patch_body(&base(), &changes[..1]));
        assert_eq!(only_top, json!({"company": "Initech"}));
        let entry = batch_entry(CustomerId::new(5).unwrap(), &base(), &changes);
        assert_eq!(entry["customer"], json!(5));
        assert_eq!(entry["phone"], json!("1"));
        assert_eq!(entry["name"], Value::Null);
        assert!(!entry.contains_key("tags"));
    }

    #[test]
    fn a_create_sends_only_fields_with_values() {
        let mut fields = Fields::of_customer(&Map::new());
        assert_eq!(Value::Object(create_body(&fields)), json!({}));
        fields.set(&Field::Top("email"), Some(json!("a@example.com")));
        fields.set(&Field::Custom("plan".into()), Some(json!("pro")));
        assert_eq!(
            Value::Object(create_body(&fields)),
            json!({"email": "a@example.com", "customData": {"plan": "pro"}})
        );
    }
}
