//! Python values in (customer ids, tags) and JSON out (the customer as plain dicts and lists).

use jiter::{FloatMode, PartialMode, PythonParse, StringCacheMode};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString};
use serde_json::{Map, Value};

use pyo3::exceptions::{PyException, PyKeyError, PyOverflowError, PyTypeError};
use pyo3::sync::PyOnceLock;

use super::errors::to_py_err;
use crate::core::query::{Condition, Given, Operator, QueryInput};
use crate::core::validate::normalize_tags;
use crate::core::{Call, CustomerId, Error, Operation, Response, Setting, TagInput, TagUse};

/// Why an input was not taken: bad input (raised as `TypeError`/`ValueError`, with the
/// exception the caller's object raised, if any, as its `__cause__`), or an exception that is
/// nobody's input error, such as a `KeyboardInterrupt` while a generator of tags ran, which
/// passes through untouched. Nothing a Python call raised is ever dropped.
pub enum Refused {
    Input(Error),
    InputBecause(Error, PyErr),
    Passthrough(PyErr),
}

impl From<Error> for Refused {
    fn from(e: Error) -> Self {
        Refused::Input(e)
    }
}

impl From<PyErr> for Refused {
    fn from(e: PyErr) -> Self {
        Refused::Passthrough(e)
    }
}

impl Refused {
    pub fn into_py_err(self, py: Python<'_>) -> PyErr {
        match self {
            Refused::Input(e) => to_py_err(py, e),
            Refused::InputBecause(e, cause) => {
                let err = to_py_err(py, e);
                err.set_cause(py, Some(cause));
                err
            }
            Refused::Passthrough(e) => e,
        }
    }
}

/// An exception the caller's object raised while being read: an `Exception` means the input is
/// bad (described by `refuse`, the exception kept as the cause); a `BaseException` (Ctrl-C,
/// SystemExit) is passed on unchanged.
fn reading(py: Python<'_>, err: PyErr, refuse: impl FnOnce() -> Error) -> Refused {
    if err.is_instance_of::<PyException>(py) {
        Refused::InputBecause(refuse(), err)
    } else {
        Refused::Passthrough(err)
    }
}

/// The name of `obj`'s type, for messages. Python 3.10 reads it as an attribute of the type,
/// which a metaclass may turn into code that raises: that is not lost either.
pub fn type_name(obj: &Bound<'_, PyAny>) -> Result<String, Refused> {
    match obj.get_type().name() {
        Ok(name) => Ok(name.to_string_lossy().into_owned()),
        Err(e) => Err(reading(obj.py(), e, || {
            Error::type_error("an argument's type has a name that cannot be read")
        })),
    }
}

/// `repr(obj)`, for quoting a value in a message exactly as the caller would have typed it.
fn repr(obj: &Bound<'_, PyAny>) -> Result<String, Refused> {
    match obj.repr() {
        Ok(text) => Ok(text.to_string_lossy().into_owned()),
        Err(e) => Err(reading(obj.py(), e, || {
            Error::type_error("an argument's repr() failed")
        })),
    }
}

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

static MAPPING_ABC: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// `isinstance(obj, collections.abc.Mapping)`. The check may run the caller's code (a
/// metaclass's `__instancecheck__`, a `__class__` property), so what it raises is passed on:
/// pyo3's own `PyMapping` cast would print it as "Exception ignored" and carry on.
fn is_mapping(obj: &Bound<'_, PyAny>) -> PyResult<bool> {
    if obj.is_instance_of::<PyDict>() {
        return Ok(true);
    }
    let py = obj.py();
    let abc = MAPPING_ABC.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
        Ok(py.import("collections.abc")?.getattr("Mapping")?.unbind())
    })?;
    obj.is_instance(abc.bind(py))
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

// --- search queries: what kind of thing each argument is; the core judges the values -------

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

// --- settings: only their types are judged here; the core judges their values --------------

fn wrong_type(name: &str, wanted: &str, obj: &Bound<'_, PyAny>) -> Refused {
    match type_name(obj) {
        Ok(type_name) => {
            Error::type_error(format!("{name} must be {wanted}, not {type_name}")).into()
        }
        Err(e) => e,
    }
}

pub fn text_setting(name: &str, obj: &Bound<'_, PyAny>) -> Result<String, Refused> {
    match obj.cast::<PyString>() {
        Ok(text) => match text.to_str() {
            Ok(text) => Ok(text.to_owned()),
            Err(_) => Err(Error::value_error(format!(
                "{name} is not valid text (lone surrogates)"
            ))
            .into()),
        },
        Err(_) => Err(wrong_type(name, "a str", obj)),
    }
}

