//! Search queries: the filters of `POST /customers/search`, built from what callers give and
//! checked before anything is sent. A query with no filters lists the whole account
//! (`GET /customers`), so "every customer" and "these customers" page the same way.
//!
//! Where HelpCrunch documents a rule, it is enforced here: the documented fields and the type
//! of value each takes, the operators (`!=` is "every type but arrays", so not for tags), a
//! tag filter's value as `[{"name": …}]`. A field the docs do not list is sent as given (the
//! API grows; the server says no with a 400 naming `filter[i].field` if it does not know it),
//! but its name must be an identifier, so nothing but a field name can reach the body.

use serde_json::{Map, Number, Value};

use super::error::{excerpt, Argument, Error, InputErrorKind, Result};
use super::names::names;
use super::validate::{normalize_tags, TagInput, TagUse};

/// The prefix HelpCrunch puts before every field name on the wire.
pub const FIELD_PREFIX: &str = "customers.";

/// Pages are sorted by this key of the customer object, oldest first: customers created
/// during a scan land at its end, where they shift nobody (see `paging`).
pub const SORT_KEY: &str = "firstSeen";
const SORT_ORDER: &str = "asc";

/// What values a field takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// A str.
    Text,
    /// An integer (`customers.id`).
    Integer,
    /// A number: an integer or a finite float (`customers.lastSeen`, a UNIX time).
    Number,
    /// Tag names, sent as `[{"name": …}, …]`; every one must be carried.
    Tags,
    /// A field the docs do not list: a str, an integer or a float, sent as given.
    Unknown,
}

impl ValueKind {
    fn wanted(self) -> &'static str {
        match self {
            ValueKind::Text => "a str",
            ValueKind::Integer => "an int",
            ValueKind::Number => "a number (int or float)",
            ValueKind::Tags => "a tag name or a list of tag names",
            ValueKind::Unknown => "a str, an int or a float",
        }
    }
}

/// The filter fields HelpCrunch documents, without the prefix, and their values.
pub const FIELDS: [(&str, ValueKind); 16] = [
    ("id", ValueKind::Integer),
    ("name", ValueKind::Text),
    ("email", ValueKind::Text),
    ("company", ValueKind::Text),
    ("phone", ValueKind::Text),
    ("countryCode", ValueKind::Text),
    ("city", ValueKind::Text),
    ("regionCode", ValueKind::Text),
    ("tagsData", ValueKind::Tags),
    ("lastSeen", ValueKind::Number),
    ("userId", ValueKind::Text),
    ("telegramId", ValueKind::Text),
    ("facebookId", ValueKind::Text),
    ("instagramId", ValueKind::Text),
    ("viberId", ValueKind::Text),
    ("whatsappId", ValueKind::Text),
];

