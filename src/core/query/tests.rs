use super::*;
use crate::core::error::InputErrorKind;
use crate::core::error::{Error, Result};
use serde_json::json;

fn refused(result: Result<Filter>) -> (InputErrorKind, String) {
    match result {
        Err(Error::InvalidInput { kind, message, .. }) => (kind, message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn fields_take_their_prefix_once_and_must_be_identifiers() {
    let f = Filter::new("email", "=", "ann@example.com").unwrap();
    assert_eq!(f.field(), "customers.email");
    let f = Filter::new("customers.email", "=", "ann@example.com").unwrap();
    assert_eq!(f.field(), "customers.email");
    // Not documented, but a field name: sent as given.
    let f = Filter::new("customData", "=", "x").unwrap();
    assert_eq!(f.field(), "customers.customData");
    for bad in [
        "",
        "customers.",
        "e-mail",
        "email\"",
        "1st",
        "a.b",
        " email",
        "имя",
    ] {
        let (kind, message) = refused(Filter::new(bad, "=", "x"));
        assert_eq!(kind, InputErrorKind::Value, "{bad:?}");
        assert!(message.contains("not a field name"), "{bad:?}: {message}");
    }
}

#[test]
fn operators_are_the_documented_ones() {
    for bad in ["==", "like", "in", "", " =", "=>"] {
        let (kind, message) = refused(Filter::new("name", bad, "x"));
        assert_eq!(kind, InputErrorKind::Value);
        assert!(message.contains("not an operator"), "{bad:?}: {message}");
    }
}

/// The docs' table, written out on its own: which symbols each type takes.
fn documented(operand: Operand) -> &'static [&'static str] {
    match operand {
        Operand::Text => &["=", "!=", "~", "!~"],
        Operand::Number => &["=", "!=", ">", ">=", "<", "<="],
        Operand::Array => &["="],
    }
}

#[test]
fn every_documented_field_takes_the_operators_of_its_type_and_no_other() {
    for (field, kind) in FIELDS {
        let operand = kind.operand().expect("a documented field has a type");
        let value: Given = match operand {
            Operand::Text | Operand::Array => "x".into(),
            Operand::Number => 5u64.into(),
        };
        for op in Operator::NAMES {
            let result = Filter::new(field, op, value.clone());
            if documented(operand).contains(&op) {
                assert_eq!(result.unwrap().operator().symbol(), op, "{field} {op}");
                continue;
            }
            let (kind, message) = refused(result);
            assert_eq!(kind, InputErrorKind::Value, "{field} {op}");
            let taken = documented(operand).join(" ");
            let expected = format!("{field} is {}: it takes {taken}", operand.describe());
            assert!(
                message.starts_with(&format!("the filter: {expected}")),
                "{message}"
            );
            assert!(message.ends_with(&format!(", not {op}")), "{message}");
        }
    }
}

#[test]
fn a_field_the_docs_do_not_list_takes_the_operators_of_its_values_type() {
    for op in Operator::NAMES {
        let text = Filter::new("customData", op, "x");
        assert_eq!(
            text.is_ok(),
            documented(Operand::Text).contains(&op),
            "{op}"
        );
        let number = Filter::new("customData", op, 5u64);
        assert_eq!(
            number.is_ok(),
            documented(Operand::Number).contains(&op),
            "{op}"
        );
    }
    let (_, message) = refused(Filter::new("score", "~", 1.5));
    assert!(
        message.contains("score is a number or date field"),
        "{message}"
    );
}

#[test]
fn the_table_is_read_the_same_from_every_side() {
    for operand in Operand::ALL {
        assert_eq!(Operator::taken_by(operand), documented(operand).join(" "));
        for op in Operator::ALL {
            assert_eq!(
                op.takes(operand),
                documented(operand).contains(&op.symbol())
            );
        }
    }
}

#[test]
fn values_must_have_their_fields_type() {
    assert_eq!(
        Filter::new("lastSeen", ">=", 1_700_000_000i64)
            .unwrap()
            .value(),
        &json!(1700000000)
    );
    assert_eq!(
        Filter::new("lastSeen", ">=", 1.5e9).unwrap().value(),
        &json!(1.5e9)
    );
    assert_eq!(Filter::new("id", "=", 7u64).unwrap().value(), &json!(7));
    for (field, value, kind) in [
        ("email", Given::Integer(Some(5)), InputErrorKind::Type),
        ("email", Given::Null, InputErrorKind::Type),
        ("userId", Given::Bool(true), InputErrorKind::Type),
        ("id", Given::Float(1.0), InputErrorKind::Type),
        ("id", Given::Text("5".into()), InputErrorKind::Type),
        ("lastSeen", Given::Bool(false), InputErrorKind::Type),
        ("lastSeen", Given::Float(f64::NAN), InputErrorKind::Value),
        (
            "lastSeen",
            Given::Float(f64::INFINITY),
            InputErrorKind::Value,
        ),
        ("id", Given::Integer(None), InputErrorKind::Value),
        ("id", Given::Integer(Some(1 << 70)), InputErrorKind::Value),
        ("tagsData", Given::Integer(Some(1)), InputErrorKind::Type),
        ("tagsData", Given::List(vec![]), InputErrorKind::Value),
        (
            "tagsData",
            Given::List(vec![Given::Null]),
            InputErrorKind::Type,
        ),
        ("tagsData", Given::Mapping(None), InputErrorKind::Value),
        ("tagsData", Given::Text("  ".into()), InputErrorKind::Value),
        (
            "tagsData",
            Given::Text("a\u{0}b".into()),
            InputErrorKind::Value,
        ),
        ("customData", Given::List(vec![]), InputErrorKind::Type),
        (
            "customData",
            Given::Other("object".into()),
            InputErrorKind::Type,
        ),
    ] {
        let (got, message) = refused(Filter::new(field, "=", value.clone()));
        assert_eq!(got, kind, "{field} {value:?}: {message}");
        assert!(message.contains(field), "{field} {value:?}: {message}");
    }
}

#[test]
fn tags_are_sent_as_documented_and_deduplicated() {
    let f = Filter::new("tagsData", "=", "Lead").unwrap();
    assert_eq!(f.value(), &json!([{"name": "Lead"}]));
    let both = Given::List(vec![
        "Lead".into(),
        Given::Mapping(Some(Box::new("Trial".into()))),
        "Lead".into(),
    ]);
    let f = Filter::new("tagsData", "=", both).unwrap();
    assert_eq!(f.value(), &json!([{"name": "Lead"}, {"name": "Trial"}]));
}

#[test]
fn filters_parse_from_text_as_their_fields_type() {
    let f = Filter::parse("lastSeen >= 1700000000").unwrap();
    assert_eq!(
        (f.field(), f.operator()),
        ("customers.lastSeen", Operator::Ge)
    );
    assert_eq!(f.value(), &json!(1700000000));
    let f = Filter::parse("customers.name~\"Ann Lee\"").unwrap();
    assert_eq!(
        (f.operator(), f.value()),
        (Operator::Contains, &json!("Ann Lee"))
    );
    let f = Filter::parse("email != a=b@example.com").unwrap();
    assert_eq!(f.value(), &json!("a=b@example.com"));
    let f = Filter::parse("tagsData = Lead").unwrap();
    assert_eq!(f.value(), &json!([{"name": "Lead"}]));
    let f = Filter::parse("id<=5").unwrap();
    assert_eq!(f.value(), &json!(5));
    let f = Filter::parse("phone = ''").unwrap();
    assert_eq!(f.value(), &json!(""));
    for bad in [
        "email",
        "lastSeen >= yesterday",
        "= x",
        "em ail = x",
        "id = 1.5",
    ] {
        assert!(Filter::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn bodies_have_the_documented_shape_and_order() {
    let query = Query::new(
        vec![
            Filter::new("email", "=", "ann@example.com").unwrap(),
            Filter::new("tagsData", "=", "Lead").unwrap(),
        ],
        Match::Any,
    );
    let body = String::from_utf8(query.search_body(200, 100)).unwrap();
    assert_eq!(
        body,
        r#"{"filter":[{"field":"customers.email","operator":"=","value":"ann@example.com"},{"field":"customers.tagsData","operator":"=","value":[{"name":"Lead"}]}],"comparison":"OR","limit":100,"offset":200,"sort":"customers.firstSeen","order":"asc"}"#
    );
    assert_eq!(
        Query::list_query(0, 50),
        "offset=0&limit=50&sort=customers.firstSeen&order=asc"
    );
    assert!(Query::everyone().lists_everyone());
}

#[test]
fn inputs_combine_keywords_first_and_name_where_each_problem_is() {
    let query = Query::from_input(QueryInput {
        tag: Some("Lead".into()),
        email: Some("a@b.c".into()),
        user_id: Some("u-1".into()),
        conditions: vec![
            Condition::Text("lastSeen > 5".into()),
            Condition::Triple {
                field: "city".into(),
                operator: "=".into(),
                value: "Kyiv".into(),
            },
        ],
        matching: Some("any".into()),
    })
    .unwrap();
    let fields: Vec<_> = query.filters().iter().map(Filter::field).collect();
    assert_eq!(
        fields,
        [
            "customers.tagsData",
            "customers.email",
            "customers.userId",
            "customers.lastSeen",
            "customers.city"
        ]
    );
    assert_eq!(query.matching(), Match::Any);
    let bad = Query::from_input(QueryInput {
        conditions: vec![
            Condition::Text("city = Kyiv".into()),
            Condition::Triple {
                field: "email".into(),
                operator: "=".into(),
                value: Given::Integer(Some(1)),
            },
        ],
        ..QueryInput::default()
    });
    assert!(bad
        .unwrap_err()
        .to_string()
        .starts_with("where[1]: email takes a str"));
    let bad = Query::from_input(QueryInput {
        user_id: Some(Given::Integer(Some(5))),
        ..QueryInput::default()
    });
    assert!(bad
        .unwrap_err()
        .to_string()
        .starts_with("user_id: userId takes a str"));
    let bad = Query::from_input(QueryInput {
        matching: Some("some".into()),
        ..QueryInput::default()
    });
    assert!(bad.unwrap_err().to_string().contains("'all' or 'any'"));
}
