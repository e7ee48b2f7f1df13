//! A call on one customer from Python arguments: the call's name, the customer id and the tags,
//! to a checked core `Operation`.

use pyo3::exceptions::{PyKeyError, PyOverflowError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyFloat, PyInt, PyString};

use super::{is_mapping, reading, repr, type_name, Refused};
use crate::core::validate::normalize_tags;
use crate::core::{Call, CustomerId, Error, Operation, TagInput, TagUse};

/// A positive int (or anything with `__index__`, such as a numpy integer) or a string of ASCII
/// digits. Not a bool, not a float (even 5.0: an id is never a measurement).
pub fn customer_id(obj: &Bound<'_, PyAny>) -> Result<CustomerId, Refused> {
    if obj.is_instance_of::<PyBool>() {
        return Err(Error::type_error(
            "customer_id must be an int or a string of digits, not bool",
        )
        .into());
    }
    if let Ok(text) = obj.cast::<PyString>() {
        let Ok(text) = text.to_str() else {
            return Err(Error::value_error(format!(
                "customer_id is not valid text (lone surrogates): {}",
                repr(obj)?
            ))
            .into());
        };
        return Ok(CustomerId::parse(text)?);
    }
    if obj.is_instance_of::<PyFloat>() {
        return Err(Error::type_error(
            "customer_id must be an int or a string of digits, not float (a pandas id column \
             with missing values turns float: drop them, or use .astype(\"Int64\"))",
        )
        .into());
    }
    let index = if obj.is_instance_of::<PyInt>() {
        obj.clone()
    } else {
        // numpy and pandas integers are not `int` but implement `__index__`, as an integer must.
        match obj
            .py()
            .import("operator")
            .and_then(|op| op.call_method1("index", (obj,)))
        {
            Ok(index) => index,
            Err(e) => {
                let name = type_name(obj)?;
                return Err(reading(obj.py(), e, || {
                    Error::type_error(format!(
                        "customer_id must be an int or a string of digits, not {name}"
                    ))
                }));
            }
        }
    };
    match index.extract::<u64>() {
        Ok(id) => Ok(CustomerId::new(id)?),
        Err(e) if !e.is_instance_of::<PyOverflowError>(obj.py()) => Err(e.into()),
        Err(_) if index.lt(0)? => Err(Error::value_error(format!(
            "customer_id must be a positive integer, got {}",
            repr(obj)?
        ))
        .into()),
        Err(_) => Err(Error::value_error(format!(
            "customer_id is too large to be a HelpCrunch id, got {}",
            repr(obj)?
        ))
        .into()),
    }
}

fn tag_name(obj: &Bound<'_, PyAny>, position: Option<usize>) -> Result<String, Refused> {
    let Ok(text) = obj.cast::<PyString>() else {
        return Err(Error::type_error(format!(
            "{} name must be a str, not {}",
            where_(position),
            type_name(obj)?
        ))
        .into());
    };
    match text.to_str() {
        Ok(name) => Ok(name.to_owned()),
        Err(_) => Err(Error::value_error(format!(
            "{} name is not valid text (lone surrogates): {}",
            where_(position),
            repr(obj)?
        ))
        .into()),
    }
}

fn where_(position: Option<usize>) -> String {
    match position {
        Some(i) => format!("tags[{i}]"),
        None => "the tag".to_string(),
    }
}

/// A `{"name": …, "color": …}` mapping. For tagging, keys other than those two are refused (a
/// misspelt "colour" must not be dropped silently); for untagging only the name matters, so a
/// customer's own `tags` list can be passed back as it came.
fn tag_from_mapping(
    mapping: &Bound<'_, PyAny>,
    position: Option<usize>,
    tag_use: TagUse,
) -> Result<TagInput, Refused> {
    let py = mapping.py();
    let unreadable = || {
        Error::type_error(format!(
            "{} is a mapping that cannot be read",
            where_(position)
        ))
    };
    let name = match mapping.get_item("name") {
        Ok(name) => tag_name(&name, position)?,
        Err(e) if e.is_instance_of::<PyKeyError>(py) => {
            return Err(Error::value_error(format!(
                "{} has no 'name'; a tag is a name or {{\"name\": …}}",
                where_(position)
            ))
            .into())
        }
        Err(e) => return Err(reading(py, e, unreadable)),
    };
    let color = match mapping.get_item("color") {
        Ok(color) if color.is_none() => None,
        Ok(color) => {
            let Ok(text) = color.cast::<PyString>() else {
                return Err(Error::type_error(format!(
                    "{} color must be a str like '#c57de0', not {}",
                    where_(position),
                    type_name(&color)?
                ))
                .into());
            };
            // The str's own text: str() of a subclass could run (and raise in) its __str__.
            match text.to_str() {
                Ok(text) => Some(text.to_owned()),
                Err(_) => {
                    return Err(Error::value_error(format!(
                        "{} color is not valid text (lone surrogates): {}",
                        where_(position),
                        repr(&color)?
                    ))
                    .into())
                }
            }
        }
        Err(e) if e.is_instance_of::<PyKeyError>(py) => None,
        Err(e) => return Err(reading(py, e, unreadable)),
    };
    if tag_use == TagUse::Add {
        let keys = mapping
            .call_method0("keys")
            .and_then(|keys| keys.try_iter())
            .map_err(|e| reading(py, e, unreadable))?;
        for key in keys {
            let key = key.map_err(|e| reading(py, e, unreadable))?;
            let known = key
                .cast::<PyString>()
                .is_ok_and(|k| matches!(k.to_str(), Ok("name" | "color")));
            if !known {
                return Err(Error::value_error(format!(
                    "{} has an unknown key {}; a tag has 'name' and an optional 'color'",
                    where_(position),
                    repr(&key)?
                ))
                .into());
            }
        }
    }
    Ok(TagInput {
        name,
        color,
        position,
    })
}

