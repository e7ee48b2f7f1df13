//! The terms a filter is made of: the fields HelpCrunch documents and the values each takes,
//! the operators, a value as the caller gave it, and where a filter came from (for messages).

use crate::core::error::{Argument, Error, InputErrorKind};
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
    /// Its type in the docs' operator table; None for a field the docs do not list, whose
    /// type is the value's (see `Filter::check`).
    pub fn operand(self) -> Option<Operand> {
        match self {
            ValueKind::Text => Some(Operand::Text),
            ValueKind::Integer | ValueKind::Number => Some(Operand::Number),
            ValueKind::Tags => Some(Operand::Array),
            ValueKind::Unknown => None,
        }
    }

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

pub(super) fn kind_of(field: &str) -> ValueKind {
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

    /// The docs' table of operators by type: `=` for every type, `!=` for every type but
    /// arrays (so not tags), `~` and `!~` for strings, `>`, `>=`, `<`, `<=` for numbers and
    /// dates. The one home of that table: the client's checks and the sandbox both read it.
    pub fn takes(self, operand: Operand) -> bool {
        match self {
            Operator::Eq => true,
            Operator::Ne => operand != Operand::Array,
            Operator::Contains | Operator::NotContains => operand == Operand::Text,
            Operator::Gt | Operator::Ge | Operator::Lt | Operator::Le => operand == Operand::Number,
        }
    }

    /// The operators `operand` takes, as messages list them: `= != ~ !~`.
    pub fn taken_by(operand: Operand) -> String {
        Operator::NAMES
            .iter()
            .filter(|symbol| Operator::parse(symbol).is_some_and(|op| op.takes(operand)))
            .copied()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The types of the docs' operator table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operand {
    /// A string.
    Text,
    /// A number or a date (a UNIX time).
    Number,
    /// An array: a customer's tags.
    Array,
}

impl Operand {
    pub const ALL: [Operand; 3] = [Operand::Text, Operand::Number, Operand::Array];

    /// How messages call a field of this type.
    pub fn describe(self) -> &'static str {
        match self {
            Operand::Text => "a text field",
            Operand::Number => "a number or date field",
            Operand::Array => "a list field",
        }
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

pub(super) fn operator_list() -> String {
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

/// Where a filter came from, as messages name it: an argument of a search (`email`,
/// `where[2]`), whose errors carry it as their [`Argument`], or `the filter` for one built on
/// its own.
#[derive(Debug, Clone, Copy)]
pub(crate) struct At(pub(super) Option<(&'static str, Option<usize>)>);

impl At {
    pub(super) const FILTER: At = At(None);

    pub(super) const fn named(name: &'static str) -> At {
        At(Some((name, None)))
    }

    pub(super) const fn item(name: &'static str, index: usize) -> At {
        At(Some((name, Some(index))))
    }

    /// An error of `kind` reading `{at}{joint}{detail}`.
    pub(super) fn refuse(self, kind: InputErrorKind, joint: &str, detail: String) -> Error {
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
