//! Checks on what users pass in, done before anything is sent. Type questions (is it an int, a
//! str, a mapping?) belong to the binding layer; the values themselves are judged here.

use std::collections::HashMap;

use super::color::{css_color_problem, ACCEPTED};
use super::error::{quote, Argument, Error, Result};

/// HelpCrunch's numeric customer id. Kept as a number so it can only ever be digits in a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CustomerId(u64);

impl CustomerId {
    pub fn new(id: u64) -> Result<Self> {
        if id == 0 {
            return Err(CUSTOMER_ID.value_error("must be a positive integer, got 0"));
        }
        Ok(CustomerId(id))
    }

    /// Parse a string id: ASCII digits only (no sign, spaces, separators or other scripts' digits).
    pub fn parse(text: &str) -> Result<Self> {
        if text.is_empty() {
            return Err(CUSTOMER_ID
                .value_error("is an empty string; pass HelpCrunch's numeric id, e.g. 1568834"));
        }
        if !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CUSTOMER_ID.value_error(format!(
                "must contain only the digits 0-9, got {}",
                quote(text)
            )));
        }
        let id: u64 = text.parse().map_err(|_| {
            CUSTOMER_ID.value_error(format!(
                "{} is too large to be a HelpCrunch id",
                quote(text)
            ))
        })?;
        Self::new(id)
    }

    pub fn get(self) -> u64 {
        self.0
    }
}

impl std::fmt::Display for CustomerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// One tag as given by the caller, before checks. `position` is its index in the caller's list
/// (None for a single tag given alone), so a message can point at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagInput {
    pub name: String,
    pub color: Option<String>,
    pub position: Option<usize>,
}

/// A checked tag, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub name: String,
    pub color: Option<String>,
}

/// Which call the tags are for: only tagging sends a colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagUse {
    Add,
    Remove,
}

const CUSTOMER_ID: Argument = Argument::named("customer_id");

/// A tag refused: `tags[i] {detail}`, about that item of `tags`; `the tag {detail}` for a tag
/// given alone.
fn refuse_tag(position: Option<usize>, detail: String) -> Error {
    match position {
        Some(i) => Argument::item("tags", i).value_error(detail),
        None => Error::value_error(format!("the tag {detail}")),
    }
}

/// A colour is sent as given; refused only when it is not a CSS colour (`color.rs` says which).
fn check_color(color: &str, position: Option<usize>) -> Result<()> {
    match css_color_problem(color) {
        None => Ok(()),
        Some(why) => Err(refuse_tag(
            position,
            format!("has color {}: {why}; {ACCEPTED}", quote(color)),
        )),
    }
}

/// Which end of a tag name has whitespace (Unicode's, as `str.strip` and `char::is_whitespace`
/// see it: a no-break space too), if any: "churn-risk " is a typo that would make a second tag.
fn stray_whitespace(name: &str) -> Option<&'static str> {
    let leading = name.starts_with(char::is_whitespace);
    let trailing = name.ends_with(char::is_whitespace);
    match (leading, trailing) {
        (true, true) => Some("leading and trailing"),
        (true, false) => Some("leading"),
        (false, true) => Some("trailing"),
        (false, false) => None,
    }
}