fn kind_of(field: &str) -> ValueKind {
    FIELDS
        .iter()
        .find(|(name, _)| *name == field)
        .map_or(ValueKind::Unknown, |(_, kind)| *kind)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    Eq,
    Ne,
    Contains,
    NotContains,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Operator {
    /// Longest symbols first, so that reading `>=` never stops at `>`.
    pub const ALL: [Operator; 8] = [
        Operator::Ne,
        Operator::NotContains,
        Operator::Ge,
        Operator::Le,
        Operator::Eq,
        Operator::Contains,
        Operator::Gt,
        Operator::Lt,
    ];

    pub fn parse(text: &str) -> Option<Operator> {
        Operator::ALL.into_iter().find(|op| op.symbol() == text)
    }

    /// Which operators a field's values allow: tags are a set, so only (not) containing and
    /// having every name; `!=` is documented for "every type but arrays".
    fn allowed_for(self, kind: ValueKind) -> bool {
        kind != ValueKind::Tags
            || matches!(
                self,
                Operator::Eq | Operator::Contains | Operator::NotContains
            )
    }
}

// Each operator's symbol; `NAMES` in the order messages and help list them.
names!(Operator::symbol {
    Operator::Eq => "=",
    Operator::Ne => "!=",
    Operator::Contains => "~",
    Operator::NotContains => "!~",
    Operator::Gt => ">",
    Operator::Ge => ">=",
    Operator::Lt => "<",
    Operator::Le => "<=",
});

fn operator_list() -> String {
    Operator::NAMES.join(" ")
}

/// A filter value as the caller gave it, before it is judged against its field. The binding
/// layer (Python) only says what kind of thing each value is; the rules live here.
#[derive(Debug, Clone, PartialEq)]
pub enum Given {
    Null,
    Bool(bool),
    /// `None`: an integer too large for 128 bits.
    Integer(Option<i128>),
    Float(f64),
    Text(String),
    List(Vec<Given>),
    /// A mapping: its `"name"` entry, if it has one (a tag as `{"name": …}`).
    Mapping(Option<Box<Given>>),
    /// Anything else, by the name of its type.
    Other(String),
}

impl Given {
    fn type_name(&self) -> String {
        match self {
            Given::Null => "None".into(),
            Given::Bool(_) => "bool".into(),
            Given::Integer(_) => "int".into(),
            Given::Float(_) => "float".into(),
            Given::Text(_) => "str".into(),
            Given::List(_) => "list".into(),
            Given::Mapping(_) => "dict".into(),
            Given::Other(name) => name.clone(),
        }
    }
}

impl From<&str> for Given {
    fn from(text: &str) -> Given {
        Given::Text(text.to_owned())
    }
}

impl From<String> for Given {
    fn from(text: String) -> Given {
        Given::Text(text)
    }
}

impl From<i64> for Given {
    fn from(n: i64) -> Given {
        Given::Integer(Some(n.into()))
    }
}

impl From<u64> for Given {
    fn from(n: u64) -> Given {
        Given::Integer(Some(n.into()))
    }
}

impl From<f64> for Given {
    fn from(x: f64) -> Given {
        Given::Float(x)
    }
}

impl<T: Into<Given>> From<Vec<T>> for Given {
    fn from(items: Vec<T>) -> Given {
        Given::List(items.into_iter().map(Into::into).collect())
    }
}

/// One checked filter: `{"field": "customers.…", "operator": …, "value": …}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    field: String,
    operator: Operator,
    value: Value,
}