/// An int or a float (not a bool), and its repr for a message. An int too large for a float is
/// the largest float of its sign, which the core judges as it would 1e308.
pub fn float_setting(setting: Setting, obj: &Bound<'_, PyAny>) -> Result<(f64, String), Refused> {
    if obj.is_instance_of::<PyBool>()
        || !(obj.is_instance_of::<PyInt>() || obj.is_instance_of::<PyFloat>())
    {
        return Err(wrong_type(setting.name(), "a number", obj));
    }
    let value = match obj.extract::<f64>() {
        Ok(value) => value,
        Err(e) if e.is_instance_of::<PyOverflowError>(obj.py()) => {
            if obj.lt(0)? {
                f64::MIN
            } else {
                f64::MAX
            }
        }
        Err(e) => {
            return Err(reading(obj.py(), e, || {
                Error::type_error(format!("{} cannot be read as a number", setting.name()))
            }))
        }
    };
    Ok((value, repr(obj)?))
}

/// An int (not a bool), checked against the setting's range by the core, which quotes it as
/// Python shows it.
pub fn int_setting<T: TryFrom<u64>>(
    setting: Setting,
    obj: &Bound<'_, PyAny>,
) -> Result<T, Refused> {
    if obj.is_instance_of::<PyBool>() || !obj.is_instance_of::<PyInt>() {
        return Err(wrong_type(setting.name(), "an int", obj));
    }
    // Python's ints have no bound: one past i128 is simply out of range.
    let value = match obj.extract::<i128>() {
        Ok(value) => Some(value),
        Err(e) if e.is_instance_of::<PyOverflowError>(obj.py()) => None,
        Err(e) => {
            return Err(reading(obj.py(), e, || {
                Error::type_error(format!("{} cannot be read as an int", setting.name()))
            }))
        }
    };
    Ok(setting.count(value, &repr(obj)?)?)
}

/// How a customer's body becomes Python values: as Python's `json.loads` would make them. Ints
/// of any size are exact, a float past the range is `inf` (`1e999`, as `json` gives), the last of
/// repeated keys wins, in the first one's place. NaN and Infinity never get here: the core
/// refuses them, as serde_json does.
const BODY_PARSER: PythonParse = PythonParse {
    allow_inf_nan: false,
    // Keys and short values repeat from customer to customer: caching all strings measured
    // fastest in a bulk run (figures in bench/README.md).
    cache_mode: StringCacheMode::All,
    partial_mode: PartialMode::Off,
    catch_duplicate_keys: false,
    float_mode: FloatMode::Float,
};

/// The customer as a dict, parsed straight from its body; `Err` with the reason when the body
/// cannot become Python values (the core has checked it is a JSON object, but jiter, like
/// Python's `int`, refuses an integer of more than 4,300 digits).
pub fn customer_to_py<'py>(
    py: Python<'py>,
    response: &Response,
) -> Result<Bound<'py, PyAny>, String> {
    json_to_py_value(py, &response.body)
}

/// A JSON value (a customer of a page) as Python values, parsed as [`customer_to_py`] does.
pub fn json_to_py_value<'py>(py: Python<'py>, json: &[u8]) -> Result<Bound<'py, PyAny>, String> {
    BODY_PARSER.python_parse(py, json).map_err(|e| {
        format!(
            "the body cannot be turned into Python values ({})",
            e.description(json)
        )
    })
}

/// JSON to plain Python values (the sandbox's customers), every field kept as sent (order too);
/// integers of any size stay exact ints.
pub fn json_to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                let text = n.as_str();
                if text.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
                    // An integer past 64 bits: Python's int takes it exactly.
                    py.get_type::<PyInt>().call1((text,))?
                } else {
                    // Parsed here rather than with as_f64, which refuses 1e999: Python's json
                    // module gives inf for it, and so do we (with its sign).
                    PyFloat::new(py, text.parse::<f64>().unwrap_or(f64::NAN)).into_any()
                }
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(json_to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => object_to_py(py, map)?.into_any(),
    })
}

pub fn object_to_py<'py>(
    py: Python<'py>,
    map: &Map<String, Value>,
) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (key, value) in map {
        dict.set_item(key, json_to_py(py, value)?)?;
    }
    Ok(dict)
}
