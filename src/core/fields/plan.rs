//! A customer sync's plan: each table row to update / create / none / reject, with every
//! field's current and wanted value, built from the customers the finder found. Pure logic.

use std::collections::HashMap;
use std::fmt;

use serde_json::{Map, Value};

use super::super::change::{Change, Edit};
use super::super::error::{Error, Result};
use super::super::names::names;
use super::super::sync::audience::{Audience, KeyInput, MatchKind, Reason, Row};
use super::super::sync::find::{FindReport, Findings};
use super::super::sync::PlanRequests;
use super::super::validate::CustomerId;
use super::edit::FieldChange;
use super::field::{same, Field, Fields};

/// What an empty cell (None, NaN) means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Nulls {
    /// No value in the data: the field is left as it is.
    Leave,
    /// The field is emptied (a `customData` key removed).
    Clear,
}

names!(Nulls as "nulls" {
    Leave => "leave",
    Clear => "clear",
});

/// What happens to one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CustomerAction {
    Update,
    Create,
    None,
    Reject,
}

names!(CustomerAction {
    Update => "update",
    Create => "create",
    None => "none",
    Reject => "reject",
});

/// Which column of a table is which field: the key column, the columns named after a field,
/// the ones `mapping` (field, column) names. Any other column is an error (a typo must not
/// silently do nothing) unless `ignore_others`. Returns (column position, field) pairs.
pub fn resolve_columns(
    columns: &[String],
    key_column: &str,
    kind: MatchKind,
    mapping: &[(String, String)],
    ignore_others: bool,
) -> Result<Vec<(usize, Field)>> {
    let position = |name: &str| columns.iter().position(|c| c == name);
    if position(key_column).is_none() {
        return Err(Error::value_error(format!(
            "the table has no key column {key_column:?} (columns: {columns:?}); name it with \
             key_column="
        )));
    }
    let key_field = key_field(kind);
    let mut chosen: Vec<(usize, Field)> = Vec::new();
    let mut mapped_columns = Vec::new();
    for (field, column) in mapping {
        let field = Field::named(field)?;
        let Some(at) = position(column) else {
            return Err(Error::value_error(format!(
                "fields= maps {field} to {column:?}, which is not a column (columns: {columns:?})"
            )));
        };
        mapped_columns.push(at);
        chosen.push((at, field));
    }
    let mut unknown = Vec::new();
    for (at, name) in columns.iter().enumerate() {
        if name == key_column || mapped_columns.contains(&at) {
            continue;
        }
        match Field::parse(name) {
            Some(field) => chosen.push((at, field)),
            None => unknown.push(name.clone()),
        }
    }
    if !unknown.is_empty() && !ignore_others {
        return Err(Error::value_error(format!(
            "{} not a customer field: {unknown:?} (fields: name, email, userId, company, phone, \
             notes, unsubscribed, blocked, customData.<key>); map a column with \
             fields={{\"company\": \"org_name\"}}, or pass ignore_columns=True to leave the \
             others out",
            if unknown.len() == 1 {
                "a column is"
            } else {
                "columns are"
            }
        )));
    }
    for (i, (_, field)) in chosen.iter().enumerate() {
        if Some(field) == key_field.as_ref() {
            return Err(Error::value_error(format!(
                "{field} is the key the rows are matched on: it is not synced by another column"
            )));
        }
        if chosen[..i].iter().any(|(_, f)| f == field) {
            return Err(Error::value_error(format!(
                "two columns are the field {field}: keep one"
            )));
        }
    }
    chosen.sort_by_key(|(at, _)| *at);
    Ok(chosen)
}

/// The field a key is (None for HelpCrunch's id, which no one writes).
pub fn key_field(kind: MatchKind) -> Option<Field> {
    match kind {
        MatchKind::Email => Some(Field::Top("email")),
        MatchKind::UserId => Some(Field::Top("userId")),
        MatchKind::Id => None,
    }
}

/// What to plan, checked.
#[derive(Debug, Clone)]
pub struct CustomersRequest {
    pub audience: Audience,
    pub fields: Vec<Field>,
    /// Per row, a value per field (null: no value).
    pub cells: Vec<Vec<Value>>,
    pub nulls: Nulls,
    pub create_missing: bool,
    pub lookup_batch: u64,
    pub page_size: u64,
}