/// Where a filter came from, as messages name it: an argument of a search (`email`,
/// `where[2]`), whose errors carry it as their [`Argument`], or `the filter` for one built on
/// its own.
#[derive(Debug, Clone, Copy)]
pub(crate) struct At(Option<(&'static str, Option<usize>)>);

impl At {
    const FILTER: At = At(None);

    const fn named(name: &'static str) -> At {
        At(Some((name, None)))
    }

    const fn item(name: &'static str, index: usize) -> At {
        At(Some((name, Some(index))))
    }

    /// An error of `kind` reading `{at}{joint}{detail}`.
    fn refuse(self, kind: InputErrorKind, joint: &str, detail: String) -> Error {
        match self.0 {
            Some((name, index)) => Argument {
                name,
                index,
                detail: String::new(),
            }
            .refuse(kind, joint, detail, ""),
            None => Error::InvalidInput {
                kind,
                message: format!("the filter{joint}{detail}"),
                argument: None,
            },
        }
    }

    fn value_error(self, detail: String) -> Error {
        self.refuse(InputErrorKind::Value, ": ", detail)
    }

    fn type_error(self, detail: String) -> Error {
        self.refuse(InputErrorKind::Type, ": ", detail)
    }
}

impl Filter {
    /// `field` with or without `customers.`; `operator` one of `= != ~ !~ > >= < <=`; `value`
    /// of the field's type (see [`FIELDS`]). Errors name the problem; nothing is sent.
    pub fn new(field: &str, operator: &str, value: impl Into<Given>) -> Result<Filter> {
        Filter::check(field, operator, value.into(), At::FILTER)
    }

    /// `"FIELD OP VALUE"`, as typed on a command line: `lastSeen >= 1700000000`,
    /// `email = ann@example.com`, `name ~ "Ann Lee"`. The value is read as its field's type
    /// (a number for `id` and `lastSeen`, one tag name for `tagsData`, text otherwise); quotes
    /// around it are dropped.
    pub fn parse(text: &str) -> Result<Filter> {
        Filter::parse_at(text, At::FILTER)
    }

    pub(crate) fn parse_at(text: &str, at: At) -> Result<Filter> {
        let shape = || {
            at.refuse(
                InputErrorKind::Value,
                " ",
                format!(
                    "{:?} is not 'FIELD OPERATOR VALUE' (operators: {})",
                    excerpt(text, 60),
                    operator_list()
                ),
            )
        };
        let start = text.find(['=', '!', '~', '<', '>']).ok_or_else(shape)?;
        let (field, rest) = text.split_at(start);
        let operator = Operator::ALL
            .into_iter()
            .find(|op| rest.starts_with(op.symbol()))
            .ok_or_else(shape)?;
        let raw = rest[operator.symbol().len()..].trim();
        let raw = unquote(raw);
        let field = field.trim();
        let name = field_name(field, at)?;
        let value = match kind_of(name) {
            ValueKind::Integer | ValueKind::Number => typed_number(raw).ok_or_else(|| {
                at.value_error(format!("{name} takes a number, got {:?}", excerpt(raw, 40)))
            })?,
            _ => Given::Text(raw.to_owned()),
        };
        Filter::check(field, operator.symbol(), value, at)
    }

    /// `at` says where the filter came from in messages (`"where[2]"`, `"email"`).
    pub(crate) fn check(field: &str, operator: &str, value: Given, at: At) -> Result<Filter> {
        let name = field_name(field, at)?;
        let kind = kind_of(name);
        let op = Operator::parse(operator).ok_or_else(|| {
            at.value_error(format!(
                "{:?} is not an operator; use one of {}",
                excerpt(operator, 20),
                operator_list()
            ))
        })?;
        if !op.allowed_for(kind) {
            return Err(at.value_error(format!(
                "{name} takes = (carries every tag), ~ or !~, not {}",
                op.symbol()
            )));
        }
        let value = check_value(name, kind, value, at)?;
        Ok(Filter {
            field: format!("{FIELD_PREFIX}{name}"),
            operator: op,
            value,
        })
    }

    /// The field as sent: `customers.email`.
    pub fn field(&self) -> &str {
        &self.field
    }

    pub fn operator(&self) -> Operator {
        self.operator
    }

    pub fn value(&self) -> &Value {
        &self.value
    }

    fn to_json(&self) -> Value {
        let mut map = Map::with_capacity(3);
        map.insert("field".into(), Value::String(self.field.clone()));
        map.insert(
            "operator".into(),
            Value::String(self.operator.symbol().into()),
        );
        map.insert("value".into(), self.value.clone());
        Value::Object(map)
    }
}

fn unquote(text: &str) -> &str {
    for quote in ['"', '\''] {
        if text.len() >= 2 && text.starts_with(quote) && text.ends_with(quote) {
            return &text[1..text.len() - 1];
        }
    }
    text
}

fn typed_number(text: &str) -> Option<Given> {
    if let Ok(n) = text.parse::<i128>() {
        return Some(Given::Integer(Some(n)));
    }
    text.parse::<f64>().ok().map(Given::Float)
}

/// The field without its prefix, checked to be an identifier.
fn field_name(field: &str, at: At) -> Result<&str> {
    let name = field.strip_prefix(FIELD_PREFIX).unwrap_or(field);
    let mut chars = name.chars();
    let identifier = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if identifier {
        Ok(name)
    } else {
        Err(at.value_error(format!(
            "{:?} is not a field name (letters, digits and '_', optionally after \
             'customers.'), e.g. 'email' or 'customers.lastSeen'",
            excerpt(field, 40)
        )))
    }
}

fn check_value(name: &str, kind: ValueKind, value: Given, at: At) -> Result<Value> {
    let wrong_type = |value: &Given| {
        at.type_error(format!(
            "{name} takes {}, not {}",
            kind.wanted(),
            value.type_name()
        ))
    };
    match (kind, value) {
        (ValueKind::Text | ValueKind::Unknown, Given::Text(text)) => Ok(Value::String(text)),
        (ValueKind::Integer | ValueKind::Number | ValueKind::Unknown, Given::Integer(n)) => {
            let number = n
                .and_then(|n| {
                    i64::try_from(n)
                        .map(Number::from)
                        .or_else(|_| u64::try_from(n).map(Number::from))
                        .ok()
                })
                .ok_or_else(|| at.value_error(format!("the value for {name} is too large")))?;
            Ok(Value::Number(number))
        }
        (ValueKind::Number | ValueKind::Unknown, Given::Float(x)) => {
            Number::from_f64(x).map(Value::Number).ok_or_else(|| {
                at.value_error(format!(
                    "{name} takes a finite number, got {}",
                    if x.is_nan() { "nan" } else { "inf" }
                ))
            })
        }
        (ValueKind::Tags, value) => tag_value(name, value, at),
        (_, value) => Err(wrong_type(&value)),
    }
}

/// One name, or a non-empty list of names or `{"name": …}` mappings, as `[{"name": …}]`.
fn tag_value(name: &str, value: Given, at: At) -> Result<Value> {
    let wrong = |what: String| {
        at.type_error(format!(
            "{name} takes a tag name or a list of tag names, not {what}"
        ))
    };
    let items = match value {
        Given::Text(text) => vec![Given::Text(text)],
        Given::Mapping(name) => vec![Given::Mapping(name)],
        Given::List(items) if items.is_empty() => {
            return Err(at.value_error(format!(
                "{name} takes at least one tag name; the list is empty"
            )))
        }
        Given::List(items) => items,
        other => return Err(wrong(other.type_name())),
    };
    let mut tags = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let text = match item {
            Given::Text(text) => text,
            Given::Mapping(Some(name)) => match *name {
                Given::Text(text) => text,
                other => return Err(wrong(format!("a tag whose name is {}", other.type_name()))),
            },
            Given::Mapping(None) => {
                return Err(at.value_error(format!(
                    "{name} takes tag names; tag {i} is a mapping without 'name'"
                )))
            }
            other => return Err(wrong(format!("a list holding {}", other.type_name()))),
        };
        tags.push(TagInput {
            name: text,
            color: None,
            position: Some(i),
        });
    }
    let tags = normalize_tags(tags, TagUse::Remove).map_err(|e| match (at.0, e.argument()) {
        // `tag=[…]`: about the item at fault, which the message names as the tag list does.
        (Some((argument, None)), Some(item)) if item.index.is_some() => Error::InvalidInput {
            kind: InputErrorKind::Value,
            message: format!("{argument}: {name}: {e}"),
            argument: Some(Box::new(Argument {
                name: argument,
                index: item.index,
                detail: item.detail.clone(),
            })),
        },
        _ => at.value_error(format!("{name}: {e}")),
    })?;
    Ok(Value::Array(
        tags.into_iter()
            .map(|t| {
                let mut map = Map::with_capacity(1);
                map.insert("name".into(), Value::String(t.name));
                Value::Object(map)
            })
            .collect(),
    ))
}

/// How the filters combine: HelpCrunch's `comparison`, for the whole list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Match {
    /// Every filter (`AND`).
    #[default]
    All,
    /// At least one (`OR`).
    Any,
}

