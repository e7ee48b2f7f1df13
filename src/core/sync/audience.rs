//! The audience: the keys a caller says should carry the tag, checked and normalised, each row
//! either usable or rejected with a reason in words. Pure logic, no I/O.
//!
//! - Emails are trimmed and compared case-folded (`Ann@Example.com ` is `ann@example.com`), as
//!   a person would expect; an address must look like one (one `@`, something before it, a
//!   domain with a dot, no spaces).
//! - User ids (HelpCrunch's `userId`) are compared exactly; only a blank one is refused.
//! - Customer ids are positive whole numbers, as ints or strings of digits.
//! - The same key twice: the first row is kept, every later one is rejected as its duplicate.

use std::collections::HashMap;
use std::fmt;

use super::super::error::excerpt;
use super::super::names::names;
use super::super::validate::CustomerId;

/// Which customer field the audience's keys are matched against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchKind {
    /// `customers.email`, trimmed and case-folded on both sides.
    Email,
    /// `customers.userId`, exactly.
    UserId,
    /// `customers.id`: HelpCrunch's own numeric id.
    Id,
}

names!(MatchKind as "match" {
    Email => "email",
    UserId => "user_id",
    Id => "id",
});

impl MatchKind {
    /// The search field, without `customers.`.
    pub const fn field(self) -> &'static str {
        match self {
            MatchKind::Email => "email",
            MatchKind::UserId => "userId",
            MatchKind::Id => "id",
        }
    }

    /// The key in words, for reasons ("no customer has this email").
    pub const fn noun(self) -> &'static str {
        match self {
            MatchKind::Email => "email",
            MatchKind::UserId => "user id",
            MatchKind::Id => "id",
        }
    }
}

/// One audience row as the caller gave it, before checks. The binding layer says what kind of
/// thing it is; the rules are here.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyInput {
    /// None, NaN, a missing value of a DataFrame.
    Missing,
    Text(String),
    /// `None`: an integer too large for 128 bits.
    Integer(Option<i128>),
    /// Anything else, by the name of its type.
    Other(String),
}

impl From<&str> for KeyInput {
    fn from(text: &str) -> KeyInput {
        KeyInput::Text(text.to_owned())
    }
}

impl From<u64> for KeyInput {
    fn from(n: u64) -> KeyInput {
        KeyInput::Integer(Some(n.into()))
    }
}

/// A usable key, normalised for matching: emails trimmed and case-folded.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    Text(String),
    Id(CustomerId),
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Text(text) => f.write_str(text),
            Key::Id(id) => id.fmt(f),
        }
    }
}

/// Why a row is not planned. The Display text is what users read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// None, NaN, an empty or blank string.
    Empty,
    /// Not an email address, not an id, or not text at all: the words say which.
    Malformed(String),
    /// The same key as an earlier row, which is kept.
    Duplicate { kept_row: usize },
    /// No customer has it.
    Unknown(MatchKind),
    /// Several customers have it; none is guessed.
    Shared {
        kind: MatchKind,
        customers: Vec<CustomerId>,
    },
    /// HelpCrunch answered the lookup of this one key with a 400 about it.
    Refused(String),
}

/// The most customer ids named in a "shared" reason.
const SHARED_IDS_SHOWN: usize = 10;

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Empty => f.write_str("the key is empty"),
            Reason::Malformed(why) => f.write_str(why),
            Reason::Duplicate { kept_row } => {
                write!(f, "the same key as row {kept_row}, which is kept")
            }
            Reason::Unknown(kind) => write!(f, "no customer has this {}", kind.noun()),
            Reason::Shared { kind, customers } => {
                let shown: Vec<String> = customers
                    .iter()
                    .take(SHARED_IDS_SHOWN)
                    .map(ToString::to_string)
                    .collect();
                let more = customers.len().saturating_sub(SHARED_IDS_SHOWN);
                let more = if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                };
                write!(
                    f,
                    "{} customers share this {} ({}{more}); none is guessed",
                    customers.len(),
                    kind.noun(),
                    shown.join(", ")
                )
            }
            Reason::Refused(message) => {
                write!(f, "HelpCrunch refused to look it up: {message}")
            }
        }
    }
}

// A short stable name for each reason, for tables and logs.
names!(Reason::code {
    Reason::Empty => "empty",
    Reason::Malformed(_) => "malformed",
    Reason::Duplicate { .. } => "duplicate",
    Reason::Unknown(_) => "unknown",
    Reason::Shared { .. } => "shared",
    Reason::Refused(_) => "refused",
});

