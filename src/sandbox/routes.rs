//! The API itself: rate limit, auth, routing, validation and the handlers. Synchronous: by
//! the time a request gets here its body has been read, so nothing here can hold a lock
//! across an await.

use bytes::Bytes;
use hyper::header::AUTHORIZATION;
use hyper::http::request::Parts;
use hyper::{Method, StatusCode};
use serde_json::{Map, Value};

use super::errors::{
    validation_body, Fixed, Invalid, INVALID_JSON, NOT_BLANK, TYPE_ARRAY, TYPE_NUMERIC,
    TYPE_OBJECT, TYPE_STRING,
};
use super::query::{is_blank, parse_list_query, parse_search, Query};
use super::search::page_body;
use super::state::TagRequest;
use super::webhooks::Event;
use super::writes::{self, Replace};
use super::Shared;

/// An answer, always JSON.
#[derive(Debug)]
pub(super) struct Reply {
    pub status: StatusCode,
    pub body: Bytes,
    /// For 405s.
    pub allow: Option<&'static str>,
}

impl Reply {
    pub fn new(status: StatusCode, body: Bytes) -> Reply {
        Reply {
            status,
            body,
            allow: None,
        }
    }

    /// `error` in the sandbox's error style.
    fn fixed(shared: &Shared, status: StatusCode, error: Fixed) -> Reply {
        let body = shared.error_style.body(error);
        Reply::new(status, Bytes::from_static(body.as_bytes()))
    }

    pub fn invalid(problems: &[Invalid]) -> Reply {
        Reply::new(StatusCode::BAD_REQUEST, validation_body(problems))
    }

    pub fn not_found(shared: &Shared) -> Reply {
        Reply::fixed(shared, StatusCode::NOT_FOUND, Fixed::CustomerNotFound)
    }

    fn method_not_allowed(shared: &Shared, allow: &'static str) -> Reply {
        Reply {
            allow: Some(allow),
            ..Reply::fixed(
                shared,
                StatusCode::METHOD_NOT_ALLOWED,
                Fixed::MethodNotAllowed,
            )
        }
    }
}

/// The request body was larger than the server reads.
#[derive(Debug, Clone, Copy)]
pub(super) struct TooLarge;

