//! A customer's writable fields: their names, what a value of each may be, how a current value
//! and a wanted one compare, and the customer's fields as an update sends them. Pure logic.
//!
//! - Numbers compare by value (`15 == 15.0`), strings exactly (`"15" != 15`), bools as bools.
//! - A top-level field with no value is `null`; a `customData` key with no value is absent.
//! - `customData` comes as an object in newer responses and as `[{"property", "value"}]` in
//!   older ones: both are read as the object.

use std::fmt;

use serde_json::{Map, Value};

use super::super::error::{excerpt, Error, Result};

/// The top-level fields a sync writes, by HelpCrunch's names. `unsubscribed` and `blocked` are
/// bools, the others strings.
pub const TOP_FIELDS: [&str; 8] = [
    "name",
    "email",
    "userId",
    "company",
    "phone",
    "notes",
    "unsubscribed",
    "blocked",
];

/// The prefix of a custom field's name (`customData.plan`).
pub const CUSTOM_PREFIX: &str = "customData.";

/// One writable field.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// One of [`TOP_FIELDS`].
    Top(&'static str),
    /// A `customData` key.
    Custom(String),
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::Top(name) => f.write_str(name),
            Field::Custom(key) => write!(f, "{CUSTOM_PREFIX}{key}"),
        }
    }
}

impl Field {
    /// The field a name (`company`, `customData.plan`) names; None for any other name.
    pub fn parse(name: &str) -> Option<Field> {
        if let Some(key) = name.strip_prefix(CUSTOM_PREFIX) {
            return (!key.trim().is_empty() && !key.chars().any(char::is_control))
                .then(|| Field::Custom(key.to_owned()));
        }
        TOP_FIELDS
            .iter()
            .find(|f| **f == name)
            .map(|f| Field::Top(f))
    }

    /// A field by name, or a ValueError saying which names are fields.
    pub fn named(name: &str) -> Result<Field> {
        Field::parse(name).ok_or_else(|| {
            Error::value_error(format!(
                "{:?} is not a customer field: the fields are {}, and customData.<key>",
                excerpt(name, 60),
                TOP_FIELDS.join(", ")
            ))
        })
    }

    fn is_bool(&self) -> bool {
        matches!(self, Field::Top("unsubscribed" | "blocked"))
    }

    /// Why `value` cannot be this field's (None when it can). Null is always allowed: no value.
    pub fn refuses(&self, value: &Value) -> Option<String> {
        let what = match value {
            Value::Null => return None,
            Value::Bool(_) if self.is_bool() => return None,
            Value::String(_) if matches!(self, Field::Top(_)) && !self.is_bool() => return None,
            Value::Bool(_) | Value::String(_) | Value::Number(_)
                if matches!(self, Field::Custom(_)) =>
            {
                return None
            }
            Value::Bool(_) => "a bool",
            Value::Number(n) if n.is_i64() || n.is_u64() => "an int",
            Value::Number(_) => "a float",
            Value::String(_) => "a str",
            Value::Array(_) => "a list",
            Value::Object(_) => "a mapping",
        };
        let wanted = match self {
            Field::Top(_) if self.is_bool() => "a bool",
            Field::Top(_) => "a str",
            Field::Custom(_) => "a str, a number or a bool",
        };
        Some(format!("{self}: {what}, not {wanted}"))
    }
}