/// A tag name (one tag: a str is never split into characters), a single `{"name": …}` mapping,
/// or an iterable of either.
pub fn tags(obj: &Bound<'_, PyAny>, tag_use: TagUse) -> Result<Vec<TagInput>, Refused> {
    const WHAT: &str = "tags must be a tag name or a list of names / {\"name\": …} mappings";
    let py = obj.py();
    if obj.is_instance_of::<PyString>() {
        return Ok(vec![TagInput {
            name: tag_name(obj, None)?,
            color: None,
            position: None,
        }]);
    }
    if obj.is_instance_of::<PyBytes>() || obj.is_instance_of::<PyByteArray>() {
        return Err(Error::type_error(format!(
            "{WHAT}, not {} (decode it to str first)",
            type_name(obj)?
        ))
        .into());
    }
    if obj.is_none() {
        return Err(Error::type_error(format!("{WHAT}, not None")).into());
    }
    if is_mapping(obj).map_err(|e| reading(py, e, || Error::type_error(WHAT)))? {
        return Ok(vec![tag_from_mapping(obj, None, tag_use)?]);
    }
    let iter = match obj.try_iter() {
        Ok(iter) => iter,
        Err(e) => {
            let name = type_name(obj)?;
            return Err(reading(py, e, || {
                Error::type_error(format!("{WHAT}, not {name}"))
            }));
        }
    };
    let mut out = Vec::new();
    for (i, item) in iter.enumerate() {
        let item = item.map_err(|e| {
            reading(py, e, || {
                Error::type_error(format!(
                    "iterating over tags failed at tags[{i}] (the error is this one's __cause__)"
                ))
            })
        })?;
        if item.is_instance_of::<PyString>() {
            out.push(TagInput {
                name: tag_name(&item, Some(i))?,
                color: None,
                position: Some(i),
            });
        } else if is_mapping(&item).map_err(|e| {
            reading(py, e, || {
                Error::type_error(format!("tags[{i}] cannot be inspected"))
            })
        })? {
            out.push(tag_from_mapping(&item, Some(i), tag_use)?);
        } else {
            return Err(Error::type_error(format!(
                "tags[{i}] must be a tag name (str) or a mapping with 'name', not {}",
                type_name(&item)?
            ))
            .into());
        }
    }
    Ok(out)
}

/// The call named `name` (one of `core::Call`'s names).
pub fn call(name: &str) -> Result<Call, Refused> {
    Call::from_name(name).ok_or_else(|| {
        Error::value_error(format!(
            "there is no call named {}",
            crate::core::error::quote(name)
        ))
        .into()
    })
}

/// The call named `name` for these Python arguments, checked: ids and tags converted and
/// normalized, nothing sent.
pub fn operation(
    name: &str,
    customer_id: &Bound<'_, PyAny>,
    tags: Option<&Bound<'_, PyAny>>,
) -> Result<Operation, Refused> {
    call_with(call(name)?, customer_id, tags)
}

/// `call` for these Python arguments (see [`operation`]).
pub fn call_with(
    call: Call,
    customer_id: &Bound<'_, PyAny>,
    tags: Option<&Bound<'_, PyAny>>,
) -> Result<Operation, Refused> {
    if !call.is_per_customer() {
        return Err(Error::value_error(format!(
            "{} is not a call on one customer; use search_customers or list_customers",
            call.name()
        ))
        .into());
    }
    let id = self::customer_id(customer_id)?;
    let Some(tag_use) = call.tag_use() else {
        return Ok(Operation::GetCustomer(id));
    };
    // Omitted tags are refused as `None` given would be.
    let none = customer_id.py().None().into_bound(customer_id.py());
    let tags = self::tags(tags.unwrap_or(&none), tag_use)?;
    Ok(Operation::tags(tag_use, id, normalize_tags(tags, tag_use)?))
}
