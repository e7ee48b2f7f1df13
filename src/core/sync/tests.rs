//! Building plans from findings, without HTTP: every mode, every outcome of a row, the holders
//! outside the audience, the guard. (Over HTTP: `core::tests::sync`.)

use serde_json::json;

use super::audience::{Audience, KeyInput, MatchKind};
use super::plan::{build, Action, Findings, FoundCustomer, Mode, Plan, PlanContext, PlanRequests};
use super::strategy::Strategy;
use crate::core::CustomerId;

const TAG: &str = "churn-risk";

fn customer(id: u64, email: Option<&str>, tagged: bool) -> FoundCustomer {
    let tags = if tagged {
        json!([{"name": "vip", "color": "#ff0000"}, {"name": TAG, "color": "#ff8c00"}])
    } else {
        json!([{"name": "vip", "color": "#ff0000"}])
    };
    let body = json!({"id": id, "email": email, "userId": format!("u-{id}"), "tags": tags});
    FoundCustomer::read(
        CustomerId::new(id).unwrap(),
        &serde_json::to_vec(&body).unwrap(),
        MatchKind::Email,
        &[TAG],
    )
}

fn plan(mode: Mode, keys: &[&str], found: Vec<FoundCustomer>, holders_counted: u64) -> Plan {
    let audience = Audience::check(
        MatchKind::Email,
        keys.iter().map(|k| KeyInput::from(*k)).collect(),
    );
    let mut findings = Findings::new();
    for c in found {
        findings.add(c);
    }
    if mode == Mode::Mirror {
        findings.mark_all_holders_found();
    }
    build(
        &audience,
        &findings,
        PlanContext {
            tag: TAG.into(),
            index: 0,
            color: None,
            mode,
            strategy: Strategy::Lookups { holders: true },
            strategy_reason: String::new(),
            requests: PlanRequests::default(),
            lookup_batch: 80,
            page_size: 100,
            holders_counted: Some(holders_counted),
        },
    )
}

fn actions(plan: &Plan) -> Vec<(Option<usize>, Option<u64>, &'static str)> {
    plan.items
        .iter()
        .map(|i| (i.row, i.customer_id.map(CustomerId::get), i.action.name()))
        .collect()
}

fn account() -> Vec<FoundCustomer> {
    vec![
        customer(1, Some("tagged@example.com"), true),
        customer(2, Some("Plain@Example.com"), false),
        customer(3, Some("outside@example.com"), true),
        customer(4, Some("twin@example.com"), false),
        customer(5, Some("TWIN@example.com"), true),
    ]
}

const KEYS: &[&str] = &[
    "tagged@example.com",
    "plain@example.com ",
    "twin@example.com",
    "nobody@example.com",
    "not an email",
    "TAGGED@example.com",
];

#[test]
fn mirror_adds_keeps_rejects_and_removes_holders_outside_the_audience() {
    let plan = plan(Mode::Mirror, KEYS, account(), 3);
    assert_eq!(
        actions(&plan),
        [
            (Some(0), Some(1), "none"),
            (Some(1), Some(2), "add"),
            (Some(2), None, "reject"),
            (Some(3), None, "reject"),
            (Some(4), None, "reject"),
            (Some(5), None, "reject"),
            // Customer 5 carries the tag and shares "twin" with 4: the audience names it,
            // ambiguously, so it is left alone. Customer 3 is outside the audience.
            (None, Some(3), "remove"),
        ]
    );
    let reasons: Vec<String> = plan
        .items
        .iter()
        .filter_map(|i| i.reason.as_ref().map(ToString::to_string))
        .collect();
    assert_eq!(
        reasons,
        [
            "2 customers share this email (4, 5); none is guessed",
            "no customer has this email",
            "\"not an email\" is not an email address (it holds a space or a control character)",
            "the same key as row 0, which is kept",
        ]
    );
    assert_eq!(plan.audience_rows, 6);
    assert_eq!(plan.usable_rows, 4);
    assert_eq!(plan.holders, 3);
    assert_eq!(plan.writes(), 2);
    // The removal carries the tag's colour on that customer, for undo.
    assert_eq!(plan.items[6].color.as_deref(), Some("#ff8c00"));
    assert_eq!(plan.known_color.as_deref(), Some("#ff8c00"));
    assert!(plan.mass_removal().is_none(), "1 of 3 holders");
}

#[test]
fn add_only_adds_and_remove_only_removes_from_members() {
    let add = plan(Mode::Add, KEYS, account(), 3);
    assert_eq!(
        actions(&add)[..2],
        [(Some(0), Some(1), "none"), (Some(1), Some(2), "add")]
    );
    assert_eq!(add.items.len(), KEYS.len(), "no holder outside is touched");
    assert_eq!(add.count(Action::Remove), 0);

    let remove = plan(Mode::Remove, KEYS, account(), 3);
    assert_eq!(
        actions(&remove)[..2],
        [(Some(0), Some(1), "remove"), (Some(1), Some(2), "none")]
    );
    assert_eq!(remove.items.len(), KEYS.len());
    assert_eq!(remove.count(Action::Add), 0);
}