/// Whether two values are the same for a sync: numbers by value, everything else exactly;
/// None (no value) equals only None or null.
pub fn same(current: Option<&Value>, wanted: Option<&Value>) -> bool {
    let current = current.filter(|v| !v.is_null());
    let wanted = wanted.filter(|v| !v.is_null());
    match (current, wanted) {
        (None, None) => true,
        (Some(Value::Number(a)), Some(Value::Number(b))) => {
            match (a.as_i64(), b.as_i64(), a.as_u64(), b.as_u64()) {
                (Some(x), Some(y), _, _) => x == y,
                (_, _, Some(x), Some(y)) => x == y,
                _ => match (a.as_f64(), b.as_f64()) {
                    (Some(x), Some(y)) => x == y,
                    _ => a.as_str() == b.as_str(),
                },
            }
        }
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// A customer's writable fields as an update sends them: every top-level field (null when it
/// has no value) and `customData` as one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields(pub Map<String, Value>);

impl Fields {
    /// Read from a customer as the server sent it.
    pub fn of_customer(customer: &Map<String, Value>) -> Fields {
        let mut map = Map::new();
        for name in TOP_FIELDS {
            map.insert(
                name.to_owned(),
                customer.get(name).cloned().unwrap_or(Value::Null),
            );
        }
        let custom = custom_data(customer.get("customData"));
        map.insert("customData".to_owned(), Value::Object(custom));
        Fields(map)
    }

    /// The field's value, None when it has none.
    pub fn get(&self, field: &Field) -> Option<&Value> {
        let value = match field {
            Field::Top(name) => self.0.get(*name),
            Field::Custom(key) => self.custom().and_then(|c| c.get(key)),
        };
        value.filter(|v| !v.is_null())
    }

    fn custom(&self) -> Option<&Map<String, Value>> {
        self.0.get("customData").and_then(Value::as_object)
    }

    /// Set (or, with None, empty) one field.
    pub fn set(&mut self, field: &Field, value: Option<Value>) {
        match field {
            Field::Top(name) => {
                self.0
                    .insert((*name).to_owned(), value.unwrap_or(Value::Null));
            }
            Field::Custom(key) => {
                let custom = self
                    .0
                    .entry("customData")
                    .or_insert_with(|| Value::Object(Map::new()));
                if !custom.is_object() {
                    *custom = Value::Object(Map::new());
                }
                let custom = custom.as_object_mut().expect("made an object above");
                match value.filter(|v| !v.is_null()) {
                    Some(v) => {
                        custom.insert(key.clone(), v);
                    }
                    None => {
                        custom.shift_remove(key);
                    }
                }
            }
        }
    }

    /// The whole `customData` object (empty when it has none).
    pub fn custom_data(&self) -> Value {
        Value::Object(self.custom().cloned().unwrap_or_default())
    }
}

/// `customData` as an object, from either shape the API sends (anything else: empty).
pub fn custom_data(value: Option<&Value>) -> Map<String, Value> {
    match value {
        Some(Value::Object(map)) => map.clone(),
        Some(Value::Array(entries)) => entries
            .iter()
            .filter_map(|e| {
                let key = e.get("property")?.as_str()?;
                Some((
                    key.to_owned(),
                    e.get("value").cloned().unwrap_or(Value::Null),
                ))
            })
            .filter(|(_, v)| !v.is_null())
            .collect(),
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn num(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn numbers_compare_by_value_strings_exactly() {
        assert!(same(Some(&num("15")), Some(&num("15.0"))));
        assert!(same(Some(&num("1e2")), Some(&num("100"))));
        assert!(!same(Some(&json!("15")), Some(&num("15"))));
        assert!(!same(Some(&json!("Pro")), Some(&json!("pro"))));
        assert!(!same(Some(&json!(true)), Some(&num("1"))));
        assert!(same(Some(&Value::Null), None));
        assert!(!same(Some(&json!("")), None), "an empty string is a value");
        let big = "18446744073709551615";
        assert!(same(Some(&num(big)), Some(&num(big))));
        assert!(!same(Some(&num(big)), Some(&num("18446744073709551614"))));
    }

    #[test]
    fn field_names_are_the_writable_ones_and_custom_keys() {
        assert_eq!(Field::parse("company"), Some(Field::Top("company")));
        assert_eq!(
            Field::parse("customData.plan"),
            Some(Field::Custom("plan".into()))
        );
        for bad in [
            "Company",
            "tags",
            "id",
            "customData.",
            "customData",
            "firstSeen",
        ] {
            assert_eq!(Field::parse(bad), None, "{bad}");
        }
        let words = Field::named("compnay").unwrap_err().to_string();
        assert!(words.contains("not a customer field"), "{words}");
        assert_eq!(Field::Custom("mrr".into()).to_string(), "customData.mrr");
    }

    #[test]
    fn each_field_takes_values_of_its_type() {
        let company = Field::Top("company");
        assert_eq!(company.refuses(&json!("Initech")), None);
        assert_eq!(
            company.refuses(&json!(15)).as_deref(),
            Some("company: an int, not a str")
        );
        assert!(Field::Top("blocked").refuses(&json!("yes")).is_some());
        assert_eq!(Field::Top("blocked").refuses(&json!(true)), None);
        let plan = Field::Custom("plan".into());
        for ok in [
            json!("pro"),
            json!(3),
            json!(2.5),
            json!(false),
            Value::Null,
        ] {
            assert_eq!(plan.refuses(&ok), None);
        }
        assert!(plan.refuses(&json!([1])).is_some());
    }

    #[test]
    fn fields_read_either_custom_data_shape_and_set_or_empty_a_field() {
        let older = json!({"id": 1, "company": "Globex", "customData": [
            {"property": "plan", "value": "basic"}, {"property": "mrr", "value": 10}]});
        let mut fields = Fields::of_customer(older.as_object().unwrap());
        assert_eq!(fields.get(&Field::Top("company")), Some(&json!("Globex")));
        assert_eq!(fields.get(&Field::Top("phone")), None);
        assert_eq!(fields.get(&Field::Custom("mrr".into())), Some(&json!(10)));
        fields.set(&Field::Custom("plan".into()), Some(json!("pro")));
        fields.set(&Field::Custom("mrr".into()), None);
        fields.set(&Field::Top("company"), None);
        assert_eq!(fields.custom_data(), json!({"plan": "pro"}));
        assert_eq!(fields.0["company"], Value::Null);
    }
}
