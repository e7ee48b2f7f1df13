//! Planning a customer sync, and reading customers by id for undo: the keys found by the
//! finder shared with tag sync (`sync::find`), then the plan built. Nothing is written.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::super::client::{Client, Observer};
use super::super::config::{DEFAULT_LOOKUP_BATCH, DEFAULT_PAGE_SIZE};
use super::super::error::Result;
use super::super::sync::audience::{Audience, Key, KeyInput, MatchKind};
use super::super::sync::PlanRequests;
use super::super::validate::CustomerId;
use super::plan::{build, CustomersPlan, CustomersRequest};

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