/// Check the tag list and drop repeats (a name given twice is sent once; tag names are case
/// sensitive, so "Lead" and "lead" are two tags). The one home of the rules on a tag name: every
/// call, bulk row, search and plan that takes one comes through here. For removal a colour is accepted and ignored, so
/// a customer's own `tags` list can be passed straight back.
pub fn normalize_tags(tags: Vec<TagInput>, tag_use: TagUse) -> Result<Vec<Tag>> {
    if tags.is_empty() {
        return Err(Argument::named("tags")
            .value_error("is empty; pass at least one tag name, e.g. [\"Lead\"]"));
    }
    let mut out: Vec<Tag> = Vec::with_capacity(tags.len());
    // Position of each name in `out`, so a long list is checked in linear time.
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(tags.len());
    for tag in tags {
        if tag.name.trim().is_empty() {
            return Err(refuse_tag(
                tag.position,
                format!("has an empty or whitespace-only name: {}", quote(&tag.name)),
            ));
        }
        if let Some(ends) = stray_whitespace(&tag.name) {
            return Err(refuse_tag(
                tag.position,
                format!(
                    "name {} has {ends} whitespace: tag names are matched exactly, so it \
                     would be another tag than {}; remove the whitespace",
                    quote(&tag.name),
                    quote(tag.name.trim())
                ),
            ));
        }
        if tag.name.chars().any(|c| c.is_control()) {
            return Err(refuse_tag(
                tag.position,
                format!("name {} contains control characters", quote(&tag.name)),
            ));
        }
        let color = match (tag_use, tag.color) {
            (TagUse::Remove, _) | (TagUse::Add, None) => None,
            (TagUse::Add, Some(color)) => {
                check_color(&color, tag.position)?;
                Some(color)
            }
        };
        match seen.get(&tag.name).map(|&i| &out[i]) {
            None => {
                seen.insert(tag.name.clone(), out.len());
                out.push(Tag {
                    name: tag.name,
                    color,
                })
            }
            Some(seen) if seen.color == color || color.is_none() => {}
            Some(seen) if seen.color.is_none() => {
                return Err(Error::value_error(format!(
                    "tag {} is given twice, once without a color and once with {}",
                    quote(&tag.name),
                    quote(&color.unwrap_or_default())
                )))
            }
            Some(seen) => {
                return Err(Error::value_error(format!(
                    "tag {} is given twice with different colors ({} and {})",
                    quote(&tag.name),
                    quote(&seen.color.clone().unwrap_or_default()),
                    quote(&color.unwrap_or_default())
                )))
            }
        }
    }
    Ok(out)
}