#[test]
fn every_row_lands_in_exactly_one_bucket() {
    for mode in Mode::ALL {
        let plan = plan(mode, KEYS, account(), 3);
        let audience: Vec<usize> = plan.items.iter().filter_map(|i| i.row).collect();
        assert_eq!(audience, (0..KEYS.len()).collect::<Vec<_>>(), "{mode:?}");
        let by_action: usize = [Action::Add, Action::Remove, Action::None, Action::Reject]
            .iter()
            .map(|a| plan.count(*a))
            .sum();
        assert_eq!(by_action, plan.items.len());
    }
}

#[test]
fn the_guard_refuses_removing_more_than_half_or_anyone_for_an_empty_audience() {
    let holders = || {
        (1..=10)
            .map(|i| customer(i, Some(&format!("h{i}@example.com")), true))
            .collect::<Vec<_>>()
    };
    // 5 of 10 holders stay: removing the other 5 is half, not more.
    let half: Vec<String> = (1..=5).map(|i| format!("h{i}@example.com")).collect();
    let half: Vec<&str> = half.iter().map(String::as_str).collect();
    assert!(plan(Mode::Mirror, &half, holders(), 10)
        .mass_removal()
        .is_none());
    // 4 stay: 6 of 10 go.
    let guard = plan(Mode::Mirror, &half[..4], holders(), 10)
        .mass_removal()
        .unwrap();
    assert_eq!((guard.removing, guard.holders), (6, 10));
    assert!(!guard.empty_audience);
    assert_eq!(
        guard.to_string(),
        "this plan removes the tag from 6 of its 10 current holders, and that is more than \
         half of them; pass allow_mass_removal=True if that is what you mean"
    );
    // An empty audience, or one whose every row is rejected, removes nobody unallowed.
    for keys in [&[][..], &["", "nope"][..]] {
        let guard = plan(Mode::Mirror, keys, holders(), 10)
            .mass_removal()
            .unwrap();
        assert!(guard.empty_audience, "{keys:?}");
        assert!(guard.to_string().contains("no usable row"));
    }
    // Removing nothing needs no permission, whatever the audience.
    assert!(plan(Mode::Mirror, &[], vec![], 0).mass_removal().is_none());
}

#[test]
fn a_customer_found_twice_counts_once() {
    let mut found = account();
    found.push(customer(2, Some("plain@example.com"), false));
    let plan = plan(Mode::Mirror, &["plain@example.com"], found, 3);
    assert_eq!(actions(&plan)[0], (Some(0), Some(2), "add"));
}

#[test]
fn user_ids_and_ids_match_their_own_field() {
    let body = |id: u64| {
        serde_json::to_vec(
            &json!({"id": id, "email": null, "userId": format!("U-{id}"), "tags": []}),
        )
        .unwrap()
    };
    let id = CustomerId::new(7).unwrap();
    let by_user = FoundCustomer::read(id, &body(7), MatchKind::UserId, &[TAG]);
    assert_eq!(by_user.key, Some(super::Key::Text("U-7".into())));
    assert!(!by_user.carries(0));
    let by_id = FoundCustomer::read(id, &body(7), MatchKind::Id, &[TAG]);
    assert_eq!(by_id.key, Some(super::Key::Id(id)));
    // Tag names are case sensitive.
    let other_case =
        serde_json::to_vec(&json!({"id": 7, "tags": [{"name": "Churn-Risk"}]})).unwrap();
    assert!(!FoundCustomer::read(id, &other_case, MatchKind::Id, &[TAG]).carries(0));
}

#[test]
fn every_write_carries_its_change_and_nothing_else_does() {
    for mode in Mode::ALL {
        let plan = plan(mode, KEYS, account(), 3);
        for item in &plan.items {
            let kind = item.change.as_ref().map(|c| c.edit.kind());
            match item.action {
                Action::Add => assert_eq!(kind, Some("add")),
                Action::Remove => assert_eq!(kind, Some("remove")),
                Action::None | Action::Reject => assert_eq!(kind, None),
            }
            if let Some(change) = &item.change {
                assert_eq!(Some(change.customer_id), item.customer_id);
                assert_eq!(change.edit.tags()[0].name, TAG);
            }
        }
    }
}

#[test]
fn an_add_takes_the_tags_known_colour_and_a_removal_keeps_the_one_it_replaces() {
    let mirror = plan(Mode::Mirror, KEYS, account(), 3);
    let colors = |action: Action| -> Vec<Option<String>> {
        mirror
            .items
            .iter()
            .filter(|i| i.action == action)
            .map(|i| i.change.as_ref().unwrap().edit.tags()[0].color.clone())
            .collect()
    };
    assert!(!colors(Action::Add).is_empty() && !colors(Action::Remove).is_empty());
    for color in colors(Action::Add)
        .into_iter()
        .chain(colors(Action::Remove))
    {
        assert_eq!(color.as_deref(), Some("#ff8c00"));
    }
    // Undoing a removal puts the tag back as it was: its inverse adds it with that colour.
    let removal = mirror
        .items
        .iter()
        .find(|i| i.action == Action::Remove)
        .unwrap();
    let back = removal.change.as_ref().unwrap().inverse();
    assert_eq!(back.edit.kind(), "add");
    assert_eq!(back.edit.tags()[0].color.as_deref(), Some("#ff8c00"));
}
