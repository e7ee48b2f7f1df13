//! The checks a filter goes through before anything is sent: a field name that is an
//! identifier, a value of its field's type, tag names as HelpCrunch takes them.

use serde_json::{Map, Number, Value};

use super::terms::{At, Given, ValueKind};
use super::FIELD_PREFIX;
use crate::core::error::{excerpt, Argument, Error, InputErrorKind, Result};
use crate::core::validate::{normalize_tags, TagInput, TagUse};

pub(super) fn unquote(text: &str) -> &str {
    for quote in ['"', '\''] {
        if text.len() >= 2 && text.starts_with(quote) && text.ends_with(quote) {
            return &text[1..text.len() - 1];
        }
    }
    text
}

pub(super) fn typed_number(text: &str) -> Option<Given> {
    if let Ok(n) = text.parse::<i128>() {
        return Some(Given::Integer(Some(n)));
    }
    text.parse::<f64>().ok().map(Given::Float)
}

/// The field without its prefix, checked to be an identifier.
pub(super) fn field_name(field: &str, at: At) -> Result<&str> {
    let name = field.strip_prefix(FIELD_PREFIX).unwrap_or(field);
    let mut chars = name.chars();
    let identifier = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if identifier {
        Ok(name)
    } else {
        Err(at.value_error(format!(
            "{:?} is not a field name (letters, digits and '_', optionally after \
             'customers.'), e.g. 'email' or 'customers.lastSeen'",
            excerpt(field, 40)
        )))
    }
}

pub(super) fn check_value(name: &str, kind: ValueKind, value: Given, at: At) -> Result<Value> {
    let wrong_type = |value: &Given| {
        at.type_error(format!(
            "{name} takes {}, not {}",
            kind.wanted(),
            value.type_name()
        ))
    };
    match (kind, value) {
        (ValueKind::Text | ValueKind::Unknown, Given::Text(text)) => Ok(Value::String(text)),
        (ValueKind::Integer | ValueKind::Number | ValueKind::Unknown, Given::Integer(n)) => {
            let number = n
                .and_then(|n| {
                    i64::try_from(n)
                        .map(Number::from)
                        .or_else(|_| u64::try_from(n).map(Number::from))
                        .ok()
                })
                .ok_or_else(|| at.value_error(format!("the value for {name} is too large")))?;
            Ok(Value::Number(number))
        }
        (ValueKind::Number | ValueKind::Unknown, Given::Float(x)) => {
            Number::from_f64(x).map(Value::Number).ok_or_else(|| {
                at.value_error(format!(
                    "{name} takes a finite number, got {}",
                    if x.is_nan() { "nan" } else { "inf" }
                ))
            })
        }
        (ValueKind::Tags, value) => tag_value(name, value, at),
        (_, value) => Err(wrong_type(&value)),
    }
}

/// One name, or a non-empty list of names or `{"name": …}` mappings, as `[{"name": …}]`.
fn tag_value(name: &str, value: Given, at: At) -> Result<Value> {
    let wrong = |what: String| {
        at.type_error(format!(
            "{name} takes a tag name or a list of tag names, not {what}"
        ))
    };
    let items = match value {
        Given::Text(text) => vec![Given::Text(text)],
        Given::Mapping(name) => vec![Given::Mapping(name)],
        Given::List(items) if items.is_empty() => {
            return Err(at.value_error(format!(
                "{name} takes at least one tag name; the list is empty"
            )))
        }
        Given::List(items) => items,
        other => return Err(wrong(other.type_name())),
    };
    let mut tags = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let text = match item {
            Given::Text(text) => text,
            Given::Mapping(Some(name)) => match *name {
                Given::Text(text) => text,
                other => return Err(wrong(format!("a tag whose name is {}", other.type_name()))),
            },
            Given::Mapping(None) => {
                return Err(at.value_error(format!(
                    "{name} takes tag names; tag {i} is a mapping without 'name'"
                )))
            }
            other => return Err(wrong(format!("a list holding {}", other.type_name()))),
        };
        tags.push(TagInput {
            name: text,
            color: None,
            position: Some(i),
        });
    }
    let tags = normalize_tags(tags, TagUse::Remove).map_err(|e| match (at.0, e.argument()) {
        // `tag=[…]`: about the item at fault, which the message names as the tag list does.
        (Some((argument, None)), Some(item)) if item.index.is_some() => Error::InvalidInput {
            kind: InputErrorKind::Value,
            message: format!("{argument}: {name}: {e}"),
            argument: Some(Box::new(Argument {
                name: argument,
                index: item.index,
                detail: item.detail.clone(),
            })),
        },
        _ => at.value_error(format!("{name}: {e}")),
    })?;
    Ok(Value::Array(
        tags.into_iter()
            .map(|t| {
                let mut map = Map::with_capacity(1);
                map.insert("name".into(), Value::String(t.name));
                Value::Object(map)
            })
            .collect(),
    ))
}
