//! The calls that write customers: create, update (PATCH, PUT, the batch) and delete.
//!
//! Where HelpCrunch's docs are silent, the sandbox takes the reading a client can least
//! misread:
//! - a `customData` sent replaces the stored one whole (no merge);
//! - `tags` in an update is refused (400 naming `tags`): the docs leave open whether it
//!   replaces or adds, so a client must tag and untag instead;
//! - PUT sets the profile fields it leaves out ([`PUT_NULLS`]) to null; PATCH changes only
//!   the fields sent; both keep `id`, `tags`, `firstSeen`/`lastSeen` and fields not sent
//!   that are not in [`PUT_NULLS`];
//! - a batch is applied all or nothing: any bad item, unknown id or repeated `userId` refuses
//!   the whole request, naming the item (`[2].customer`);
//! - a `userId` (a non-empty string) that another customer has is a 400 whose first error is
//!   `invalid_userId_value`; keeping one's own is fine.

use bytes::Bytes;
use hyper::StatusCode;
use serde_json::{json, Map, Value};

use super::data::NEW_CUSTOMER;
use super::entry::{Customer, Entry};
use super::errors::{
    at_most_elements, status_body, to_bytes, Invalid, INVALID_JSON, NOT_BLANK, TYPE_ARRAY,
    TYPE_NUMERIC, TYPE_OBJECT, TYPE_STRING,
};
use super::routes::{parse_id, parse_object, parse_tag_list, Reply};
use super::state::{WriteError, Written};
use super::webhooks::Event;
use super::Shared;

/// The most customers one `PUT /customers/batch` takes, as documented.
pub(super) const MAX_BATCH: usize = 10;

const TYPE_BOOL: &str = "This value should be of type bool.";
const BATCH_EMPTY: &str = "This collection should contain 1 element or more.";
const IN_BATCH_TWICE: &str = "This customer is already in the batch.";
const NO_SUCH_CUSTOMER: &str = "Customer not found.";
const TAGS_REFUSED: &str = "Tags cannot be changed by an update: \
use PUT or DELETE /customers/<id>/tags.";

/// Fields that are a string or null.
const STRINGS: [&str; 11] = [
    "name",
    "email",
    "userId",
    "company",
    "phone",
    "notes",
    "source",
    "referer",
    "lastPage",
    "locale",
    "createdFrom",
];
/// Fields that are true, false or null.
const BOOLS: [&str; 2] = ["unsubscribed", "blocked"];
/// Fields that are an object or null.
const OBJECTS: [&str; 2] = ["location", "device"];

/// What PUT sets to null when the request leaves them out: the profile a client edits.
pub(super) const PUT_NULLS: [&str; 9] = [
    "name",
    "email",
    "userId",
    "company",
    "phone",
    "notes",
    "unsubscribed",
    "blocked",
    "customData",
];

/// Keys an update never stores: the id is the URL's (or `customer`, in a batch).
const NOT_STORED: [&str; 2] = ["id", "customer"];

/// What an update does to the fields it leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Replace {
    /// PATCH: nothing.
    Sent,
    /// PUT and the batch: [`PUT_NULLS`] become null.
    Profile,
}

/// Adds a problem for each field of `given` whose value has the wrong type; `at` prefixes
/// the field's path (`[2].` in a batch).
fn check_types(given: &Map<String, Value>, at: &str, problems: &mut Vec<Invalid>) {
    let wrong = |keys: &[&str], ok: fn(&Value) -> bool, message, problems: &mut Vec<Invalid>| {
        for &key in keys {
            if given.get(key).is_some_and(|v| !v.is_null() && !ok(v)) {
                problems.push(Invalid::new(format!("{at}{key}"), message));
            }
        }
    };
    wrong(&STRINGS, Value::is_string, TYPE_STRING, problems);
    wrong(&BOOLS, Value::is_boolean, TYPE_BOOL, problems);
    wrong(&OBJECTS, Value::is_object, TYPE_OBJECT, problems);
    // An object, or the older list of `{"property", "value"}` (the docs' create example).
    match given.get("customData") {
        None | Some(Value::Null | Value::Object(_)) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                if !item.is_object() {
                    problems.push(Invalid::new(format!("{at}customData[{i}]"), TYPE_OBJECT));
                }
            }
        }
        Some(_) => problems.push(Invalid::new(format!("{at}customData"), TYPE_OBJECT)),
    }
}

/// The checks every update body gets: types, and no `tags`.
fn check_update(given: &Map<String, Value>, at: &str, problems: &mut Vec<Invalid>) {
    check_types(given, at, problems);
    if given.contains_key("tags") {
        problems.push(Invalid::new(format!("{at}tags"), TAGS_REFUSED));
    }
}

/// The customer `current` becomes under an update sending `given`.
fn updated(current: &Entry, given: &Map<String, Value>, replace: Replace) -> Customer {
    let mut customer = current.to_map();
    if replace == Replace::Profile {
        for key in PUT_NULLS {
            if !given.contains_key(key) {
                customer.insert(key.into(), Value::Null);
            }
        }
    }
    for (key, value) in given {
        if !NOT_STORED.contains(&key.as_str()) {
            // A known key keeps its place; `customData` is replaced whole.
            customer.insert(key.clone(), value.clone());
        }
    }
    customer
}

