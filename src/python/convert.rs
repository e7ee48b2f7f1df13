//! Python values in (customer ids, tags) and JSON out (the customer as plain dicts and lists).

use jiter::{FloatMode, PartialMode, PythonParse, StringCacheMode};
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyMapping, PyString,
};
use serde_json::{Map, Value};

use pyo3::exceptions::{PyException, PyKeyError, PyOverflowError};

use super::errors::to_py_err;
use crate::core::query::{Condition, Given, Operator, QueryInput};
use crate::core::validate::normalize_tags;
use crate::core::{Call, CustomerId, Error, Operation, Response, Setting, TagInput, TagUse};

/// Why an input was not taken: bad input (raised as `TypeError`/`ValueError`), or an exception
/// that is nobody's input error, such as a `KeyboardInterrupt` while a generator of tags ran,
/// which passes through untouched.
pub enum Refused {
    Input(Error),
    Passthrough(PyErr),
}

impl From<Error> for Refused {
    fn from(e: Error) -> Self {
        Refused::Input(e)
    }
}

impl Refused {
    pub fn into_py_err(self, py: Python<'_>) -> PyErr {
        match self {
            Refused::Input(e) => to_py_err(py, e),
            Refused::Passthrough(e) => e,
        }
    }
}

/// An exception the caller's object raised while being read: an `Exception` means the input is
/// bad (described by `refuse`); a `BaseException` (Ctrl-C, SystemExit) is passed on.
fn reading(py: Python<'_>, err: PyErr, refuse: impl FnOnce() -> Error) -> Refused {
    if err.is_instance_of::<PyException>(py) {
        Refused::Input(refuse())
    } else {
        Refused::Passthrough(err)
    }
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "object".to_string())
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
        let text = text
            .to_str()
            .map_err(|_| Error::value_error("customer_id is not valid text (lone surrogates)"))?;
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
                return Err(reading(obj.py(), e, || {
                    Error::type_error(format!(
                        "customer_id must be an int or a string of digits, not {}",
                        type_name(obj)
                    ))
                }))
            }
        }
    };
    match index.extract::<u64>() {
        Ok(id) => Ok(CustomerId::new(id)?),
        Err(_) if index.lt(0).unwrap_or(false) => Err(Error::value_error(format!(
            "customer_id must be a positive integer, got {}",
            index.str().map(|s| s.to_string()).unwrap_or_default()
        ))
        .into()),
        Err(_) => Err(Error::value_error("customer_id is too large to be a HelpCrunch id").into()),
    }
}

