//! A search's arguments from Python: what kind of thing each one is, as the core's
//! `QueryInput`; the core judges the values.

use pyo3::exceptions::{PyKeyError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyFloat, PyInt, PyList, PyString};

use super::{int_setting, is_mapping, reading, repr, type_name, wrong_type, Refused};
use crate::core::query::{Condition, Given, Operator, QueryInput};
use crate::core::{Error, Setting};

/// A filter value as the core takes it (`core::query::Given`): strings, numbers (numpy's too),
/// None, bools, `{"name": …}` mappings, and at the top level any iterable of those (a list of
/// tag names). Anything else is passed on by its type's name, for the core to refuse.
fn given(obj: &Bound<'_, PyAny>, top: bool, what: &str) -> Result<Given, Refused> {
    let py = obj.py();
    if obj.is_none() {
        return Ok(Given::Null);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Given::Bool(b.is_true()));
    }
    if let Ok(text) = obj.cast::<PyString>() {
        let text = text.to_str().map_err(|_| {
            Error::value_error(format!("{what} is not valid text (lone surrogates)"))
        })?;
        return Ok(Given::Text(text.to_owned()));
    }
    if obj.is_instance_of::<PyFloat>() {
        return Ok(Given::Float(
            obj.extract::<f64>().map_err(Refused::Passthrough)?,
        ));
    }
    if obj.is_instance_of::<PyInt>() {
        return Ok(Given::Integer(obj.extract::<i128>().ok()));
    }
    if obj.is_instance_of::<PyBytes>() || obj.is_instance_of::<PyByteArray>() {
        return Ok(Given::Other(type_name(obj)?));
    }
    let unreadable = || Error::type_error(format!("{what} cannot be inspected"));
    if is_mapping(obj).map_err(|e| reading(py, e, unreadable))? {
        return match obj.get_item("name") {
            Ok(name) => Ok(Given::Mapping(Some(Box::new(given(&name, false, what)?)))),
            Err(e) if e.is_instance_of::<PyKeyError>(py) => Ok(Given::Mapping(None)),
            Err(e) => Err(reading(py, e, || {
                Error::type_error(format!("{what} is a mapping that cannot be read"))
            })),
        };
    }
    let has = |name: &str| obj.hasattr(name).map_err(|e| reading(py, e, unreadable));
    // numpy and pandas integers are not `int` but implement `__index__`; their floats (those
    // that are not Python floats already) implement `__float__`.
    if has("__index__")? {
        let index = py
            .import("operator")
            .and_then(|op| op.call_method1("index", (obj,)))
            .map_err(|e| {
                reading(py, e, || {
                    Error::type_error(format!("{what}: its __index__ failed"))
                })
            })?;
        return Ok(Given::Integer(index.extract::<i128>().ok()));
    }
    if has("__float__")? && !has("__iter__")? {
        let x = py
            .get_type::<PyFloat>()
            .call1((obj,))
            .and_then(|f| f.extract::<f64>())
            .map_err(|e| {
                reading(py, e, || {
                    Error::type_error(format!("{what}: its __float__ failed"))
                })
            })?;
        return Ok(Given::Float(x));
    }
    if top {
        let items = match obj.try_iter() {
            Ok(items) => Some(items),
            // Not iterable: a value of a type the core refuses by name.
            Err(e) if e.is_instance_of::<PyTypeError>(py) => None,
            Err(e) => {
                return Err(reading(py, e, || {
                    Error::type_error(format!("{what} cannot be iterated over"))
                }))
            }
        };
        if let Some(items) = items {
            let mut list = Vec::new();
            for item in items {
                let item = item.map_err(|e| {
                    let text = e.to_string();
                    reading(py, e, || {
                        Error::type_error(format!("iterating over {what} failed: {text}"))
                    })
                })?;
                list.push(given(&item, false, what)?);
            }
            return Ok(Given::List(list));
        }
    }
    Ok(Given::Other(type_name(obj)?))
}

fn text_argument(obj: &Bound<'_, PyAny>, what: &str) -> Result<String, Refused> {
    match obj.cast::<PyString>() {
        Ok(text) => text.to_str().map(str::to_owned).map_err(|_| {
            Error::value_error(format!("{what} is not valid text (lone surrogates)")).into()
        }),
        Err(_) => Err(wrong_type(what, "a str", obj)),
    }
}

const WHERE_SHAPE: &str =
    "a list of (field, operator, value) triples or 'FIELD OPERATOR VALUE' strings";

