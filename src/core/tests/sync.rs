//! Planning a tag sync over HTTP against the sandbox, requests counted by the server: the
//! standard case at the fewest requests, every mode and match kind, the batch halved under
//! `max_filters` (and the page under `max_page_size`), scan against lookups, and that planning
//! writes nothing.

use std::time::Duration;

use serde_json::{json, Map, Value};

use super::KEY;
use crate::core::runtime;
use crate::core::sync::{Action, KeyInput, Plan, PlanRequest, Strategy};
use crate::core::{Client, ClientConfig};
use crate::sandbox::{Customers, Sandbox, SandboxConfig};

const TAG: &str = "churn-risk";

/// One customer of the account: an email, a userId, and the tag or not.
fn customer(id: u64, email: &str, tagged: bool) -> Map<String, Value> {
    let mut tags = vec![json!({"name": "vip", "color": "#ff0000"})];
    if tagged {
        tags.push(json!({"name": TAG, "color": "#ff8c00"}));
    }
    let value = json!({
        "id": id,
        "email": email,
        "userId": format!("user-{id}"),
        "firstSeen": (1_600_000_000 + id).to_string(),
        "tags": tags,
    });
    match value {
        Value::Object(map) => map,
        _ => unreachable!(),
    }
}

/// The standard case, scaled by `n` (the is `n = 10`): an account of `5,000 n`; an
/// audience of `1,000 n` emails, `950 n` of them already tagged, `10 n` unknown and `2 n`
/// shared by two customers who lack the tag; `60 n` holders outside the audience.
struct Standard {
    customers: Vec<Map<String, Value>>,
    audience: Vec<String>,
}

fn standard(n: u64) -> Standard {
    let mut customers = Vec::new();
    let mut audience = Vec::new();
    let mut id = 0;
    let mut next = |email: String, tagged: bool, customers: &mut Vec<_>| {
        id += 1;
        customers.push(customer(id, &email, tagged));
        email
    };
    for i in 0..950 * n {
        audience.push(next(format!("tagged{i}@example.com"), true, &mut customers));
    }
    for i in 0..(1_000 - 950 - 10 - 2) * n {
        audience.push(next(format!("new{i}@example.com"), false, &mut customers));
    }
    for i in 0..10 * n {
        audience.push(format!("unknown{i}@example.com"));
    }
    for i in 0..2 * n {
        let email = next(format!("twin{i}@example.com"), false, &mut customers);
        next(email.clone(), false, &mut customers);
        audience.push(email);
    }
    for i in 0..60 * n {
        next(format!("outside{i}@example.com"), true, &mut customers);
    }
    while (customers.len() as u64) < 5_000 * n {
        let i = customers.len();
        next(format!("other{i}@example.com"), false, &mut customers);
    }
    Standard {
        customers,
        audience,
    }
}

fn start(customers: Vec<Map<String, Value>>, change: impl FnOnce(&mut SandboxConfig)) -> Sandbox {
    let mut config = SandboxConfig::new(KEY);
    config.customers = Customers::Given(customers);
    change(&mut config);
    Sandbox::start(config, &runtime::handle()).expect("the sandbox starts")
}

fn client(sb: &Sandbox) -> Client {
    let mut config = ClientConfig::new(KEY);
    config.base_url = sb.base_url();
    config.rate_limit = None;
    config.timeout = Duration::from_secs(10);
    Client::new(config).unwrap()
}

fn request(mode: &str, kind: &str, keys: Vec<KeyInput>, batch: Option<i128>) -> PlanRequest {
    PlanRequest::new(TAG, None, mode, kind, keys, batch).unwrap()
}

fn emails(keys: &[String]) -> Vec<KeyInput> {
    keys.iter().map(|k| KeyInput::from(k.as_str())).collect()
}

fn counts(plan: &Plan) -> [usize; 4] {
    [
        plan.count(Action::Add),
        plan.count(Action::Remove),
        plan.count(Action::None),
        plan.count(Action::Reject),
    ]
}

fn searches(sb: &Sandbox) -> u64 {
    sb.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/v1/customers/search")
        .count() as u64
}