fn tag_name(obj: &Bound<'_, PyAny>, position: Option<usize>) -> Result<String, Error> {
    let text = obj.cast::<PyString>().map_err(|_| {
        Error::type_error(format!(
            "{} name must be a str, not {}",
            where_(position),
            type_name(obj)
        ))
    })?;
    text.to_str().map(str::to_owned).map_err(|_| {
        Error::value_error(format!(
            "{} name is not valid text (lone surrogates)",
            where_(position)
        ))
    })
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
    let mapping = mapping
        .cast::<PyMapping>()
        .map_err(|_| Error::type_error(format!("{} is not a mapping", where_(position))))?;
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
        Ok(color) => Some(
            color
                .cast::<PyString>()
                .map_err(|_| {
                    Error::type_error(format!(
                        "{} color must be a str like '#c57de0', not {}",
                        where_(position),
                        type_name(&color)
                    ))
                })?
                .to_string(),
        ),
        Err(e) if e.is_instance_of::<PyKeyError>(py) => None,
        Err(e) => return Err(reading(py, e, unreadable)),
    };
    if tag_use == TagUse::Add {
        let keys = mapping.keys().map_err(|e| reading(py, e, unreadable))?;
        for key in keys.iter() {
            let known = key
                .extract::<String>()
                .map(|k| k == "name" || k == "color")
                .unwrap_or(false);
            if !known {
                return Err(Error::value_error(format!(
                    "{} has an unknown key {}; a tag has 'name' and an optional 'color'",
                    where_(position),
                    key.repr().map(|r| r.to_string()).unwrap_or_default()
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

fn is_mapping(obj: &Bound<'_, PyAny>) -> bool {
    obj.is_instance_of::<PyDict>() || obj.cast::<PyMapping>().is_ok()
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
            type_name(obj)
        ))
        .into());
    }
    if obj.is_none() {
        return Err(Error::type_error(format!("{WHAT}, not None")).into());
    }
    if is_mapping(obj) {
        return Ok(vec![tag_from_mapping(obj, None, tag_use)?]);
    }
    let iter = obj.try_iter().map_err(|e| {
        reading(py, e, || {
            Error::type_error(format!("{WHAT}, not {}", type_name(obj)))
        })
    })?;
    let mut out = Vec::new();
    for (i, item) in iter.enumerate() {
        let item = item.map_err(|e| {
            let text = e.to_string();
            reading(py, e, || {
                Error::type_error(format!("iterating over tags failed at tags[{i}]: {text}"))
            })
        })?;
        if item.is_instance_of::<PyString>() {
            out.push(TagInput {
                name: tag_name(&item, Some(i))?,
                color: None,
                position: Some(i),
            });
        } else if is_mapping(&item) {
            out.push(tag_from_mapping(&item, Some(i), tag_use)?);
        } else {
            return Err(Error::type_error(format!(
                "tags[{i}] must be a tag name (str) or a mapping with 'name', not {}",
                type_name(&item)
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
            "there is no call named {:?}",
            crate::core::error::excerpt(name, 40)
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
        return Ok(Given::Other(type_name(obj)));
    }
    if is_mapping(obj) {
        let mapping = obj
            .cast::<PyMapping>()
            .map_err(|_| Refused::from(Error::type_error(format!("{what} is not a mapping"))))?;
        return match mapping.get_item("name") {
            Ok(name) => Ok(Given::Mapping(Some(Box::new(given(&name, false, what)?)))),
            Err(e) if e.is_instance_of::<PyKeyError>(py) => Ok(Given::Mapping(None)),
            Err(e) => Err(reading(py, e, || {
                Error::type_error(format!("{what} is a mapping that cannot be read"))
            })),
        };
    }
    // numpy and pandas integers are not `int` but implement `__index__`; their floats (those
    // that are not Python floats already) implement `__float__`.
    if obj.hasattr("__index__").unwrap_or(false) {
        if let Ok(index) = py
            .import("operator")
            .and_then(|op| op.call_method1("index", (obj,)))
        {
            return Ok(Given::Integer(index.extract::<i128>().ok()));
        }
    }
    if obj.hasattr("__float__").unwrap_or(false) && !obj.hasattr("__iter__").unwrap_or(false) {
        if let Ok(x) = py
            .get_type::<PyFloat>()
            .call1((obj,))
            .and_then(|f| f.extract::<f64>())
        {
            return Ok(Given::Float(x));
        }
    }
    if top {
        if let Ok(items) = obj.try_iter() {
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
    Ok(Given::Other(type_name(obj)))
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
    if obj.is_instance_of::<PyString>() || is_mapping(obj) || obj.is_instance_of::<PyBytes>() {
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
                obj.repr().map(|r| r.to_string()).unwrap_or_default()
            ))
            .into());
        }
    }
    let items = obj.try_iter().map_err(|e| {
        reading(py, e, || {
            Error::type_error(format!(
                "where must be {WHERE_SHAPE}, not {}",
                type_name(obj)
            ))
        })
    })?;
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
                item.try_iter()
                    .ok()
                    .map(|it| it.filter_map(Result::ok).collect())
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
                    type_name(&item)
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
    Error::type_error(format!("{name} must be {wanted}, not {}", type_name(obj))).into()
}

pub fn text_setting(name: &str, obj: &Bound<'_, PyAny>) -> Result<String, Refused> {
    match obj.cast::<PyString>() {
        Ok(text) => text.to_str().map(str::to_owned).map_err(|_| {
            Error::value_error(format!("{name} is not valid text (lone surrogates)")).into()
        }),
        Err(_) => Err(wrong_type(name, "a str", obj)),
    }
}

/// An int or a float (not a bool); an int too large for a float is infinity, which the core
/// refuses by name.
pub fn float_setting(setting: Setting, obj: &Bound<'_, PyAny>) -> Result<f64, Refused> {
    if obj.is_instance_of::<PyBool>()
        || !(obj.is_instance_of::<PyInt>() || obj.is_instance_of::<PyFloat>())
    {
        return Err(wrong_type(setting.name(), "a number", obj));
    }
    match obj.extract::<f64>() {
        Ok(value) => Ok(value),
        Err(e) if e.is_instance_of::<PyOverflowError>(obj.py()) => {
            Ok(if obj.lt(0).map_err(Refused::Passthrough)? {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            })
        }
        Err(e) => Err(Refused::Passthrough(e)),
    }
}

/// An int (not a bool), checked against the setting's range by the core.
pub fn int_setting(setting: Setting, obj: &Bound<'_, PyAny>) -> Result<u64, Refused> {
    if obj.is_instance_of::<PyBool>() || !obj.is_instance_of::<PyInt>() {
        return Err(wrong_type(setting.name(), "an int", obj));
    }
    // Python's ints have no bound: one past i128 is simply out of range.
    Ok(setting.integer(obj.extract::<i128>().ok())?)
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