impl CustomersRequest {
    pub fn new(
        kind: &str,
        keys: Vec<KeyInput>,
        fields: Vec<Field>,
        cells: Vec<Vec<Value>>,
        nulls: &str,
        create_missing: bool,
        lookup_batch: Option<i128>,
    ) -> Result<CustomersRequest> {
        let kind = MatchKind::parse(kind)?;
        let nulls = Nulls::parse(nulls)?;
        if create_missing && kind == MatchKind::Id {
            return Err(Error::value_error(
                "create_missing needs match=\"email\" or \"user_id\": HelpCrunch gives a new \
                 customer its id",
            ));
        }
        if cells.len() != keys.len() || cells.iter().any(|row| row.len() != fields.len()) {
            return Err(Error::value_error(
                "each row needs a key and a value per field",
            ));
        }
        let lookup_batch = match lookup_batch {
            Some(n) => super::super::config::Setting::LookupBatch.integer(Some(n))?,
            None => super::super::config::DEFAULT_LOOKUP_BATCH,
        };
        Ok(CustomersRequest {
            audience: Audience::check(kind, keys),
            fields,
            cells,
            nulls,
            create_missing,
            lookup_batch,
            page_size: super::super::config::DEFAULT_PAGE_SIZE,
        })
    }
}

/// One row of the plan.
#[derive(Debug, Clone)]
pub struct CustomerItem {
    pub row: usize,
    pub customer_id: Option<CustomerId>,
    pub action: CustomerAction,
    pub reason: Option<Reason>,
    /// The customer as found (JSON).
    pub customer: Option<Vec<u8>>,
    /// Each field that changes (an update), or each field a create sets (before: None).
    pub changes: Vec<FieldChange>,
    /// What an update sends.
    pub change: Option<Change>,
    /// What a create sends.
    pub create: Option<Fields>,
}

/// A plan that changes too much to apply without being told to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MassChange {
    pub updating: u64,
    pub read: u64,
    pub clearing: u64,
}

/// Customers a plan may empty a field on before it is refused.
pub const MAX_CLEARING: u64 = 100;

impl fmt::Display for MassChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.clearing > MAX_CLEARING {
            write!(
                f,
                "this plan empties a field on {} customers (more than {MAX_CLEARING})",
                self.clearing
            )?;
        } else {
            write!(
                f,
                "this plan changes {} of the {} customers it read (more than half)",
                self.updating, self.read
            )?;
        }
        f.write_str("; pass allow_mass_change=True if that is what you mean")
    }
}

#[derive(Debug, Clone)]
pub struct CustomersPlan {
    pub kind: MatchKind,
    pub fields: Vec<Field>,
    pub nulls: Nulls,
    pub items: Vec<CustomerItem>,
    pub usable_rows: usize,
    /// Customers the plan's requests read.
    pub read: u64,
    pub find: FindReport,
    pub requests: PlanRequests,
}

impl CustomersPlan {
    pub fn count(&self, action: CustomerAction) -> usize {
        self.items.iter().filter(|i| i.action == action).count()
    }

    /// The guard: more than half of the customers read changed, or a field emptied on more
    /// than [`MAX_CLEARING`] customers.
    pub fn mass_change(&self) -> Option<MassChange> {
        let updating = self.count(CustomerAction::Update) as u64;
        let clearing = self
            .items
            .iter()
            .filter(|i| {
                i.action == CustomerAction::Update && i.changes.iter().any(|c| c.after.is_none())
            })
            .count() as u64;
        (updating * 2 > self.read || clearing > MAX_CLEARING)
            .then_some(MassChange {
                updating,
                read: self.read,
                clearing,
            })
            .filter(|_| updating > 0)
    }
}