/// One checked row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Row {
    /// A key to match; `lookup` holds the values to search for (an email as given, trimmed, and
    /// its case-folded form when that differs).
    Usable {
        key: Key,
        lookup: Vec<String>,
    },
    Rejected(Reason),
}

/// The audience, checked: one [`Row`] per input, in order, and where each usable key is.
#[derive(Debug, Clone)]
pub struct Audience {
    kind: MatchKind,
    rows: Vec<Row>,
    /// Each usable key's row (duplicates are rejected, so there is one).
    rows_by_key: HashMap<Key, usize>,
}

impl Audience {
    /// Check every row. Nothing here fails: each bad row becomes a rejected one.
    pub fn check(kind: MatchKind, inputs: Vec<KeyInput>) -> Audience {
        Audience::check_at(kind, inputs, None)
    }

    /// [`Audience::check`] for rows taken out of a larger table (one tag's rows of a long
    /// table): `positions[i]` is row `i`'s place in that table, which a duplicate's reason
    /// names.
    pub fn check_at(
        kind: MatchKind,
        inputs: Vec<KeyInput>,
        positions: Option<&[usize]>,
    ) -> Audience {
        let mut rows = Vec::with_capacity(inputs.len());
        let mut rows_by_key = HashMap::with_capacity(inputs.len());
        let place = |i: usize| positions.and_then(|p| p.get(i).copied()).unwrap_or(i);
        for (i, input) in inputs.into_iter().enumerate() {
            let row = match check_key(kind, input) {
                Ok((key, lookup)) => match rows_by_key.get(&key) {
                    Some(&kept) => Row::Rejected(Reason::Duplicate {
                        kept_row: place(kept),
                    }),
                    None => {
                        rows_by_key.insert(key.clone(), i);
                        Row::Usable { key, lookup }
                    }
                },
                Err(reason) => Row::Rejected(reason),
            };
            rows.push(row);
        }
        Audience {
            kind,
            rows,
            rows_by_key,
        }
    }

    pub fn kind(&self) -> MatchKind {
        self.kind
    }

    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Rows with a usable key (each key once).
    pub fn usable(&self) -> usize {
        self.rows_by_key.len()
    }

    /// The row of a usable key.
    pub fn row_of(&self, key: &Key) -> Option<usize> {
        self.rows_by_key.get(key).copied()
    }
}

/// A customer's value of the matched field, normalised as an audience key is; None when it has
/// none (or one no audience key could equal).
pub fn customer_key(kind: MatchKind, id: CustomerId, value: Option<&str>) -> Option<Key> {
    match kind {
        MatchKind::Id => Some(Key::Id(id)),
        MatchKind::Email => value
            .map(fold_email)
            .filter(|v| !v.is_empty())
            .map(Key::Text),
        MatchKind::UserId => value
            .filter(|v| !v.trim().is_empty())
            .map(|v| Key::Text(v.to_owned())),
    }
}

fn fold_email(text: &str) -> String {
    text.trim().to_lowercase()
}

fn type_words(input: &KeyInput) -> String {
    match input {
        KeyInput::Integer(_) => "an int".into(),
        KeyInput::Text(_) => "a str".into(),
        KeyInput::Missing => "missing".into(),
        KeyInput::Other(name) => format!("a {name}"),
    }
}

