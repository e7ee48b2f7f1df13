//! JSON out: a customer's body straight from its bytes (jiter), and `serde_json` values (the
//! sandbox's customers), as plain Python dicts and lists.

use jiter::{FloatMode, PartialMode, PythonParse, StringCacheMode};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString};
use serde_json::{Map, Value};

use crate::core::Response;

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
    // Only a call whose answer is not documented (a delete) may come back empty.
    if response.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(py.None().into_bound(py));
    }
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