/// The JSON body HelpCrunch expects: `{"tags":[{"name":…[,"color":…]}]}`.
pub fn tags_body(tags: &[Tag]) -> Vec<u8> {
    let list: Vec<serde_json::Value> = tags
        .iter()
        .map(|t| {
            let mut obj = serde_json::Map::new();
            obj.insert("name".into(), t.name.clone().into());
            if let Some(color) = &t.color {
                obj.insert("color".into(), color.clone().into());
            }
            serde_json::Value::Object(obj)
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({ "tags": list })).expect("a JSON value always encodes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::InputErrorKind;

    fn input(name: &str, color: Option<&str>, position: usize) -> TagInput {
        TagInput {
            name: name.into(),
            color: color.map(Into::into),
            position: Some(position),
        }
    }

    fn value_message(err: Error) -> String {
        match err {
            Error::InvalidInput {
                kind: InputErrorKind::Value,
                message,
                ..
            } => message,
            other => panic!("expected a value error, got {other:?}"),
        }
    }

    #[test]
    fn customer_ids_accept_ascii_digits_only() {
        assert_eq!(CustomerId::parse("1568834").unwrap().get(), 1568834);
        assert_eq!(CustomerId::parse("007").unwrap().get(), 7);
        for bad in [
            "", "0", "000", "12abc", "1/../2", " 12", "12 ", "-5", "+5", "1.0", "١٢", "1_000",
        ] {
            let msg = value_message(CustomerId::parse(bad).unwrap_err());
            assert!(msg.contains("customer_id"), "{bad:?}: {msg}");
        }
        let msg = value_message(CustomerId::parse("99999999999999999999999").unwrap_err());
        assert!(msg.contains("too large"), "{msg}");
        // Quoted whole, as given: never trimmed or shortened.
        let msg = value_message(CustomerId::parse(" 12").unwrap_err());
        assert!(msg.ends_with("got ' 12'"), "{msg}");
        let long = format!("{}x", "1".repeat(500));
        let msg = value_message(CustomerId::parse(&long).unwrap_err());
        assert!(msg.ends_with(&format!("got '{long}'")), "{msg}");
        assert!(CustomerId::new(0).is_err());
    }

    #[test]
    fn tags_are_deduplicated_in_order() {
        let tags = normalize_tags(
            vec![
                input("Lead", None, 0),
                input("vip", None, 1),
                input("Lead", None, 2),
                input("lead", None, 3),
            ],
            TagUse::Remove,
        )
        .unwrap();
        let names: Vec<_> = tags.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["Lead", "vip", "lead"]);
    }

    #[test]
    fn empty_blank_and_control_names_are_refused_with_their_position() {
        assert!(
            value_message(normalize_tags(vec![], TagUse::Remove).unwrap_err()).contains("empty")
        );
        for bad in ["", "   ", "\t\n", "a\u{0}b"] {
            let msg = value_message(
                normalize_tags(vec![input("ok", None, 0), input(bad, None, 1)], TagUse::Add)
                    .unwrap_err(),
            );
            assert!(msg.contains("tags[1]"), "{bad:?}: {msg}");
        }
    }

    #[test]
    fn names_with_whitespace_at_either_end_are_refused_saying_which() {
        for (bad, ends) in [
            (" churn", "leading"),
            ("churn\t", "trailing"),
            ("churn\n", "trailing"),
            ("churn\u{a0}", "trailing"),
            ("\u{3000}churn ", "leading and trailing"),
        ] {
            for tag_use in [TagUse::Add, TagUse::Remove] {
                let msg =
                    value_message(normalize_tags(vec![input(bad, None, 0)], tag_use).unwrap_err());
                assert!(
                    msg.contains(&format!("has {ends} whitespace")),
                    "{bad:?}: {msg}"
                );
                assert!(msg.contains("tags[0]"), "{bad:?}: {msg}");
            }
        }
        // Inside a name, whitespace is part of it.
        assert!(normalize_tags(vec![input("churn risk", None, 0)], TagUse::Add).is_ok());
    }

    #[test]
    fn colors_are_checked_for_tagging_and_ignored_for_untagging() {
        let added = normalize_tags(vec![input("Lead", Some("#c57de0"), 0)], TagUse::Add).unwrap();
        assert_eq!(added[0].color.as_deref(), Some("#c57de0"));
        let removed =
            normalize_tags(vec![input("Lead", Some("#c57de0"), 0)], TagUse::Remove).unwrap();
        assert_eq!(removed[0].color, None);
        let named = normalize_tags(vec![input("Trial", Some("red"), 0)], TagUse::Add).unwrap();
        assert_eq!(named[0].color.as_deref(), Some("red"), "sent as given");
        for bad in ["c57de0", "#c57de", "#zzzzzz", "redd", "", " red"] {
            let msg = value_message(
                normalize_tags(vec![input("Lead", Some(bad), 0)], TagUse::Add).unwrap_err(),
            );
            assert!(msg.contains("color"), "{bad:?}: {msg}");
        }
    }

    #[test]
    fn conflicting_colors_for_one_name_are_refused() {
        let err = normalize_tags(
            vec![
                input("Lead", Some("#111111"), 0),
                input("Lead", Some("#222222"), 1),
            ],
            TagUse::Add,
        )
        .unwrap_err();
        assert!(value_message(err).contains("different colors"));
        let same = normalize_tags(
            vec![input("Lead", Some("#111111"), 0), input("Lead", None, 1)],
            TagUse::Add,
        )
        .unwrap();
        assert_eq!(same.len(), 1);
    }

    #[test]
    fn body_matches_the_documented_shape() {
        let body = tags_body(&[
            Tag {
                name: "Lead".into(),
                color: None,
            },
            Tag {
                name: "vip".into(),
                color: Some("#ff0000".into()),
            },
        ]);
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r##"{"tags":[{"name":"Lead"},{"name":"vip","color":"#ff0000"}]}"##
        );
    }
}
