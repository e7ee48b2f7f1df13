//! HelpCrunch's error bodies: `{"errors":[{"code":…,"message":…},…]}`.
//!
//! The fixed ones are literals, so answering them costs no serialization.

use std::borrow::Cow;

use bytes::Bytes;
use hyper::StatusCode;
use serde_json::{json, Value};

pub(super) const UNAUTHORIZED: &str = r#"{"errors":[{"code":"invalid_request","message":"Invalid request"},{"code":"unauthorized","message":"Unauthorized"}]}"#;
pub(super) const TOO_MANY_REQUESTS: &str = r#"{"errors":[{"code":"invalid_request","message":"Invalid request"},{"code":"too_many_requests","message":"Too many requests"}]}"#;
pub(super) const ROUTE_NOT_FOUND: &str = r#"{"errors":[{"code":"invalid_request","message":"Invalid request"},{"code":"not_found","message":"Not found"}]}"#;
pub(super) const METHOD_NOT_ALLOWED: &str = r#"{"errors":[{"code":"invalid_request","message":"Invalid request"},{"code":"method_not_allowed","message":"Method not allowed"}]}"#;
pub(super) const PAYLOAD_TOO_LARGE: &str = r#"{"errors":[{"code":"invalid_request","message":"Invalid request"},{"code":"payload_too_large","message":"Payload too large"}]}"#;
/// HelpCrunch shows this one without the generic first element.
pub(super) const CUSTOMER_NOT_FOUND: &str =
    r#"{"errors":[{"code":"entity_not_found","message":"Customer not found"}]}"#;

// Validation messages, worded as HelpCrunch's (Symfony's) validators word them.
pub(super) const NOT_BLANK: &str = "This value should not be blank.";
pub(super) const TYPE_NUMERIC: &str = "This value should be of type numeric.";
pub(super) const TYPE_STRING: &str = "This value should be of type string.";
pub(super) const TYPE_ARRAY: &str = "This value should be of type array.";
pub(super) const TYPE_OBJECT: &str = "This value should be of type object.";
pub(super) const TYPE_INTEGER: &str = "This value should be of type integer.";
pub(super) const INVALID_JSON: &str = "This value should be valid JSON.";
pub(super) const INVALID_CHOICE: &str = "The value you selected is not a valid choice.";
pub(super) const NOT_NEGATIVE: &str = "This value should be greater than or equal to 0.";
pub(super) const POSITIVE: &str = "This value should be positive.";

pub(super) fn at_most(max: usize) -> String {
    format!("This value should be less than or equal to {max}.")
}

pub(super) fn at_most_elements(max: usize) -> String {
    let noun = if max == 1 { "element" } else { "elements" };
    format!("This collection should contain {max} {noun} or less.")
}

/// One `{code, message}` pair of a 400; `code` is the field path (`tags[0].name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Invalid {
    pub code: String,
    pub message: Cow<'static, str>,
}

impl Invalid {
    pub fn new(code: impl Into<String>, message: impl Into<Cow<'static, str>>) -> Self {
        Invalid {
            code: code.into(),
            message: message.into(),
        }
    }
}

/// A 400 body: the generic element, then one per problem.
pub(super) fn validation_body(problems: &[Invalid]) -> Bytes {
    let mut errors = Vec::with_capacity(problems.len() + 1);
    errors.push(json!({"code": "invalid_request", "message": "Invalid request"}));
    for p in problems {
        errors.push(json!({"code": p.code, "message": p.message}));
    }
    to_bytes(&json!({ "errors": errors }))
}

/// The body HelpCrunch would plausibly send with `status` when an injected fault names no
/// body: the generic element, then a code for the status. Nothing below 400.
pub(super) fn status_body(status: StatusCode) -> Bytes {
    let (code, message) = match status.as_u16() {
        ..=399 => return Bytes::new(),
        400 => ("bad_request", "Bad request"),
        401 => return Bytes::from_static(UNAUTHORIZED.as_bytes()),
        403 => ("forbidden", "Forbidden"),
        404 => return Bytes::from_static(ROUTE_NOT_FOUND.as_bytes()),
        405 => return Bytes::from_static(METHOD_NOT_ALLOWED.as_bytes()),
        408 => ("request_timeout", "Request timeout"),
        409 => ("conflict", "Conflict"),
        413 => return Bytes::from_static(PAYLOAD_TOO_LARGE.as_bytes()),
        422 => ("unprocessable_entity", "Unprocessable entity"),
        429 => return Bytes::from_static(TOO_MANY_REQUESTS.as_bytes()),
        502 => ("bad_gateway", "Bad gateway"),
        503 => ("service_unavailable", "Service unavailable"),
        504 => ("gateway_timeout", "Gateway timeout"),
        500..=599 => ("internal_error", "Internal server error"),
        _ => ("error", status.canonical_reason().unwrap_or("Error")),
    };
    to_bytes(&json!({"errors": [
        {"code": "invalid_request", "message": "Invalid request"},
        {"code": code, "message": message},
    ]}))
}

pub(super) fn to_bytes(value: &Value) -> Bytes {
    // Serializing a Value cannot fail: its keys are strings.
    Bytes::from(serde_json::to_vec(value).expect("a Value serializes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_valid_json_with_the_generic_element_first() {
        for body in [
            UNAUTHORIZED,
            TOO_MANY_REQUESTS,
            ROUTE_NOT_FOUND,
            METHOD_NOT_ALLOWED,
            PAYLOAD_TOO_LARGE,
        ] {
            let v: Value = serde_json::from_str(body).unwrap();
            assert_eq!(v["errors"][0]["code"], "invalid_request");
            assert_eq!(v["errors"].as_array().unwrap().len(), 2);
        }
        let v: Value = serde_json::from_str(CUSTOMER_NOT_FOUND).unwrap();
        assert_eq!(v["errors"][0]["code"], "entity_not_found");
    }

    #[test]
    fn status_bodies_name_the_status() {
        let v: Value = serde_json::from_slice(&status_body(StatusCode::BAD_GATEWAY)).unwrap();
        assert_eq!(v["errors"][1]["code"], "bad_gateway");
        let v: Value =
            serde_json::from_slice(&status_body(StatusCode::from_u16(599).unwrap())).unwrap();
        assert_eq!(v["errors"][1]["code"], "internal_error");
        let v: Value = serde_json::from_slice(&status_body(StatusCode::IM_A_TEAPOT)).unwrap();
        assert_eq!(v["errors"][1]["message"], "I'm a teapot");
    }
}
