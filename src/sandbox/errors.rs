//! HelpCrunch's error bodies: `{"errors":[{"code":…,"message":…},…]}`.
//!
//! The fixed ones are literals, so answering them costs no serialization.

use std::borrow::Cow;

use bytes::Bytes;
use hyper::StatusCode;
use serde_json::{json, Value};

/// How the sandbox shapes the errors that are not about a field (401, 404, 429, …). HelpCrunch's
/// docs show both shapes; a client must cope with either, so tests can pick one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ErrorStyle {
    /// The two-element shape, except `404 entity_not_found` in the one-element shape the docs
    /// show for it.
    #[default]
    Mixed,
    /// `{"code":"invalid_request","message":"Invalid request"}` first, then the detail, for
    /// every error: a missing customer is `not_found` "Customer not found".
    Two,
    /// The detail alone, in the wording of the docs' one-element examples: `invalid_token`
    /// "Invalid token", `entity_not_found` "Customer not found", `too_many_requests` "You have
    /// exceeded your requests limit".
    One,
}

/// An error about the request as a whole, not one of its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fixed {
    Unauthorized,
    TooManyRequests,
    RouteNotFound,
    MethodNotAllowed,
    PayloadTooLarge,
    CustomerNotFound,
}

macro_rules! generic_first {
    ($code:literal, $message:literal) => {
        concat!(
            r#"{"errors":[{"code":"invalid_request","message":"Invalid request"},{"code":""#,
            $code,
            r#"","message":""#,
            $message,
            r#""}]}"#
        )
    };
}

macro_rules! alone {
    ($code:literal, $message:literal) => {
        concat!(
            r#"{"errors":[{"code":""#,
            $code,
            r#"","message":""#,
            $message,
            r#""}]}"#
        )
    };
}

pub(super) const UNAUTHORIZED: &str = generic_first!("unauthorized", "Unauthorized");
pub(super) const TOO_MANY_REQUESTS: &str = generic_first!("too_many_requests", "Too many requests");
pub(super) const ROUTE_NOT_FOUND: &str = generic_first!("not_found", "Not found");
pub(super) const METHOD_NOT_ALLOWED: &str =
    generic_first!("method_not_allowed", "Method not allowed");
pub(super) const PAYLOAD_TOO_LARGE: &str = generic_first!("payload_too_large", "Payload too large");
/// HelpCrunch shows this one without the generic first element.
pub(super) const CUSTOMER_NOT_FOUND: &str = alone!("entity_not_found", "Customer not found");

