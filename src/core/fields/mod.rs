//! Customer sync: plan making HelpCrunch's customers' fields match a table (and create the
//! customers it lacks), with as few requests as the API allows; nothing is written by planning.
//!
//! - `field`: the writable fields, their values and how two compare;
//! - `edit`: a change of fields (what it holds, its requests and record), the
//!   `Edit::{SetFields, Create, Delete}` of [`crate::core::change`];
//! - `plan`: the table's columns to fields, each row to update / create / none / reject, the
//!   guard, and what undo puts back;
//! - `planner`: the requests (the keys found as a tag sync finds them, `sync::find`).

pub mod edit;
pub mod field;
pub mod plan;
pub mod planner;

pub use edit::FieldChange;
pub use field::{Field, Fields};
pub use plan::{
    resolve_columns, undo_fields, Conflict, CustomerAction, CustomerItem, CustomersPlan,
    CustomersRequest, MassChange, Nulls,
};
pub use planner::FieldUndo;
