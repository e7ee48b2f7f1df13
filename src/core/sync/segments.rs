//! Several tags in one plan: a team's segments (one audience per managed tag) planned together
//! and applied as merged writes. The requests are the one-tag planner's (`planner.rs`, which
//! plans any number of managed tags: each distinct key looked up once for all of them, each
//! tag's holders read once, or the account scanned once); what is new here is the request, the
//! per-customer merge of the tags' changes, and the plan that holds both.
//!
//! Merged, a customer gets at most one `PUT` with every tag it gains and one `DELETE` with
//! every tag it loses: HelpCrunch's tag calls take a list.

use std::collections::HashMap;
use std::sync::Arc;

use super::super::change::{Change, Edit};
use super::super::client::{Client, Observer};
use super::super::config::{Setting, DEFAULT_LOOKUP_BATCH, DEFAULT_PAGE_SIZE};
use super::super::error::{quote, Error, Result};
use super::super::validate::{normalize_tags, CustomerId, Tag, TagInput, TagUse};
use super::audience::{Audience, KeyInput, MatchKind};
use super::mode::Mode;
use super::plan::{Action, MassRemoval, Plan, PlanRequests};
use super::planner::Managed;
use super::progress::PlanProgress;
use super::strategy::Strategy;

/// One managed tag and the keys that should carry it.
#[derive(Debug, Clone)]
pub struct Segment {
    pub tag: Tag,
    pub audience: Audience,
}

/// One segment as the caller gives it, before checks.
#[derive(Debug, Clone)]
pub struct SegmentInput {
    pub tag: String,
    /// The colour for the tag if it does not exist yet.
    pub color: Option<String>,
    pub keys: Vec<KeyInput>,
    /// Each key's place in the caller's table (one tag's rows of a long table), which a
    /// duplicate's reason names; None: the keys are the table.
    pub positions: Option<Vec<usize>>,
}

/// What to plan for several tags, checked.
#[derive(Debug, Clone)]
pub struct TagsRequest {
    /// The managed tags, in the order given, each with its audience (empty: nobody should
    /// carry it).
    pub segments: Vec<Segment>,
    pub mode: Mode,
    pub kind: MatchKind,
    pub lookup_batch: u64,
    pub page_size: u64,
}

impl TagsRequest {
    /// Check the tags (names, colours, each once), the mode, the match kind and the batch; each
    /// row of each audience too (a bad one becomes a rejected row). Nothing is sent.
    pub fn new(
        segments: Vec<SegmentInput>,
        mode: &str,
        kind: &str,
        lookup_batch: Option<i128>,
    ) -> Result<TagsRequest> {
        let mode = Mode::parse(mode)?;
        let kind = MatchKind::parse(kind)?;
        let lookup_batch = match lookup_batch {
            Some(n) => Setting::LookupBatch.integer(Some(n))?,
            None => DEFAULT_LOOKUP_BATCH,
        };
        if segments.is_empty() {
            return Err(Error::value_error(
                "no tag to manage: pass at least one tag (a segment, or tags=)",
            ));
        }
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut checked = Vec::with_capacity(segments.len());
        for (i, segment) in segments.into_iter().enumerate() {
            let tag = normalize_tags(
                vec![TagInput {
                    name: segment.tag,
                    color: segment.color,
                    position: None,
                }],
                TagUse::Add,
            )?
            .remove(0);
            if seen.insert(tag.name.clone(), i).is_some() {
                return Err(Error::value_error(format!(
                    "tag {} is managed twice; give each tag one audience",
                    quote(&tag.name)
                )));
            }
            let audience = Audience::check_at(kind, segment.keys, segment.positions.as_deref());
            checked.push(Segment { tag, audience });
        }
        Ok(TagsRequest {
            segments: checked,
            mode,
            kind,
            lookup_batch,
            page_size: DEFAULT_PAGE_SIZE,
        })
    }
}

/// The plan for several tags: each tag's own plan (its rows, its holders, its guard), and the
/// writes merged per customer.
#[derive(Debug, Clone)]
pub struct TagsPlan {
    pub mode: Mode,
    pub kind: MatchKind,
    /// One plan per managed tag, in the order given; each carries the requests and the
    /// strategy of the whole (they were shared).
    pub plans: Vec<Plan>,
    /// What applying sends: for each customer, one change adding every tag it gains, then one
    /// removing every tag it loses; the adds first (an interrupted mirror leaves a tag too many
    /// rather than too few).
    pub changes: Vec<Change>,
    pub strategy: Strategy,
    pub strategy_reason: String,
    pub requests: PlanRequests,
    pub lookup_batch: u64,
    pub page_size: u64,
}

