//! The filter model: the fields HelpCrunch documents and the values each takes, the
//! operators, a value as the caller gave it, and a checked filter.

use serde_json::{Map, Value};

use super::check::{check_value, field_name, typed_number, unquote};
use super::FIELD_PREFIX;
use crate::core::error::{excerpt, Argument, Error, InputErrorKind, Result};
use crate::core::names::names;

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
    pub(super) fn wanted(self) -> &'static str {
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
    pub(super) fn type_name(&self) -> String {
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
pub(crate) struct At(pub(super) Option<(&'static str, Option<usize>)>);

impl At {
    const FILTER: At = At(None);

    pub(super) const fn named(name: &'static str) -> At {
        At(Some((name, None)))
    }

    pub(super) const fn item(name: &'static str, index: usize) -> At {
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

    pub(super) fn value_error(self, detail: String) -> Error {
        self.refuse(InputErrorKind::Value, ": ", detail)
    }

    pub(super) fn type_error(self, detail: String) -> Error {
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

    pub(super) fn to_json(&self) -> Value {
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