fn check_key(kind: MatchKind, input: KeyInput) -> std::result::Result<(Key, Vec<String>), Reason> {
    match (kind, input) {
        (_, KeyInput::Missing) => Err(Reason::Empty),
        (MatchKind::Email, KeyInput::Text(text)) => {
            let trimmed = text.trim();
            if trimmed.is_empty() {
                return Err(Reason::Empty);
            }
            check_email(trimmed).map_err(|why| {
                Reason::Malformed(format!(
                    "{:?} is not an email address ({why})",
                    excerpt(trimmed, 60)
                ))
            })?;
            let folded = fold_email(trimmed);
            let mut lookup = vec![trimmed.to_owned()];
            if folded != trimmed {
                lookup.push(folded.clone());
            }
            Ok((Key::Text(folded), lookup))
        }
        (MatchKind::UserId, KeyInput::Text(text)) => {
            if text.trim().is_empty() {
                return Err(Reason::Empty);
            }
            if text.chars().any(char::is_control) {
                return Err(Reason::Malformed(format!(
                    "{:?} is not a user id (it holds control characters)",
                    excerpt(&text, 60)
                )));
            }
            Ok((Key::Text(text.clone()), vec![text]))
        }
        (MatchKind::Id, KeyInput::Text(text)) => {
            let trimmed = text.trim();
            if trimmed.is_empty() {
                return Err(Reason::Empty);
            }
            CustomerId::parse(trimmed)
                .map(|id| (Key::Id(id), vec![id.to_string()]))
                .map_err(|_| {
                    Reason::Malformed(format!(
                        "{:?} is not a customer id (a positive whole number)",
                        excerpt(trimmed, 40)
                    ))
                })
        }
        (MatchKind::Id, KeyInput::Integer(n)) => n
            .and_then(|n| u64::try_from(n).ok())
            .and_then(|n| CustomerId::new(n).ok())
            .map(|id| (Key::Id(id), vec![id.to_string()]))
            .ok_or_else(|| {
                let shown = n.map_or_else(|| "a huge number".to_string(), |n| n.to_string());
                Reason::Malformed(format!(
                    "{shown} is not a customer id (a positive whole number)"
                ))
            }),
        (MatchKind::Id, other) => Err(Reason::Malformed(format!(
            "{}, not a customer id (an int or a string of digits{})",
            type_words(&other),
            if matches!(&other, KeyInput::Other(t) if t == "float") {
                "; a pandas id column with missing values turns float: use .astype(\"Int64\")"
            } else {
                ""
            }
        ))),
        (_, other) => Err(Reason::Malformed(format!(
            "{}, not {} {} (a str)",
            type_words(&other),
            if kind == MatchKind::Email { "an" } else { "a" },
            kind.noun()
        ))),
    }
}