/// 400, `invalid_userId_value` first (a public client relies on that), then the path.
fn user_id_taken(path: String) -> Reply {
    Reply::new(
        StatusCode::BAD_REQUEST,
        to_bytes(&json!({"errors": [
            {"code": "invalid_userId_value",
             "message": "A customer with this userId already exists."},
            {"code": path, "message": "This value is already used."},
        ]})),
    )
}

/// The webhook events of an update, in order.
fn announce(shared: &Shared, written: &[Written]) {
    for w in written {
        for event in Event::of_update(&w.before, &w.after) {
            shared.webhooks.send(event, &w.after);
        }
    }
}

/// `POST /customers`: 201 and the new customer.
pub(super) fn create(shared: &Shared, body: &[u8]) -> Reply {
    let given = match parse_object(body) {
        Ok(given) => given,
        Err(problem) => return Reply::invalid(&[problem]),
    };
    let mut problems = Vec::new();
    check_types(&given, "", &mut problems);
    let tags = match given.get("tags") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => parse_tag_list(Some(v), "tags", true, &mut problems),
    };
    if !problems.is_empty() {
        return Reply::invalid(&problems);
    }
    let mut customer: Customer = serde_json::from_str(NEW_CUSTOMER).expect("valid literal");
    for (key, value) in given {
        // Known keys keep their place in the template; unknown ones follow, in order.
        if key != "id" && key != "tags" {
            customer.insert(key, value);
        }
    }
    let tags = shared.store.resolve_tags(&tags);
    customer.insert(
        "tags".into(),
        Value::Array(
            tags.into_iter()
                .map(|(name, color)| json!({"name": name, "color": color}))
                .collect(),
        ),
    );
    match shared.store.create(&customer) {
        Ok(entry) => {
            shared.webhooks.send(Event::New, &entry);
            Reply::new(StatusCode::CREATED, entry.json.clone())
        }
        Err(WriteError::UserIdTaken(_)) => user_id_taken("userId".into()),
        // Only a sandbox started with the largest possible id gets here.
        Err(_) => Reply::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            status_body(StatusCode::INTERNAL_SERVER_ERROR, shared.error_style),
        ),
    }
}

/// `PATCH` or `PUT /customers/<id>`: 200 and the customer as it is now.
pub(super) fn update(shared: &Shared, raw_id: &str, body: &[u8], replace: Replace) -> Reply {
    // Like HelpCrunch, report a bad id and a bad body together.
    let mut problems = Vec::new();
    let id = parse_id(raw_id)
        .map_err(|p| problems.push(p))
        .ok()
        .flatten();
    let given = parse_object(body).unwrap_or_else(|p| {
        problems.push(p);
        Map::new()
    });
    check_update(&given, "", &mut problems);
    if !problems.is_empty() {
        return Reply::invalid(&problems);
    }
    let Some(id) = id else {
        return Reply::not_found(shared);
    };
    match shared
        .store
        .rewrite(&[id], |_, current| updated(current, &given, replace))
    {
        Ok(written) => {
            announce(shared, &written);
            Reply::new(StatusCode::OK, written[0].after.json.clone())
        }
        Err(WriteError::UserIdTaken(_)) => user_id_taken("userId".into()),
        Err(_) => Reply::not_found(shared),
    }
}

/// The batch's customer id: a non-negative integer, or a string of digits. Ok(None): beyond
/// any id.
fn batch_id(value: Option<&Value>, at: &str) -> Result<Option<u64>, Invalid> {
    let path = format!("{at}customer");
    match value {
        None | Some(Value::Null) => Err(Invalid::new(path, NOT_BLANK)),
        Some(Value::Number(n)) => {
            parse_id(&n.to_string()).map_err(|_| Invalid::new(path, TYPE_NUMERIC))
        }
        Some(Value::String(s)) => parse_id(s).map_err(|_| Invalid::new(path, TYPE_NUMERIC)),
        Some(_) => Err(Invalid::new(path, TYPE_NUMERIC)),
    }
}