names!(Match as "match" {
    All => "all",
    Any => "any",
});

impl Match {
    pub const fn comparison(self) -> &'static str {
        match self {
            Match::All => "AND",
            Match::Any => "OR",
        }
    }
}

/// A checked query. Cheap to page: the filter list is encoded once.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    filters: Vec<Filter>,
    matching: Match,
    /// `"filter":[…],"comparison":"…"`, the part of every page's body that never changes.
    encoded: String,
}

impl Query {
    /// Customers matching `filters` combined by `matching`; no filters: every customer.
    pub fn new(filters: Vec<Filter>, matching: Match) -> Query {
        let list = Value::Array(filters.iter().map(Filter::to_json).collect());
        let encoded = format!(
            "\"filter\":{},\"comparison\":\"{}\"",
            serde_json::to_string(&list).expect("JSON values always encode"),
            matching.comparison()
        );
        Query {
            filters,
            matching,
            encoded,
        }
    }

    /// Every customer of the account (`GET /customers`).
    pub fn everyone() -> Query {
        Query::new(Vec::new(), Match::All)
    }

    /// The query the keyword arguments and `where` entries of a search stand for: `tag`,
    /// `email` and `user_id` first, then each condition, in order.
    pub fn from_input(input: QueryInput) -> Result<Query> {
        let mut filters = Vec::new();
        if let Some(tag) = input.tag {
            filters.push(Filter::check("tagsData", "=", tag, At::named("tag"))?);
        }
        if let Some(email) = input.email {
            filters.push(Filter::check("email", "=", email, At::named("email"))?);
        }
        if let Some(user_id) = input.user_id {
            filters.push(Filter::check("userId", "=", user_id, At::named("user_id"))?);
        }
        for (i, condition) in input.conditions.into_iter().enumerate() {
            let at = At::item("where", i);
            filters.push(match condition {
                Condition::Text(text) => Filter::parse_at(&text, at)?,
                Condition::Triple {
                    field,
                    operator,
                    value,
                } => Filter::check(&field, &operator, value, at)?,
            });
        }
        let matching = match input.matching {
            Some(text) => Match::parse(&text)?,
            None => Match::All,
        };
        Ok(Query::new(filters, matching))
    }

