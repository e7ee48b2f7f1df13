//! Settings from Python: only their types are judged here; the core judges their values.

use pyo3::exceptions::PyOverflowError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt, PyString};

use super::{reading, repr, wrong_type, Refused};
use crate::core::{Error, Setting};

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
    // Python's ints have no bound: one past i128 stands as i128's own bound on its side, so a
    // setting with no upper bound takes it and one with a bound refuses it.
    let value = match obj.extract::<i128>() {
        Ok(value) => Some(value),
        Err(e) if e.is_instance_of::<PyOverflowError>(obj.py()) => {
            Some(if obj.gt(0).unwrap_or(false) {
                i128::MAX
            } else {
                i128::MIN
            })
        }
        Err(e) => {
            return Err(reading(obj.py(), e, || {
                Error::type_error(format!("{} cannot be read as an int", setting.name()))
            }))
        }
    };
    Ok(setting.count(value, &repr(obj)?)?)
}