pub(super) fn handle(shared: &Shared, parts: &Parts, body: Result<&[u8], TooLarge>) -> Reply {
    if let Some(window) = &shared.rate_limit {
        if !window.try_admit() {
            return Reply::fixed(
                shared,
                StatusCode::TOO_MANY_REQUESTS,
                Fixed::TooManyRequests,
            );
        }
    }
    let authorized = parts
        .headers
        .get(AUTHORIZATION)
        .is_some_and(|v| v.as_bytes() == &*shared.expected_auth);
    if !authorized {
        return Reply::fixed(shared, StatusCode::UNAUTHORIZED, Fixed::Unauthorized);
    }
    let Some(route) = Route::parse(parts.uri.path()) else {
        return Reply::fixed(shared, StatusCode::NOT_FOUND, Fixed::RouteNotFound);
    };
    let method = &parts.method;
    let allowed = match route {
        Route::Customers => matches!(*method, Method::GET | Method::POST),
        Route::Search => *method == Method::POST,
        Route::Batch => *method == Method::PUT,
        Route::Customer(_) => matches!(
            *method,
            Method::GET | Method::PATCH | Method::PUT | Method::DELETE
        ),
        Route::Tags(_) => matches!(*method, Method::PUT | Method::DELETE),
    };
    if !allowed {
        return Reply::method_not_allowed(shared, route.allow());
    }
    let Ok(body) = body else {
        return Reply::fixed(
            shared,
            StatusCode::PAYLOAD_TOO_LARGE,
            Fixed::PayloadTooLarge,
        );
    };
    match route {
        Route::Customers if *method == Method::GET => list(shared, parts.uri.query()),
        Route::Customers => writes::create(shared, body),
        Route::Search => search(shared, body),
        Route::Batch => writes::batch(shared, body),
        Route::Customer(id) => match *method {
            Method::GET => get(shared, id),
            Method::DELETE => writes::delete(shared, id),
            Method::PATCH => writes::update(shared, id, body, Replace::Sent),
            _ => writes::update(shared, id, body, Replace::Profile),
        },
        Route::Tags(id) => tag(shared, id, *method == Method::PUT, body),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route<'a> {
    Customers,
    Search,
    /// `PUT /customers/batch`.
    Batch,
    /// The raw id segment: validated by the handler, so a bad one gets HelpCrunch's 400.
    Customer(&'a str),
    Tags(&'a str),
}

impl<'a> Route<'a> {
    fn parse(path: &'a str) -> Option<Route<'a>> {
        let rest = path.strip_prefix("/v1/")?;
        let mut parts = rest.split('/');
        let route = match (parts.next()?, parts.next(), parts.next()) {
            ("customers", None, None) => Route::Customers,
            ("customers", Some("search"), None) => Route::Search,
            ("customers", Some("batch"), None) => Route::Batch,
            ("customers", Some(""), None) => return None,
            ("customers", Some(id), None) => Route::Customer(id),
            ("customers", Some(id), Some("tags")) => Route::Tags(id),
            _ => return None,
        };
        parts.next().is_none().then_some(route)
    }

    fn allow(self) -> &'static str {
        match self {
            Route::Customers => "GET, POST",
            Route::Search => "POST",
            Route::Batch => "PUT",
            Route::Customer(_) => "GET, PUT, PATCH, DELETE",
            Route::Tags(_) => "PUT, DELETE",
        }
    }
}

/// Ok(None): numeric but beyond any id, so no customer has it.
pub(super) fn parse_id(raw: &str) -> Result<Option<u64>, Invalid> {
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Invalid::new("customer", TYPE_NUMERIC));
    }
    Ok(raw.parse().ok())
}

fn get(shared: &Shared, raw_id: &str) -> Reply {
    let id = match parse_id(raw_id) {
        Ok(id) => id,
        Err(problem) => return Reply::invalid(&[problem]),
    };
    match id.and_then(|id| shared.store.get(id)) {
        Some(entry) => Reply::new(StatusCode::OK, entry.json.clone()),
        None => Reply::not_found(shared),
    }
}

fn tag(shared: &Shared, raw_id: &str, add: bool, body: &[u8]) -> Reply {
    // Like HelpCrunch, report a bad id and a bad body together.
    let mut problems = Vec::new();
    let id = parse_id(raw_id)
        .map_err(|p| problems.push(p))
        .ok()
        .flatten();
    let tags = match parse_object(body) {
        Ok(body) => parse_tag_list(body.get("tags"), "tags", add, &mut problems),
        Err(p) => {
            problems.push(p);
            Vec::new()
        }
    };
    if !problems.is_empty() {
        return Reply::invalid(&problems);
    }
    let Some(id) = id else {
        return Reply::not_found(shared);
    };
    let written = if add {
        // Checked first so that tagging an unknown customer creates no account tags.
        if shared.store.get(id).is_none() {
            return Reply::not_found(shared);
        }
        let tags = shared.store.resolve_tags(&tags);
        shared.store.add_tags(id, &tags)
    } else {
        let names: Vec<String> = tags.into_iter().map(|t| t.name).collect();
        shared.store.remove_tags(id, &names)
    };
    match written {
        Some((entry, changed)) => {
            if changed {
                shared.webhooks.send(Event::TagsChanged, &entry);
            }
            Reply::new(StatusCode::OK, entry.json.clone())
        }
        None => Reply::not_found(shared),
    }
}

fn list(shared: &Shared, query: Option<&str>) -> Reply {
    page(shared, parse_list_query(query, shared.caps))
}

fn search(shared: &Shared, body: &[u8]) -> Reply {
    let body = match parse_object(body) {
        Ok(body) => body,
        Err(problem) => return Reply::invalid(&[problem]),
    };
    page(shared, parse_search(&body, shared.caps))
}

/// The page a list or search asked for, or the problems with how it asked.
fn page(shared: &Shared, query: Result<Query, Vec<Invalid>>) -> Reply {
    match query {
        Ok(q) => {
            let (page, total) = q.run(
                &shared.store.read(),
                shared.shuffle(),
                &shared.recent_matches,
            );
            Reply::new(StatusCode::OK, page_body(&page, total))
        }
        Err(problems) => Reply::invalid(&problems),
    }
}

/// A JSON object body; an empty body counts as `{}`.
pub(super) fn parse_object(body: &[u8]) -> Result<Map<String, Value>, Invalid> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Invalid::new("body", TYPE_OBJECT)),
        Err(_) => Err(Invalid::new("body", INVALID_JSON)),
    }
}