    pub fn filters(&self) -> &[Filter] {
        &self.filters
    }

    pub fn matching(&self) -> Match {
        self.matching
    }

    /// No filters: pages come from the account's list rather than a search.
    pub fn lists_everyone(&self) -> bool {
        self.filters.is_empty()
    }

    /// The body of `POST /customers/search` for one page, keys in the documented order.
    pub(crate) fn search_body(&self, offset: u64, limit: u64) -> Vec<u8> {
        format!(
            "{{{},\"limit\":{limit},\"offset\":{offset},\"sort\":\"{FIELD_PREFIX}{SORT_KEY}\",\
             \"order\":\"{SORT_ORDER}\"}}",
            self.encoded
        )
        .into_bytes()
    }

    /// The query string of `GET /customers` for one page.
    pub(crate) fn list_query(offset: u64, limit: u64) -> String {
        format!("offset={offset}&limit={limit}&sort={FIELD_PREFIX}{SORT_KEY}&order={SORT_ORDER}")
    }
}

/// What a caller asked for, before checks (see [`Query::from_input`]).
#[derive(Debug, Clone, Default)]
pub struct QueryInput {
    pub tag: Option<Given>,
    pub email: Option<Given>,
    pub user_id: Option<Given>,
    pub conditions: Vec<Condition>,
    /// `"all"` or `"any"`; None: all.
    pub matching: Option<String>,
}

