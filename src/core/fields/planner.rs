//! Planning a customer sync, and reading customers by id for undo: the keys found by the
//! finder shared with tag sync (`sync::find`), then the plan built. Nothing is written.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::super::change::Change;
use super::super::client::{Client, Observer};
use super::super::config::{DEFAULT_LOOKUP_BATCH, DEFAULT_PAGE_SIZE};
use super::super::error::Result;
use super::super::sync::audience::{Audience, Key, KeyInput, MatchKind};
use super::super::sync::PlanRequests;
use super::super::validate::CustomerId;
use super::field::Fields;
use super::plan::{build, undo_fields, Conflict, CustomersPlan, CustomersRequest};

impl Client {
    /// Plan making the customers match the request's table (see [`super`]). Searches only.
    pub async fn plan_customers(
        &self,
        request: &CustomersRequest,
        observer: Option<Arc<dyn Observer>>,
    ) -> Result<CustomersPlan> {
        let (findings, report) = self
            .find_customers(
                &request.audience,
                request.lookup_batch,
                request.page_size,
                observer,
            )
            .await?;
        Ok(build(request, &findings, report))
    }

    /// The customers with these ids as they are now (ids joined by OR, several per search),
    /// each as its JSON object; an id no customer has is left out.
    pub async fn read_customers(
        &self,
        ids: &[CustomerId],
        observer: Option<Arc<dyn Observer>>,
    ) -> Result<(HashMap<CustomerId, Map<String, Value>>, PlanRequests)> {
        let keys = ids.iter().map(|id| KeyInput::from(id.get())).collect();
        let audience = Audience::check(MatchKind::Id, keys);
        let (findings, _) = self
            .find_customers(&audience, DEFAULT_LOOKUP_BATCH, DEFAULT_PAGE_SIZE, observer)
            .await?;
        let mut out = HashMap::new();
        for id in ids {
            if let Ok(found) = findings.resolve(&audience, &Key::Id(*id)) {
                if let Ok(map) = serde_json::from_slice(&found.json) {
                    out.insert(*id, map);
                }
            }
        }
        Ok((out, findings.requests))
    }
}

/// What undoing the field changes of a log sends, and what it leaves.
#[derive(Debug, Clone, Default)]
pub struct FieldUndo {
    /// One change per customer putting back the fields that still hold what the runs wrote.
    pub changes: Vec<Change>,
    /// Fields changed since, left as they are.
    pub conflicts: Vec<Conflict>,
    /// Customers no longer found (deleted since): nothing to put back.
    pub missing: Vec<CustomerId>,
    pub requests: PlanRequests,
}

impl Client {
    /// Read the customers `applied` (field changes, in the order they took effect) touched,
    /// in batches of ids, and decide per field what undo puts back (see
    /// [`super::plan::undo_fields`]).
    pub async fn plan_field_undo(
        &self,
        applied: &[Change],
        observer: Option<Arc<dyn Observer>>,
    ) -> Result<FieldUndo> {
        let mut grouped: HashMap<CustomerId, Vec<&Change>> = HashMap::new();
        for change in applied.iter().rev() {
            grouped.entry(change.customer_id).or_default().push(change);
        }
        let mut by_customer: Vec<(CustomerId, Vec<&Change>)> = grouped.into_iter().collect();
        by_customer.sort_by_key(|(id, _)| *id);
        let ids: Vec<CustomerId> = by_customer.iter().map(|(id, _)| *id).collect();
        let (current, requests) = self.read_customers(&ids, observer).await?;
        let mut undo = FieldUndo {
            requests,
            ..FieldUndo::default()
        };
        for (id, latest_first) in by_customer {
            let Some(customer) = current.get(&id) else {
                undo.missing.push(id);
                continue;
            };
            let (change, conflicts) = undo_fields(id, Fields::of_customer(customer), &latest_first);
            undo.changes.extend(change);
            undo.conflicts.extend(conflicts);
        }
        Ok(undo)
    }
}