fn writes(sb: &Sandbox) -> u64 {
    sb.requests()
        .iter()
        .filter(|r| r.method != "GET" && r.path != "/v1/customers/search")
        .count() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standard_case_costs_the_holders_pages_and_a_few_lookups() {
    let case = standard(1);
    let sb = start(case.customers, |_| {});
    let plan = client(&sb)
        .plan_tag(
            &request("mirror", "email", emails(&case.audience), None),
            None,
        )
        .await
        .unwrap();
    // 38 to add, 60 outside to remove, 950 unchanged, 10 unknown and 2 shared rejected.
    assert_eq!(counts(&plan), [38, 60, 950, 12]);
    assert_eq!(plan.holders, 1_010);
    assert_eq!(plan.writes(), 98);
    assert_eq!(plan.strategy, Strategy::Lookups { holders: true });
    assert!(plan.mass_removal().is_none());
    // The minimum for the holders and 50 keys: 11 pages of holders and 1 lookup of 80. One
    // count of the account on top, to weigh a scan.
    assert_eq!(
        (
            plan.requests.holder_pages,
            plan.requests.lookups,
            plan.requests.probes
        ),
        (11, 1, 1)
    );
    assert_eq!(sb.request_count(), plan.requests.total());
    assert_eq!(sb.request_count(), 13);
    assert_eq!(writes(&sb), 0, "planning writes nothing");
    let shared: Vec<String> = plan
        .items
        .iter()
        .filter_map(|i| i.reason.as_ref())
        .filter(|r| r.code() == "shared")
        .map(ToString::to_string)
        .collect();
    assert_eq!(shared.len(), 2);
    assert!(
        shared[0].starts_with("2 customers share this email ("),
        "{}",
        shared[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_batch_is_halved_once_and_the_size_kept() {
    let case = standard(1);
    // 50 keys left after the holders, all in one batch; the server takes 15 filters: the 50
    // and then 25 are refused once each, then batches of 12 pass (50 keys: 5 lookups).
    let sb = start(case.customers, |c| c.max_filters = Some(15));
    let plan = client(&sb)
        .plan_tag(
            &request("mirror", "email", emails(&case.audience), None),
            None,
        )
        .await
        .unwrap();
    assert_eq!(counts(&plan), [38, 60, 950, 12]);
    assert_eq!(plan.lookup_batch, 12);
    assert_eq!(sb.status_count(400), 2);
    assert_eq!(plan.requests.lookups, 2 + 5);
    assert_eq!(plan.requests.unused, 2);
    assert_eq!(sb.request_count(), plan.requests.total());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capped_page_size_is_learned_and_reported() {
    let case = standard(1);
    let sb = start(case.customers, |c| c.max_page_size = Some(50));
    let plan = client(&sb)
        .plan_tag(
            &request("mirror", "email", emails(&case.audience), None),
            None,
        )
        .await
        .unwrap();
    assert_eq!(counts(&plan), [38, 60, 950, 12]);
    assert_eq!(plan.page_size, 50);
    assert_eq!(sb.request_count(), plan.requests.total());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_account_with_many_keys_is_scanned() {
    // 300 customers, 200 keys none of them tagged, batch 10: 20 lookups against 3 pages.
    let customers: Vec<_> = (1..=300)
        .map(|id| customer(id, &format!("c{id}@example.com"), id > 290))
        .collect();
    let keys: Vec<String> = (1..=200).map(|id| format!("C{id}@example.com")).collect();
    let sb = start(customers, |_| {});
    let plan = client(&sb)
        .plan_tag(&request("mirror", "email", emails(&keys), Some(10)), None)
        .await
        .unwrap();
    assert_eq!(plan.strategy, Strategy::Scan);
    assert!(
        plan.strategy_reason.contains("scanned the whole account"),
        "{}",
        plan.strategy_reason
    );
    // Mixed-case keys match the stored lower-case emails; the 10 holders outside go.
    assert_eq!(counts(&plan), [200, 10, 0, 0]);
    assert_eq!(plan.requests.scan_pages, 3);
    assert!(sb.request_count() <= 1 + 1 + 3, "{}", sb.request_count());
    assert_eq!(sb.request_count(), plan.requests.total());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_and_remove_touch_only_members_by_user_id_and_by_id() {
    let customers: Vec<_> = (1..=20)
        .map(|id| customer(id, &format!("c{id}@example.com"), id <= 10))
        .collect();
    let sb = start(customers, |_| {});
    let client = client(&sb);
    // Users 5..=14: 5..=10 hold the tag, 11..=14 do not; "user-99" is nobody's.
    let mut users: Vec<KeyInput> = (5..=14)
        .map(|id| KeyInput::from(format!("user-{id}").as_str()))
        .collect();
    users.push("user-99".into());
    users.push("USER-5".into());
    let add = client
        .plan_tag(&request("add", "user_id", users.clone(), None), None)
        .await
        .unwrap();
    // User ids match exactly: "USER-5" is nobody's.
    assert_eq!(counts(&add), [4, 0, 6, 2]);
    let remove = client
        .plan_tag(&request("remove", "user_id", users, None), None)
        .await
        .unwrap();
    assert_eq!(counts(&remove), [0, 6, 4, 2]);
    assert_eq!(remove.holders, 10);
    assert!(remove.mass_removal().is_some(), "6 of 10 holders");

    let ids: Vec<KeyInput> = vec![
        3u64.into(),
        15u64.into(),
        "16".into(),
        999u64.into(),
        "x".into(),
    ];
    let mirror = client
        .plan_tag(&request("mirror", "id", ids, None), None)
        .await
        .unwrap();
    // 3 keeps it, 15 and 16 get it, 999 and "x" are rejected, 9 other holders lose it.
    assert_eq!(counts(&mirror), [2, 9, 1, 2]);
    assert!(mirror.mass_removal().is_some());
    assert_eq!(writes(&sb), 0);
    assert!(searches(&sb) > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_tags_share_the_lookups_and_merge_the_writes() {
    use crate::core::sync::{SegmentInput, TagsRequest};

    let case = standard(1);
    let sb = start(case.customers, |_| {});
    // "fresh" (no holder yet) on the first 100 tagged members and the 38 new ones: every key
    // of it is also in the churn-risk audience, so no key is looked up twice.
    let fresh: Vec<String> = case.audience[..100]
        .iter()
        .chain(&case.audience[950..988])
        .cloned()
        .collect();
    let segment = |tag: &str, keys: &[String]| SegmentInput {
        tag: tag.into(),
        color: None,
        keys: emails(keys),
        positions: None,
    };
    let request = TagsRequest::new(
        vec![segment(TAG, &case.audience), segment("fresh", &fresh)],
        "mirror",
        "email",
        None,
    )
    .unwrap();
    let plan = client(&sb).plan_tags(&request, None).await.unwrap();
    assert_eq!(counts(&plan.plans[0]), [38, 60, 950, 12]);
    assert_eq!(counts(&plan.plans[1]), [138, 0, 0, 0]);
    // The one-tag plan's 13 requests, and one page of fresh's holders (it has none).
    assert_eq!(
        (plan.requests.holder_pages, plan.requests.lookups),
        (11 + 1, 1)
    );
    assert_eq!(sb.request_count(), 14);
    assert_eq!(writes(&sb), 0, "planning writes nothing");
    // The 38 new members gain both tags in one change each; 100 gain fresh; 60 lose churn-risk.
    let tags_of = |kind: &str| -> Vec<usize> {
        plan.changes
            .iter()
            .filter(|c| c.edit.kind() == kind)
            .map(|c| c.edit.tags().len())
            .collect()
    };
    let adds = tags_of("add");
    assert_eq!(adds.len(), 138);
    assert_eq!(adds.iter().filter(|n| **n == 2).count(), 38);
    assert_eq!(tags_of("remove"), vec![1; 60]);
    assert_eq!(
        plan.writes(),
        198,
        "not 38 + 138 + 60 = 236 as two plans would send"
    );
}
