//! A checked filter, from its terms (`terms.rs`) and the checks on them (`check.rs`).

use serde_json::{Map, Value};

use super::check::{check_value, field_name, typed_number, unquote};
use super::terms::{kind_of, operator_list, At, Given, Operand, Operator, ValueKind};
use super::FIELD_PREFIX;
use crate::core::error::{excerpt, InputErrorKind, Result};

/// One checked filter: `{"field": "customers.…", "operator": …, "value": …}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    field: String,
    operator: Operator,
    value: Value,
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
        if let Some(operand) = kind.operand() {
            check_operator(name, op, operand, at)?;
        }
        let value = check_value(name, kind, value, at)?;
        // A field the docs do not list has the type of the value given.
        let operand = match (kind.operand(), &value) {
            (Some(_), _) => None,
            (None, Value::String(_)) => Some(Operand::Text),
            (None, _) => Some(Operand::Number),
        };
        if let Some(operand) = operand {
            check_operator(name, op, operand, at)?;
        }
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

/// The docs' operator table ([`Operator::takes`]), said in a message that names the field, the
/// operator and what the field takes.
fn check_operator(name: &str, op: Operator, operand: Operand, at: At) -> Result<()> {
    if op.takes(operand) {
        return Ok(());
    }
    let hint = match operand {
        Operand::Array => " (the customers carrying every tag named)",
        _ => "",
    };
    Err(at.value_error(format!(
        "{name} is {}: it takes {}{hint}, not {}",
        operand.describe(),
        Operator::taken_by(operand),
        op.symbol()
    )))
}