/// `[{"name":"Lead","color":"#c57de0"}, …]`; `color` is checked only where it is used.
pub(super) fn parse_tag_list(
    value: Option<&Value>,
    code: &str,
    with_color: bool,
    problems: &mut Vec<Invalid>,
) -> Vec<TagRequest> {
    let items = match value {
        Some(Value::Array(items)) if !items.is_empty() => items,
        None | Some(Value::Null) | Some(Value::Array(_)) => {
            problems.push(Invalid::new(code, NOT_BLANK));
            return Vec::new();
        }
        Some(_) => {
            problems.push(Invalid::new(code, TYPE_ARRAY));
            return Vec::new();
        }
    };
    let mut tags = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Some(item) = item.as_object() else {
            problems.push(Invalid::new(format!("{code}[{i}]"), TYPE_OBJECT));
            continue;
        };
        let name = match item.get("name") {
            Some(Value::String(s)) if !is_blank(s) => Some(s.clone()),
            None | Some(Value::Null) | Some(Value::String(_)) => {
                problems.push(Invalid::new(format!("{code}[{i}].name"), NOT_BLANK));
                None
            }
            Some(_) => {
                problems.push(Invalid::new(format!("{code}[{i}].name"), TYPE_STRING));
                None
            }
        };
        let color = match item.get("color") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if !is_blank(s) => Some(s.clone()),
            Some(Value::String(_)) => None, // "" means "no colour": the default applies
            Some(_) if with_color => {
                problems.push(Invalid::new(format!("{code}[{i}].color"), TYPE_STRING));
                None
            }
            Some(_) => None,
        };
        if let Some(name) = name {
            tags.push(TagRequest { name, color });
        }
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_parse_strictly() {
        assert_eq!(Route::parse("/v1/customers"), Some(Route::Customers));
        assert_eq!(Route::parse("/v1/customers/search"), Some(Route::Search));
        assert_eq!(Route::parse("/v1/customers/batch"), Some(Route::Batch));
        assert_eq!(
            Route::parse("/v1/customers/12"),
            Some(Route::Customer("12"))
        );
        assert_eq!(Route::parse("/v1/customers/x/tags"), Some(Route::Tags("x")));
        assert_eq!(Route::parse("/v1/customers//tags"), Some(Route::Tags("")));
        for bad in [
            "/v1",
            "/v1/",
            "/customers",
            "/v2/customers",
            "/v1/customers/",
            "/v1/customers/1/tags/",
            "/v1/customers/1/notes",
            "/v1/chats",
        ] {
            assert_eq!(Route::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn ids_must_be_digits() {
        assert_eq!(parse_id("542335"), Ok(Some(542335)));
        assert_eq!(parse_id("99999999999999999999999"), Ok(None));
        for bad in ["", "abc", "-1", "+1", "1.0", " 1", "1e3"] {
            assert_eq!(parse_id(bad), Err(Invalid::new("customer", TYPE_NUMERIC)));
        }
    }

    #[test]
    fn tag_lists_report_every_problem_by_path() {
        let mut problems = Vec::new();
        let value = serde_json::json!([{"name": "ok", "color": "#fff"}, {"name": ""}, 3,
            {"name": 5, "color": 7}, {"color": "#000"}]);
        let tags = parse_tag_list(Some(&value), "tags", true, &mut problems);
        assert_eq!(
            tags,
            [TagRequest {
                name: "ok".into(),
                color: Some("#fff".into())
            }]
        );
        let codes: Vec<_> = problems
            .iter()
            .map(|p| (p.code.as_str(), p.message.as_ref()))
            .collect();
        assert_eq!(
            codes,
            [
                ("tags[1].name", NOT_BLANK),
                ("tags[2]", TYPE_OBJECT),
                ("tags[3].name", TYPE_STRING),
                ("tags[3].color", TYPE_STRING),
                ("tags[4].name", NOT_BLANK),
            ]
        );
        problems.clear();
        parse_tag_list(Some(&serde_json::json!([])), "tags", false, &mut problems);
        parse_tag_list(None, "tags", false, &mut problems);
        parse_tag_list(
            Some(&serde_json::json!("Lead")),
            "tags",
            false,
            &mut problems,
        );
        let codes: Vec<_> = problems.iter().map(|p| p.message.as_ref()).collect();
        assert_eq!(codes, [NOT_BLANK, NOT_BLANK, TYPE_ARRAY]);
    }
}