/// One `where` entry.
#[derive(Debug, Clone)]
pub enum Condition {
    /// `"FIELD OP VALUE"` (see [`Filter::parse`]).
    Text(String),
    Triple {
        field: String,
        operator: String,
        value: Given,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refused(result: Result<Filter>) -> (InputErrorKind, String) {
        match result {
            Err(Error::InvalidInput { kind, message, .. }) => (kind, message),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn fields_take_their_prefix_once_and_must_be_identifiers() {
        let f = Filter::new("email", "=", "ann@example.com").unwrap();
        assert_eq!(f.field(), "customers.email");
        let f = Filter::new("customers.email", "=", "ann@example.com").unwrap();
        assert_eq!(f.field(), "customers.email");
        // Not documented, but a field name: sent as given.
        let f = Filter::new("customData", "=", "x").unwrap();
        assert_eq!(f.field(), "customers.customData");
        for bad in [
            "",
            "customers.",
            "e-mail",
            "email\"",
            "1st",
            "a.b",
            " email",
            "имя",
        ] {
            let (kind, message) = refused(Filter::new(bad, "=", "x"));
            assert_eq!(kind, InputErrorKind::Value, "{bad:?}");
            assert!(message.contains("not a field name"), "{bad:?}: {message}");
        }
    }

    #[test]
    fn operators_are_the_documented_ones_and_tags_take_only_set_operators() {
        for op in ["=", "!=", "~", "!~", ">", ">=", "<", "<="] {
            assert_eq!(
                Filter::new("name", op, "x").unwrap().operator().symbol(),
                op
            );
        }
        for bad in ["==", "like", "in", "", " =", "=>"] {
            let (kind, message) = refused(Filter::new("name", bad, "x"));
            assert_eq!(kind, InputErrorKind::Value);
            assert!(message.contains("not an operator"), "{bad:?}: {message}");
        }
        for op in ["=", "~", "!~"] {
            assert!(Filter::new("tagsData", op, "Lead").is_ok());
        }
        for op in ["!=", ">", "<="] {
            let (_, message) = refused(Filter::new("tagsData", op, "Lead"));
            assert!(message.contains("tagsData takes ="), "{message}");
        }
    }

    #[test]
    fn values_must_have_their_fields_type() {
        assert_eq!(
            Filter::new("lastSeen", ">=", 1_700_000_000i64)
                .unwrap()
                .value(),
            &json!(1700000000)
        );
        assert_eq!(
            Filter::new("lastSeen", ">=", 1.5e9).unwrap().value(),
            &json!(1.5e9)
        );
        assert_eq!(Filter::new("id", "=", 7u64).unwrap().value(), &json!(7));
        for (field, value, kind) in [
            ("email", Given::Integer(Some(5)), InputErrorKind::Type),
            ("email", Given::Null, InputErrorKind::Type),
            ("userId", Given::Bool(true), InputErrorKind::Type),
            ("id", Given::Float(1.0), InputErrorKind::Type),
            ("id", Given::Text("5".into()), InputErrorKind::Type),
            ("lastSeen", Given::Bool(false), InputErrorKind::Type),
            ("lastSeen", Given::Float(f64::NAN), InputErrorKind::Value),
            (
                "lastSeen",
                Given::Float(f64::INFINITY),
                InputErrorKind::Value,
            ),
            ("id", Given::Integer(None), InputErrorKind::Value),
            ("id", Given::Integer(Some(1 << 70)), InputErrorKind::Value),
            ("tagsData", Given::Integer(Some(1)), InputErrorKind::Type),
            ("tagsData", Given::List(vec![]), InputErrorKind::Value),
            (
                "tagsData",
                Given::List(vec![Given::Null]),
                InputErrorKind::Type,
            ),
            ("tagsData", Given::Mapping(None), InputErrorKind::Value),
            ("tagsData", Given::Text("  ".into()), InputErrorKind::Value),
            (
                "tagsData",
                Given::Text("a\u{0}b".into()),
                InputErrorKind::Value,
            ),
            ("customData", Given::List(vec![]), InputErrorKind::Type),
            (
                "customData",
                Given::Other("object".into()),
                InputErrorKind::Type,
            ),
        ] {
            let (got, message) = refused(Filter::new(field, "=", value.clone()));
            assert_eq!(got, kind, "{field} {value:?}: {message}");
            assert!(message.contains(field), "{field} {value:?}: {message}");
        }
    }

    #[test]
    fn tags_are_sent_as_documented_and_deduplicated() {
        let f = Filter::new("tagsData", "=", "Lead").unwrap();
        assert_eq!(f.value(), &json!([{"name": "Lead"}]));
        let both = Given::List(vec![
            "Lead".into(),
            Given::Mapping(Some(Box::new("Trial".into()))),
            "Lead".into(),
        ]);
        let f = Filter::new("tagsData", "=", both).unwrap();
        assert_eq!(f.value(), &json!([{"name": "Lead"}, {"name": "Trial"}]));
    }

    #[test]
    fn filters_parse_from_text_as_their_fields_type() {
        let f = Filter::parse("lastSeen >= 1700000000").unwrap();
        assert_eq!(
            (f.field(), f.operator()),
            ("customers.lastSeen", Operator::Ge)
        );
        assert_eq!(f.value(), &json!(1700000000));
        let f = Filter::parse("customers.name~\"Ann Lee\"").unwrap();
        assert_eq!(
            (f.operator(), f.value()),
            (Operator::Contains, &json!("Ann Lee"))
        );
        let f = Filter::parse("email != a=b@example.com").unwrap();
        assert_eq!(f.value(), &json!("a=b@example.com"));
        let f = Filter::parse("tagsData = Lead").unwrap();
        assert_eq!(f.value(), &json!([{"name": "Lead"}]));
        let f = Filter::parse("id<=5").unwrap();
        assert_eq!(f.value(), &json!(5));
        let f = Filter::parse("phone = ''").unwrap();
        assert_eq!(f.value(), &json!(""));
        for bad in [
            "email",
            "lastSeen >= yesterday",
            "= x",
            "em ail = x",
            "id = 1.5",
        ] {
            assert!(Filter::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bodies_have_the_documented_shape_and_order() {
        let query = Query::new(
            vec![
                Filter::new("email", "=", "ann@example.com").unwrap(),
                Filter::new("tagsData", "=", "Lead").unwrap(),
            ],
            Match::Any,
        );
        let body = String::from_utf8(query.search_body(200, 100)).unwrap();
        assert_eq!(
            body,
            r#"{"filter":[{"field":"customers.email","operator":"=","value":"ann@example.com"},{"field":"customers.tagsData","operator":"=","value":[{"name":"Lead"}]}],"comparison":"OR","limit":100,"offset":200,"sort":"customers.firstSeen","order":"asc"}"#
        );
        assert_eq!(
            Query::list_query(0, 50),
            "offset=0&limit=50&sort=customers.firstSeen&order=asc"
        );
        assert!(Query::everyone().lists_everyone());
    }

    #[test]
    fn inputs_combine_keywords_first_and_name_where_each_problem_is() {
        let query = Query::from_input(QueryInput {
            tag: Some("Lead".into()),
            email: Some("a@b.c".into()),
            user_id: Some("u-1".into()),
            conditions: vec![
                Condition::Text("lastSeen > 5".into()),
                Condition::Triple {
                    field: "city".into(),
                    operator: "=".into(),
                    value: "Kyiv".into(),
                },
            ],
            matching: Some("any".into()),
        })
        .unwrap();
        let fields: Vec<_> = query.filters().iter().map(Filter::field).collect();
        assert_eq!(
            fields,
            [
                "customers.tagsData",
                "customers.email",
                "customers.userId",
                "customers.lastSeen",
                "customers.city"
            ]
        );
        assert_eq!(query.matching(), Match::Any);
        let bad = Query::from_input(QueryInput {
            conditions: vec![
                Condition::Text("city = Kyiv".into()),
                Condition::Triple {
                    field: "email".into(),
                    operator: "=".into(),
                    value: Given::Integer(Some(1)),
                },
            ],
            ..QueryInput::default()
        });
        assert!(bad
            .unwrap_err()
            .to_string()
            .starts_with("where[1]: email takes a str"));
        let bad = Query::from_input(QueryInput {
            user_id: Some(Given::Integer(Some(5))),
            ..QueryInput::default()
        });
        assert!(bad
            .unwrap_err()
            .to_string()
            .starts_with("user_id: userId takes a str"));
        let bad = Query::from_input(QueryInput {
            matching: Some("some".into()),
            ..QueryInput::default()
        });
        assert!(bad.unwrap_err().to_string().contains("'all' or 'any'"));
    }
}