/// `where`: an iterable of `(field, operator, value)` or `"FIELD OP VALUE"`.
fn conditions(obj: &Bound<'_, PyAny>) -> Result<Vec<Condition>, Refused> {
    let py = obj.py();
    let mapping = is_mapping(obj)
        .map_err(|e| reading(py, e, || Error::type_error("where cannot be inspected")))?;
    if obj.is_instance_of::<PyString>() || mapping || obj.is_instance_of::<PyBytes>() {
        return Err(wrong_type("where", WHERE_SHAPE, obj));
    }
    if let Ok(tuple) = obj.cast::<pyo3::types::PyTuple>() {
        // where=("lastSeen", ">=", 1): one condition, not wrapped in a list.
        let looks_like_one = tuple.len() == 3
            && tuple
                .get_item(1)
                .ok()
                .and_then(|op| op.extract::<String>().ok())
                .is_some_and(|op| Operator::parse(&op).is_some());
        if looks_like_one {
            return Err(Error::type_error(format!(
                "where must be {WHERE_SHAPE}; for one condition write where=[{}]",
                repr(obj)?
            ))
            .into());
        }
    }
    let items = match obj.try_iter() {
        Ok(items) => items,
        Err(e) => {
            let name = type_name(obj)?;
            return Err(reading(py, e, || {
                Error::type_error(format!("where must be {WHERE_SHAPE}, not {name}"))
            }));
        }
    };
    let mut out = Vec::new();
    for (i, item) in items.enumerate() {
        let at = format!("where[{i}]");
        let item = item.map_err(|e| {
            let text = e.to_string();
            reading(py, e, || {
                Error::type_error(format!("iterating over where failed at {at}: {text}"))
            })
        })?;
        if item.is_instance_of::<PyString>() {
            out.push(Condition::Text(text_argument(&item, &at)?));
            continue;
        }
        let parts: Option<Vec<Bound<'_, PyAny>>> =
            if item.is_instance_of::<pyo3::types::PyTuple>() || item.is_instance_of::<PyList>() {
                // A subclass may iterate in code of its own, which may raise.
                let unreadable = || Error::type_error(format!("{at} cannot be iterated over"));
                let parts = item
                    .try_iter()
                    .and_then(|it| it.collect::<PyResult<Vec<_>>>())
                    .map_err(|e| reading(py, e, unreadable))?;
                Some(parts)
            } else {
                None
            };
        match parts {
            Some(parts) if parts.len() == 3 => out.push(Condition::Triple {
                field: text_argument(&parts[0], &format!("{at} field"))?,
                operator: text_argument(&parts[1], &format!("{at} operator"))?,
                value: given(&parts[2], true, &format!("{at} value"))?,
            }),
            Some(parts) => {
                return Err(Error::value_error(format!(
                    "{at} has {} items; a condition is (field, operator, value)",
                    parts.len()
                ))
                .into())
            }
            None => {
                return Err(Error::type_error(format!(
                    "{at} must be a (field, operator, value) triple or a 'FIELD OPERATOR VALUE' \
                     string, not {}",
                    type_name(&item)?
                ))
                .into())
            }
        }
    }
    Ok(out)
}

/// The arguments of a search, as the core's [`QueryInput`]. `None` means "not given".
pub fn query_input(
    tag: Option<&Bound<'_, PyAny>>,
    email: Option<&Bound<'_, PyAny>>,
    user_id: Option<&Bound<'_, PyAny>>,
    where_: Option<&Bound<'_, PyAny>>,
    matching: Option<&Bound<'_, PyAny>>,
) -> Result<QueryInput, Refused> {
    let keyword = |obj: Option<&Bound<'_, PyAny>>, what: &str, top: bool| {
        obj.filter(|o| !o.is_none())
            .map(|o| given(o, top, what))
            .transpose()
    };
    Ok(QueryInput {
        tag: keyword(tag, "tag", true)?,
        email: keyword(email, "email", false)?,
        user_id: keyword(user_id, "user_id", false)?,
        conditions: match where_.filter(|w| !w.is_none()) {
            Some(w) => conditions(w)?,
            None => Vec::new(),
        },
        matching: matching
            .filter(|m| !m.is_none())
            .map(|m| text_argument(m, "match"))
            .transpose()?,
    })
}

/// `limit`: None, or an int the core checks.
pub fn limit_setting(obj: &Bound<'_, PyAny>) -> Result<Option<u64>, Refused> {
    if obj.is_none() {
        return Ok(None);
    }
    int_setting(Setting::Limit, obj).map(Some)
}