/// `PUT /customers/batch`: a JSON array of 1 to [`MAX_BATCH`] `{"customer": id, …}`, each
/// applied as a PUT; 200 and the customers as they are now, in the request's order.
pub(super) fn batch(shared: &Shared, body: &[u8]) -> Reply {
    let items = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(items)) => items,
        Ok(_) => return Reply::invalid(&[Invalid::new("body", TYPE_ARRAY)]),
        Err(_) if body.iter().all(u8::is_ascii_whitespace) => {
            return Reply::invalid(&[Invalid::new("body", NOT_BLANK)])
        }
        Err(_) => return Reply::invalid(&[Invalid::new("body", INVALID_JSON)]),
    };
    if items.is_empty() {
        return Reply::invalid(&[Invalid::new("body", BATCH_EMPTY)]);
    }
    if items.len() > MAX_BATCH {
        return Reply::invalid(&[Invalid::new("body", at_most_elements(MAX_BATCH))]);
    }
    let mut problems = Vec::new();
    let mut ids: Vec<Option<u64>> = Vec::with_capacity(items.len());
    let mut bodies: Vec<&Map<String, Value>> = Vec::with_capacity(items.len());
    let empty = Map::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("[{i}].");
        let Some(item) = item.as_object() else {
            problems.push(Invalid::new(format!("[{i}]"), TYPE_OBJECT));
            ids.push(None);
            bodies.push(&empty);
            continue;
        };
        match batch_id(item.get("customer"), &at) {
            Ok(Some(id)) if ids.contains(&Some(id)) => {
                problems.push(Invalid::new(format!("{at}customer"), IN_BATCH_TWICE));
                ids.push(None);
            }
            Ok(id) => ids.push(id),
            Err(problem) => {
                problems.push(problem);
                ids.push(None);
            }
        }
        check_update(item, &at, &mut problems);
        bodies.push(item);
    }
    if !problems.is_empty() {
        return Reply::invalid(&problems);
    }
    if let Some(i) = ids.iter().position(Option::is_none) {
        // Numeric, but past every possible id.
        return Reply::invalid(&[Invalid::new(format!("[{i}].customer"), NO_SUCH_CUSTOMER)]);
    }
    let ids: Vec<u64> = ids.into_iter().flatten().collect();
    match shared.store.rewrite(&ids, |i, current| {
        updated(current, bodies[i], Replace::Profile)
    }) {
        Ok(written) => {
            announce(shared, &written);
            Reply::new(StatusCode::OK, customers_array(&written))
        }
        Err(WriteError::NotFound(i)) => {
            Reply::invalid(&[Invalid::new(format!("[{i}].customer"), NO_SUCH_CUSTOMER)])
        }
        Err(WriteError::UserIdTaken(i)) => user_id_taken(format!("[{i}].userId")),
        Err(WriteError::NoIdLeft) => unreachable!("updates take no new id"),
    }
}

/// `[customer, …]`, stitched from the stored JSON.
fn customers_array(written: &[Written]) -> Bytes {
    let mut out = Vec::with_capacity(
        written
            .iter()
            .map(|w| w.after.json.len() + 1)
            .sum::<usize>()
            + 2,
    );
    out.push(b'[');
    for (i, w) in written.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&w.after.json);
    }
    out.push(b']');
    Bytes::from(out)
}

/// `DELETE /customers/<id>`: 200 and the customer as it was; its id is 404 from then on.
pub(super) fn delete(shared: &Shared, raw_id: &str) -> Reply {
    let id = match parse_id(raw_id) {
        Ok(id) => id,
        Err(problem) => return Reply::invalid(&[problem]),
    };
    match id.and_then(|id| shared.store.delete(id)) {
        Some(entry) => {
            shared.webhooks.send(Event::Deleted, &entry);
            Reply::new(StatusCode::OK, entry.json.clone())
        }
        None => Reply::not_found(shared),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_checked_by_path_and_tags_refused_in_updates() {
        let given = json!({"name": 5, "email": null, "unsubscribed": "yes", "blocked": false,
                           "customData": [{}, 1], "location": {}, "tags": [], "extra": 1});
        let mut problems = Vec::new();
        check_update(given.as_object().unwrap(), "[3].", &mut problems);
        let codes: Vec<&str> = problems.iter().map(|p| p.code.as_str()).collect();
        assert_eq!(
            codes,
            [
                "[3].name",
                "[3].unsubscribed",
                "[3].customData[1]",
                "[3].tags"
            ]
        );
    }

    #[test]
    fn put_nulls_the_profile_and_patch_keeps_it() {
        let current = Entry::from_map(
            json!({"id": 1, "name": "A", "email": "a@x", "customData": {"a": 1, "b": 2},
                   "tags": [{"name": "vip"}], "firstSeen": 5, "city": "Kyiv"})
            .as_object()
            .unwrap(),
        )
        .unwrap();
        let given = json!({"email": "b@x", "customData": {"b": 3}, "id": 9, "customer": 9});
        let given = given.as_object().unwrap();
        let patched = updated(&current, given, Replace::Sent);
        assert_eq!(
            Value::Object(patched),
            json!({"id": 1, "name": "A", "email": "b@x", "customData": {"b": 3},
                   "tags": [{"name": "vip"}], "firstSeen": 5, "city": "Kyiv"})
        );
        let put = updated(&current, given, Replace::Profile);
        assert_eq!(put["name"], Value::Null);
        assert_eq!(put["unsubscribed"], Value::Null);
        assert_eq!((&put["email"], &put["id"]), (&json!("b@x"), &json!(1)));
        assert_eq!(
            (&put["firstSeen"], &put["city"]),
            (&json!(5), &json!("Kyiv"))
        );
        assert_eq!(put["tags"], json!([{"name": "vip"}]));
    }
}