/// Every row to update / create / none / reject.
pub fn build(request: &CustomersRequest, findings: &Findings, find: FindReport) -> CustomersPlan {
    let audience = &request.audience;
    let mut items = Vec::with_capacity(audience.len());
    for (row, checked) in audience.rows().iter().enumerate() {
        let reject = |reason| CustomerItem {
            row,
            customer_id: None,
            action: CustomerAction::Reject,
            reason: Some(reason),
            customer: None,
            changes: Vec::new(),
            change: None,
            create: None,
        };
        let (key, lookup) = match checked {
            Row::Rejected(reason) => {
                items.push(reject(reason.clone()));
                continue;
            }
            Row::Usable { key, lookup } => (key, lookup),
        };
        let cells = &request.cells[row];
        let bad = request
            .fields
            .iter()
            .zip(cells)
            .find_map(|(field, value)| field.refuses(value));
        if let Some(why) = bad {
            items.push(reject(Reason::Malformed(why)));
            continue;
        }
        match findings.resolve(audience, key) {
            Ok(found) => {
                let customer: Map<String, Value> =
                    serde_json::from_slice(&found.json).unwrap_or_default();
                let base = Fields::of_customer(&customer);
                let changes = changes(request, &base, cells);
                let action = if changes.is_empty() {
                    CustomerAction::None
                } else {
                    CustomerAction::Update
                };
                let change = (!changes.is_empty()).then(|| Change {
                    customer_id: found.id,
                    edit: Edit::SetFields {
                        changes: changes.clone(),
                        base,
                    },
                });
                items.push(CustomerItem {
                    row,
                    customer_id: Some(found.id),
                    action,
                    reason: None,
                    customer: Some(found.json.clone()),
                    changes,
                    change,
                    create: None,
                });
            }
            Err(Reason::Unknown(_)) if request.create_missing => {
                let mut fields = Fields::of_customer(&Map::new());
                let mut changes = Vec::new();
                let key_value = lookup.first().cloned().map(Value::String);
                let given = key_field(audience.kind()).map(|f| (f, key_value));
                let values = request.fields.iter().cloned().zip(cells.iter().cloned());
                for (field, value) in given.into_iter().chain(values.map(|(f, v)| (f, Some(v)))) {
                    let value = value.filter(|v| !v.is_null());
                    if value.is_some() {
                        fields.set(&field, value.clone());
                        changes.push(FieldChange {
                            field,
                            before: None,
                            after: value,
                        });
                    }
                }
                items.push(CustomerItem {
                    row,
                    customer_id: None,
                    action: CustomerAction::Create,
                    reason: None,
                    customer: None,
                    changes,
                    change: None,
                    create: Some(fields),
                });
            }
            Err(reason) => items.push(reject(reason)),
        }
    }
    CustomersPlan {
        kind: audience.kind(),
        fields: request.fields.clone(),
        nulls: request.nulls,
        items,
        usable_rows: audience.usable(),
        read: findings.read,
        find,
        requests: findings.requests,
    }
}

/// The fields of one row that differ from the customer's.
fn changes(request: &CustomersRequest, base: &Fields, cells: &[Value]) -> Vec<FieldChange> {
    let mut out = Vec::new();
    for (field, value) in request.fields.iter().zip(cells) {
        let wanted = match (value, request.nulls) {
            (Value::Null, Nulls::Leave) => continue,
            (Value::Null, Nulls::Clear) => None,
            (v, _) => Some(v),
        };
        let current = base.get(field);
        if !same(current, wanted) {
            out.push(FieldChange {
                field: field.clone(),
                before: current.cloned(),
                after: wanted.cloned(),
            });
        }
    }
    out
}

/// A field undo leaves: changed since the run wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub customer_id: CustomerId,
    pub field: Field,
    /// What the run wrote (None: it emptied it).
    pub wrote: Option<Value>,
    /// What it holds now.
    pub now: Option<Value>,
}