impl ErrorStyle {
    /// The body for `error` in this style.
    pub(super) fn body(self, error: Fixed) -> &'static str {
        use ErrorStyle::{Mixed, One, Two};
        match (self, error) {
            (Mixed | Two, Fixed::Unauthorized) => UNAUTHORIZED,
            (Mixed | Two, Fixed::TooManyRequests) => TOO_MANY_REQUESTS,
            (Mixed | Two, Fixed::RouteNotFound) => ROUTE_NOT_FOUND,
            (Mixed | Two, Fixed::MethodNotAllowed) => METHOD_NOT_ALLOWED,
            (Mixed | Two, Fixed::PayloadTooLarge) => PAYLOAD_TOO_LARGE,
            (Mixed, Fixed::CustomerNotFound) => CUSTOMER_NOT_FOUND,
            (Two, Fixed::CustomerNotFound) => generic_first!("not_found", "Customer not found"),
            (One, Fixed::Unauthorized) => alone!("invalid_token", "Invalid token"),
            (One, Fixed::TooManyRequests) => {
                alone!("too_many_requests", "You have exceeded your requests limit")
            }
            (One, Fixed::RouteNotFound) => alone!("not_found", "Not found"),
            (One, Fixed::MethodNotAllowed) => alone!("method_not_allowed", "Method not allowed"),
            (One, Fixed::PayloadTooLarge) => alone!("payload_too_large", "Payload too large"),
            (One, Fixed::CustomerNotFound) => CUSTOMER_NOT_FOUND,
        }
    }

    /// Parses the names the Python layer and the CLI use: `mixed`, `two`, `one`.
    pub fn parse(name: &str) -> Option<ErrorStyle> {
        match name {
            "mixed" => Some(ErrorStyle::Mixed),
            "two" => Some(ErrorStyle::Two),
            "one" => Some(ErrorStyle::One),
            _ => None,
        }
    }
}

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
pub(super) fn status_body(status: StatusCode, style: ErrorStyle) -> Bytes {
    let fixed = |error| Bytes::from_static(style.body(error).as_bytes());
    let (code, message) = match status.as_u16() {
        ..=399 => return Bytes::new(),
        400 => ("bad_request", "Bad request"),
        401 => return fixed(Fixed::Unauthorized),
        403 => ("forbidden", "Forbidden"),
        404 => return fixed(Fixed::RouteNotFound),
        405 => return fixed(Fixed::MethodNotAllowed),
        408 => ("request_timeout", "Request timeout"),
        409 => ("conflict", "Conflict"),
        413 => return fixed(Fixed::PayloadTooLarge),
        422 => ("unprocessable_entity", "Unprocessable entity"),
        429 => return fixed(Fixed::TooManyRequests),
        502 => ("bad_gateway", "Bad gateway"),
        503 => ("service_unavailable", "Service unavailable"),
        504 => ("gateway_timeout", "Gateway timeout"),
        500..=599 => ("internal_error", "Internal server error"),
        _ => ("error", status.canonical_reason().unwrap_or("Error")),
    };
    let detail = json!({"code": code, "message": message});
    match style {
        ErrorStyle::One => to_bytes(&json!({ "errors": [detail] })),
        _ => to_bytes(&json!({"errors": [
            {"code": "invalid_request", "message": "Invalid request"},
            detail,
        ]})),
    }
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
        let v: Value =
            serde_json::from_slice(&status_body(StatusCode::BAD_GATEWAY, ErrorStyle::Mixed))
                .unwrap();
        assert_eq!(v["errors"][1]["code"], "bad_gateway");
        let v: Value = serde_json::from_slice(&status_body(
            StatusCode::from_u16(599).unwrap(),
            ErrorStyle::Two,
        ))
        .unwrap();
        assert_eq!(v["errors"][1]["code"], "internal_error");
        let v: Value =
            serde_json::from_slice(&status_body(StatusCode::IM_A_TEAPOT, ErrorStyle::Mixed))
                .unwrap();
        assert_eq!(v["errors"][1]["message"], "I'm a teapot");
        let v: Value =
            serde_json::from_slice(&status_body(StatusCode::BAD_GATEWAY, ErrorStyle::One)).unwrap();
        assert_eq!(v["errors"].as_array().unwrap().len(), 1);
        assert_eq!(v["errors"][0]["code"], "bad_gateway");
    }

    #[test]
    fn every_style_has_a_valid_body_for_every_error() {
        use Fixed::*;
        for style in [ErrorStyle::Mixed, ErrorStyle::Two, ErrorStyle::One] {
            for error in [
                Unauthorized,
                TooManyRequests,
                RouteNotFound,
                MethodNotAllowed,
                PayloadTooLarge,
                CustomerNotFound,
            ] {
                let v: Value = serde_json::from_str(style.body(error)).unwrap();
                let errors = v["errors"].as_array().unwrap();
                let generic = errors[0]["code"] == "invalid_request";
                let expect_two = match style {
                    ErrorStyle::Two => true,
                    ErrorStyle::One => false,
                    ErrorStyle::Mixed => error != CustomerNotFound,
                };
                assert_eq!((generic, errors.len() == 2), (expect_two, expect_two));
            }
        }
        let one = |e| serde_json::from_str::<Value>(ErrorStyle::One.body(e)).unwrap();
        assert_eq!(one(Unauthorized)["errors"][0]["code"], "invalid_token");
        assert_eq!(
            one(TooManyRequests)["errors"][0]["message"],
            "You have exceeded your requests limit"
        );
    }
}