impl TagsPlan {
    /// Requests applying sends: one per merged change.
    pub fn writes(&self) -> usize {
        self.changes.len()
    }

    /// Each tag's guard (see [`Plan::mass_removal`]), by the tag's name.
    pub fn mass_removals(&self) -> Vec<(&str, MassRemoval)> {
        self.plans
            .iter()
            .filter_map(|p| p.mass_removal().map(|m| (p.tag.as_str(), m)))
            .collect()
    }
}

impl Client {
    /// Plan several tags together (see [`super::segments`]). Sends searches only; writes
    /// nothing.
    pub async fn plan_tags(
        &self,
        request: &TagsRequest,
        observer: Option<Arc<dyn Observer>>,
    ) -> Result<TagsPlan> {
        self.plan_tags_showing(request, observer, Arc::new(PlanProgress::new()))
            .await
    }

    /// [`Client::plan_tags`], saying in `progress` how far it has got as it goes.
    pub async fn plan_tags_showing(
        &self,
        request: &TagsRequest,
        observer: Option<Arc<dyn Observer>>,
        progress: Arc<PlanProgress>,
    ) -> Result<TagsPlan> {
        let managed = request
            .segments
            .iter()
            .map(|s| Managed {
                tag: &s.tag,
                audience: &s.audience,
            })
            .collect();
        let settings = (request.mode, request.lookup_batch, request.page_size);
        let plans = self
            .plan_managed(managed, settings, observer, progress)
            .await?;
        let first = &plans[0];
        Ok(TagsPlan {
            mode: request.mode,
            kind: request.kind,
            changes: merge(&plans),
            strategy: first.strategy,
            strategy_reason: first.strategy_reason.clone(),
            requests: first.requests,
            lookup_batch: first.lookup_batch,
            page_size: first.page_size,
            plans,
        })
    }
}

/// The tags' changes merged per customer: its adds into one change, its removals into another,
/// the customers in the order their first change comes in the tags' plans.
pub fn merge(plans: &[Plan]) -> Vec<Change> {
    let mut changes = Vec::new();
    for action in [Action::Add, Action::Remove] {
        let mut merged: Vec<(CustomerId, Vec<Tag>)> = Vec::new();
        let mut at: HashMap<CustomerId, usize> = HashMap::new();
        let planned = plans
            .iter()
            .flat_map(|p| &p.items)
            .filter(|i| i.action == action);
        for change in planned.filter_map(|i| i.change.as_ref()) {
            let i = *at.entry(change.customer_id).or_insert_with(|| {
                merged.push((change.customer_id, Vec::new()));
                merged.len() - 1
            });
            merged[i].1.extend(change.edit.tags().iter().cloned());
        }
        changes.extend(merged.into_iter().map(|(id, tags)| Change {
            customer_id: id,
            edit: match action {
                Action::Add => Edit::AddTags(tags),
                _ => Edit::RemoveTags(tags),
            },
        }));
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(tag: &str, keys: &[&str]) -> SegmentInput {
        SegmentInput {
            tag: tag.into(),
            color: None,
            keys: keys.iter().map(|k| KeyInput::from(*k)).collect(),
            positions: None,
        }
    }

    #[test]
    fn a_request_names_each_tag_once_and_at_least_one() {
        let twice = vec![segment("vip", &[]), segment("vip", &["a@example.com"])];
        let error = TagsRequest::new(twice, "mirror", "email", None).unwrap_err();
        assert!(error.to_string().contains("managed twice"), "{error}");
        assert!(TagsRequest::new(vec![], "mirror", "email", None).is_err());
        assert!(TagsRequest::new(vec![segment(" ", &[])], "mirror", "email", None).is_err());
        let ok = TagsRequest::new(
            vec![segment("vip", &[]), segment("trial", &[])],
            "add",
            "id",
            None,
        )
        .unwrap();
        assert_eq!(ok.segments.len(), 2);
        assert_eq!((ok.mode, ok.kind), (Mode::Add, MatchKind::Id));
    }

    #[test]
    fn a_long_tables_duplicate_names_the_row_of_the_table() {
        let input = SegmentInput {
            positions: Some(vec![4, 9]),
            ..segment("vip", &["a@example.com", "A@example.com"])
        };
        let request = TagsRequest::new(vec![input], "mirror", "email", None).unwrap();
        let rows = request.segments[0].audience.rows();
        assert_eq!(
            rows[1],
            super::super::audience::Row::Rejected(super::super::audience::Reason::Duplicate {
                kept_row: 4
            })
        );
    }
}