/// What undoing a customer's logged field changes sends: each field put back where it still
/// holds what the run wrote, from the latest change to the earliest (a field put back is what
/// the change before it is compared with); every other field is a conflict. `current`: the
/// customer as read now.
pub fn undo_fields(
    customer_id: CustomerId,
    current: Fields,
    latest_first: &[&Change],
) -> (Option<Change>, Vec<Conflict>) {
    let mut now = current.clone();
    let mut restore: HashMap<Field, (Option<Value>, Option<Value>)> = HashMap::new();
    let mut order = Vec::new();
    let mut conflicts = Vec::new();
    for change in latest_first {
        for fc in change.edit.field_changes() {
            let holds = now.get(&fc.field).cloned();
            if same(holds.as_ref(), fc.after.as_ref()) {
                now.set(&fc.field, fc.before.clone());
                let entry = restore.entry(fc.field.clone()).or_insert_with(|| {
                    order.push(fc.field.clone());
                    (holds.clone(), None)
                });
                entry.1 = fc.before.clone();
            } else {
                conflicts.push(Conflict {
                    customer_id,
                    field: fc.field.clone(),
                    wrote: fc.after.clone(),
                    now: holds,
                });
            }
        }
    }
    let changes: Vec<FieldChange> = order
        .into_iter()
        .filter_map(|field| {
            let (before, after) = restore.remove(&field)?;
            (!same(before.as_ref(), after.as_ref())).then_some(FieldChange {
                field,
                before,
                after,
            })
        })
        .collect();
    let change = (!changes.is_empty()).then(|| Change {
        customer_id,
        edit: Edit::SetFields {
            changes,
            base: current,
        },
    });
    (change, conflicts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cols(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn columns_are_fields_by_name_or_mapping_and_others_are_errors() {
        let table = cols(&["email", "company", "customData.plan", "org"]);
        let words = resolve_columns(&table, "email", MatchKind::Email, &[], false)
            .unwrap_err()
            .to_string();
        assert!(
            words.contains("\"org\"") && words.contains("ignore_columns"),
            "{words}"
        );
        let ok = resolve_columns(&table, "email", MatchKind::Email, &[], true).unwrap();
        assert_eq!(
            ok,
            [
                (1, Field::Top("company")),
                (2, Field::Custom("plan".into()))
            ]
        );
        let mapped = [("phone".to_owned(), "org".to_owned())];
        let ok = resolve_columns(&table, "email", MatchKind::Email, &mapped, false).unwrap();
        assert_eq!(ok.last(), Some(&(3, Field::Top("phone"))));
        let twice = [("company".to_owned(), "org".to_owned())];
        assert!(resolve_columns(&table, "email", MatchKind::Email, &twice, false).is_err());
        let not_a_field = [("compnay".to_owned(), "org".to_owned())];
        assert!(resolve_columns(&table, "email", MatchKind::Email, &not_a_field, false).is_err());
        assert!(resolve_columns(&table, "mail", MatchKind::Email, &[], true).is_err());
        let key_twice = [("email".to_owned(), "org".to_owned())];
        assert!(resolve_columns(&table, "email", MatchKind::Email, &key_twice, false).is_err());
    }

    fn change(before: Option<Value>, after: Option<Value>, field: &str) -> Change {
        Change {
            customer_id: CustomerId::new(1).unwrap(),
            edit: Edit::SetFields {
                changes: vec![FieldChange {
                    field: Field::named(field).unwrap(),
                    before,
                    after,
                }],
                base: Fields::of_customer(&Map::new()),
            },
        }
    }

    #[test]
    fn undo_puts_back_only_fields_holding_what_the_run_wrote() {
        let id = CustomerId::new(1).unwrap();
        let now = Fields::of_customer(
            json!({"company": "Initech", "phone": "999", "customData": {"mrr": 15.0}})
                .as_object()
                .unwrap(),
        );
        let company = change(Some(json!("Globex")), Some(json!("Initech")), "company");
        let phone = change(Some(json!("1")), Some(json!("2")), "phone");
        let mrr = change(None, Some(json!(15)), "customData.mrr");
        let (undo, conflicts) = undo_fields(id, now, &[&company, &phone, &mrr]);
        let undo = undo.unwrap();
        let fields: Vec<String> = undo
            .edit
            .field_changes()
            .iter()
            .map(|c| format!("{}={:?}", c.field, c.after))
            .collect();
        assert_eq!(
            fields,
            ["company=Some(String(\"Globex\"))", "customData.mrr=None"]
        );
        assert_eq!(conflicts.len(), 1);
        assert_eq!(conflicts[0].field, Field::Top("phone"));
        assert_eq!(conflicts[0].now, Some(json!("999")));
    }

    #[test]
    fn two_runs_on_one_field_are_undone_back_to_the_first_value() {
        let id = CustomerId::new(1).unwrap();
        let now = Fields::of_customer(json!({"company": "C"}).as_object().unwrap());
        let first = change(Some(json!("A")), Some(json!("B")), "company");
        let second = change(Some(json!("B")), Some(json!("C")), "company");
        let (undo, conflicts) = undo_fields(id, now, &[&second, &first]);
        assert!(conflicts.is_empty());
        let c = &undo.unwrap().edit.field_changes()[0].clone();
        assert_eq!(
            (c.before.clone(), c.after.clone()),
            (Some(json!("C")), Some(json!("A")))
        );
    }
}
