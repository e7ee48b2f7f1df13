//! Tag sync: plan making HelpCrunch's tag match an audience (a segment of emails, user ids or
//! customer ids), with as few requests as the API allows; nothing is written by planning.
//!
//! - `mode`: what a sync does (mirror, add or remove);
//! - `audience`: the keys, checked and normalised; bad rows rejected with a reason in words;
//! - `strategy`: lookups or a scan of the account, whichever costs fewer requests;
//! - `find`: keys to customers (lookups or a scan) for plans that need only those;
//! - `lookup`: keys searched several at a time, the batch halved when the server refuses it;
//! - `plan`: each row (and each holder outside the audience) to add / remove / none / reject,
//!   and the guard against removing the tag from too many holders;
//! - `planner`: the requests, through the search pager and the client's call loop, for one
//!   managed tag or several at once;
//! - `progress`: how far a plan has got (requests sent, about how many in all);
//! - `segments`: several tags in one plan (a team's segments), the writes merged per customer.
//!
//! Applying a plan is a bulk run of `AddTags`/`RemoveTags` calls (the Python layer drives it
//! through its bulk engine, with the run's log).
//!
//! ```no_run
//! # async fn demo(client: helpcrunch::core::Client) -> helpcrunch::core::Result<()> {
//! use helpcrunch::core::sync::{KeyInput, PlanRequest};
//!
//! let keys = vec![KeyInput::from("ann@example.com"), KeyInput::from("bo@example.com")];
//! let request = PlanRequest::new("churn-risk", None, "mirror", "email", keys, None)?;
//! let plan = client.plan_tag(&request, None).await?;
//! println!("{} writes after {} requests", plan.writes(), plan.requests.total());
//! # Ok(()) }
//! ```

pub mod audience;
pub mod find;
pub mod lookup;
pub mod mode;
pub mod plan;
pub mod planner;
pub mod progress;
pub mod segments;
pub mod strategy;

#[cfg(test)]
mod tests;

pub use audience::{Audience, Key, KeyInput, MatchKind, Reason, Row};
pub use mode::Mode;
pub use plan::{Action, MassRemoval, Plan, PlanItem, PlanRequests};
pub use planner::PlanRequest;
pub use progress::PlanProgress;
pub use segments::{Segment, SegmentInput, TagsPlan, TagsRequest};
pub use strategy::Strategy;
