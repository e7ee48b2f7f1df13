//! The customer fields search reads: HelpCrunch's documented filter fields and sort fields,
//! their names on the wire and in a customer's JSON, and how their values compare. One list,
//! so that parsing a search, indexing a customer and matching agree.

/// A scalar value the store records the place of for every customer (see `entry.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Slot {
    Id,
    Name,
    Email,
    UserId,
    Company,
    Phone,
    CountryCode,
    City,
    RegionCode,
    FirstSeen,
    LastSeen,
    TelegramId,
    FacebookId,
    InstagramId,
    ViberId,
    WhatsappId,
}

pub(super) const SLOT_COUNT: usize = 16;

/// How a field's values compare, and so what type a filter's value must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// As numbers. A numeric string counts as its number: HelpCrunch documents timestamps as
    /// strings and older examples show them as numbers.
    Number,
    /// As text: exactly for `=` and the orderings, ignoring case for `~`.
    Text,
}

impl Slot {
    pub const ALL: [Slot; SLOT_COUNT] = [
        Slot::Id,
        Slot::Name,
        Slot::Email,
        Slot::UserId,
        Slot::Company,
        Slot::Phone,
        Slot::CountryCode,
        Slot::City,
        Slot::RegionCode,
        Slot::FirstSeen,
        Slot::LastSeen,
        Slot::TelegramId,
        Slot::FacebookId,
        Slot::InstagramId,
        Slot::ViberId,
        Slot::WhatsappId,
    ];

    /// The key in the customer's JSON, and (prefixed with `customers.`) on the wire.
    pub fn key(self) -> &'static str {
        match self {
            Slot::Id => "id",
            Slot::Name => "name",
            Slot::Email => "email",
            Slot::UserId => "userId",
            Slot::Company => "company",
            Slot::Phone => "phone",
            Slot::CountryCode => "countryCode",
            Slot::City => "city",
            Slot::RegionCode => "regionCode",
            Slot::FirstSeen => "firstSeen",
            Slot::LastSeen => "lastSeen",
            Slot::TelegramId => "telegramId",
            Slot::FacebookId => "facebookId",
            Slot::InstagramId => "instagramId",
            Slot::ViberId => "viberId",
            Slot::WhatsappId => "whatsappId",
        }
    }

    /// Inside the customer's `location` object rather than at its top level.
    pub fn in_location(self) -> bool {
        matches!(self, Slot::CountryCode | Slot::City | Slot::RegionCode)
    }

    pub fn kind(self) -> Kind {
        match self {
            Slot::Id | Slot::FirstSeen | Slot::LastSeen => Kind::Number,
            _ => Kind::Text,
        }
    }

    /// `firstSeen` is documented as a sort field only, not as a filter field.
    fn filterable(self) -> bool {
        self != Slot::FirstSeen
    }

    /// The slot for a key of the customer's top level (`inside_location`: of its `location`).
    pub fn for_key(key: &[u8], inside_location: bool) -> Option<Slot> {
        Slot::ALL
            .into_iter()
            .find(|s| s.in_location() == inside_location && s.key().as_bytes() == key)
    }
}

/// A field a search filter may name: `customers.<key>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    Scalar(Slot),
    /// `customers.tagsData`: the names in the customer's `tags`.
    Tags,
}

impl Field {
    /// Only the documented fields: a filter on any other (`customers.customData`, say) is
    /// refused, as a client must expect HelpCrunch to refuse it.
    pub fn parse(wire: &str) -> Option<Field> {
        let key = wire.strip_prefix("customers.")?;
        if key == "tagsData" {
            return Some(Field::Tags);
        }
        Slot::ALL
            .into_iter()
            .find(|s| s.filterable() && s.key() == key)
            .map(Field::Scalar)
    }
}

/// What list and search may sort by besides the default (id): `customers.firstSeen` and
/// `customers.lastSeen`, the two the docs name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SortField {
    FirstSeen,
    LastSeen,
}

impl SortField {
    pub const ALL: [SortField; 2] = [SortField::FirstSeen, SortField::LastSeen];

    pub fn parse(wire: &str) -> Option<SortField> {
        match wire {
            "customers.firstSeen" => Some(SortField::FirstSeen),
            "customers.lastSeen" => Some(SortField::LastSeen),
            _ => None,
        }
    }

    pub fn slot(self) -> Slot {
        match self {
            SortField::FirstSeen => Slot::FirstSeen,
            SortField::LastSeen => Slot::LastSeen,
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_slot_is_listed_once_in_declaration_order() {
        for (i, slot) in Slot::ALL.into_iter().enumerate() {
            assert_eq!(slot as usize, i);
        }
    }

    #[test]
    fn filter_fields_are_the_documented_ones() {
        let documented = [
            "id",
            "name",
            "email",
            "company",
            "phone",
            "countryCode",
            "city",
            "regionCode",
            "tagsData",
            "lastSeen",
            "userId",
            "telegramId",
            "facebookId",
            "instagramId",
            "viberId",
            "whatsappId",
        ];
        for key in documented {
            assert!(Field::parse(&format!("customers.{key}")).is_some(), "{key}");
        }
        for bad in [
            "customers.firstSeen",
            "customers.customData",
            "customers.tags",
            "email",
            "customer.email",
            "customers.",
        ] {
            assert_eq!(Field::parse(bad), None, "{bad}");
        }
        assert_eq!(Slot::for_key(b"city", true), Some(Slot::City));
        assert_eq!(Slot::for_key(b"city", false), None);
        assert_eq!(Slot::for_key(b"email", false), Some(Slot::Email));
    }
}