/// Whether `text` (trimmed) looks like an address HelpCrunch could hold; the reason if not.
fn check_email(text: &str) -> std::result::Result<(), &'static str> {
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("it holds a space or a control character");
    }
    let Some((local, domain)) = text.split_once('@') else {
        return Err("no '@'");
    };
    if domain.contains('@') {
        return Err("more than one '@'");
    }
    if local.is_empty() {
        return Err("nothing before the '@'");
    }
    if domain.is_empty() {
        return Err("nothing after the '@'");
    }
    if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
        return Err("the domain has no '.' between names");
    }
    if domain.contains("..") {
        return Err("the domain has an empty name between dots");
    }
    if text.len() > 254 {
        return Err("longer than 254 characters");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reject(kind: MatchKind, input: KeyInput) -> Reason {
        match check_key(kind, input) {
            Err(reason) => reason,
            Ok(key) => panic!("expected a rejection, got {key:?}"),
        }
    }

    #[test]
    fn emails_are_trimmed_and_case_folded_and_looked_up_as_given_too() {
        let (key, lookup) = check_key(MatchKind::Email, " Ann@Example.COM\t".into()).unwrap();
        assert_eq!(key, Key::Text("ann@example.com".into()));
        assert_eq!(lookup, ["Ann@Example.COM", "ann@example.com"]);
        let (_, lookup) = check_key(MatchKind::Email, "bo@example.com".into()).unwrap();
        assert_eq!(lookup, ["bo@example.com"]);
        // Unicode case folding, as a person reads it.
        let (key, _) = check_key(MatchKind::Email, "ÉLODIE@exemple.fr".into()).unwrap();
        assert_eq!(key, Key::Text("élodie@exemple.fr".into()));
    }

    #[test]
    fn malformed_emails_say_what_is_wrong() {
        for (text, why) in [
            ("ann.example.com", "no '@'"),
            ("ann@@example.com", "more than one '@'"),
            ("@example.com", "nothing before the '@'"),
            ("ann@", "nothing after the '@'"),
            ("ann@localhost", "no '.'"),
            ("ann@.example.com", "no '.'"),
            ("ann@example..com", "empty name"),
            ("ann lee@example.com", "a space"),
        ] {
            let reason = reject(MatchKind::Email, text.into());
            assert_eq!(reason.code(), "malformed", "{text}");
            let words = reason.to_string();
            assert!(words.contains("not an email address"), "{text}: {words}");
            assert!(words.contains(why), "{text}: {words}");
        }
        assert_eq!(reject(MatchKind::Email, "   ".into()), Reason::Empty);
        assert_eq!(reject(MatchKind::Email, KeyInput::Missing), Reason::Empty);
        let words = reject(MatchKind::Email, 5u64.into()).to_string();
        assert_eq!(words, "an int, not an email (a str)");
    }

    #[test]
    fn user_ids_match_exactly_and_only_blank_ones_are_refused() {
        let (key, lookup) = check_key(MatchKind::UserId, " U-1".into()).unwrap();
        assert_eq!(key, Key::Text(" U-1".into()));
        assert_eq!(lookup, [" U-1"]);
        assert_eq!(reject(MatchKind::UserId, "".into()), Reason::Empty);
        assert_eq!(reject(MatchKind::UserId, " \n".into()), Reason::Empty);
        assert!(reject(MatchKind::UserId, "a\u{0}b".into())
            .to_string()
            .contains("control characters"));
        assert_eq!(
            reject(MatchKind::UserId, KeyInput::Integer(Some(7))).to_string(),
            "an int, not a user id (a str)"
        );
    }

    #[test]
    fn ids_are_positive_whole_numbers_as_ints_or_digits() {
        let id = |n| Key::Id(CustomerId::new(n).unwrap());
        assert_eq!(check_key(MatchKind::Id, 7u64.into()).unwrap().0, id(7));
        assert_eq!(check_key(MatchKind::Id, " 0042 ".into()).unwrap().0, id(42));
        for bad in [
            KeyInput::Integer(Some(0)),
            KeyInput::Integer(Some(-3)),
            KeyInput::Integer(None),
            "12a".into(),
            "-1".into(),
            KeyInput::Other("float".into()),
            KeyInput::Other("bytes".into()),
        ] {
            let reason = reject(MatchKind::Id, bad.clone());
            assert_eq!(reason.code(), "malformed", "{bad:?}");
            assert!(reason.to_string().contains("customer id"), "{reason}");
        }
        assert!(reject(MatchKind::Id, KeyInput::Other("float".into()))
            .to_string()
            .contains("Int64"));
        assert_eq!(reject(MatchKind::Id, "".into()), Reason::Empty);
    }

    #[test]
    fn the_first_of_equal_keys_is_kept_and_later_ones_name_it() {
        let audience = Audience::check(
            MatchKind::Email,
            vec![
                "a@example.com".into(),
                "b@example.com".into(),
                " A@Example.com".into(),
                "a@example.com".into(),
                KeyInput::Missing,
            ],
        );
        assert_eq!(audience.usable(), 2);
        let reasons: Vec<String> = audience
            .rows()
            .iter()
            .map(|r| match r {
                Row::Usable { .. } => "ok".into(),
                Row::Rejected(reason) => reason.to_string(),
            })
            .collect();
        assert_eq!(
            reasons,
            [
                "ok",
                "ok",
                "the same key as row 0, which is kept",
                "the same key as row 0, which is kept",
                "the key is empty"
            ]
        );
        assert_eq!(audience.row_of(&Key::Text("b@example.com".into())), Some(1));
    }

    #[test]
    fn customers_keys_are_normalised_as_the_audiences() {
        let id = CustomerId::new(3).unwrap();
        assert_eq!(
            customer_key(MatchKind::Email, id, Some(" Ann@Example.com ")),
            Some(Key::Text("ann@example.com".into()))
        );
        assert_eq!(customer_key(MatchKind::Email, id, None), None);
        assert_eq!(customer_key(MatchKind::UserId, id, Some("  ")), None);
        assert_eq!(customer_key(MatchKind::Id, id, None), Some(Key::Id(id)));
    }

    #[test]
    fn shared_keys_name_their_customers_up_to_ten() {
        let ids: Vec<CustomerId> = (1..=12).map(|n| CustomerId::new(n).unwrap()).collect();
        let words = Reason::Shared {
            kind: MatchKind::Email,
            customers: ids[..2].to_vec(),
        }
        .to_string();
        assert_eq!(
            words,
            "2 customers share this email (1, 2); none is guessed"
        );
        let words = Reason::Shared {
            kind: MatchKind::UserId,
            customers: ids,
        }
        .to_string();
        assert!(words.ends_with("(1, 2, 3, 4, 5, 6, 7, 8, 9, 10 and 2 more); none is guessed"));
        assert_eq!(
            Reason::Unknown(MatchKind::Id).to_string(),
            "no customer has this id"
        );
    }
}
