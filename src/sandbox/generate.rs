//! Generated accounts: `count` customers made up from a seed, ids 1..=count, shaped like a
//! real account's. The same seed gives the same account on every machine (see `rng.rs`).
//!
//! What makes them realistic enough to test a client against:
//! - names from many languages, unique emails, unique `userId`s unrelated to the ids (so a
//!   client that confuses the two finds nobody), anonymous visitors with neither, messenger
//!   customers with a messenger id and often no email;
//! - companies, phones, locations (with matching time zones and locales), devices;
//! - tags from a small set, each with one colour across the account;
//! - `firstSeen` spread over ten years, roughly rising with the id but not strictly, with runs
//!   of equal values (customers seen in the same second, bulk imports sharing one timestamp)
//!   so that sorting has ties; `lastSeen` at or after it.

use std::fmt;
use std::io::Write as _;

use bytes::Bytes;

use super::entry::Entry;
use super::rng::{mix, Rng};
use super::state::StoreBuilder;

/// More would take minutes to generate and many gigabytes to hold.
pub const MAX_GENERATED: usize = 10_000_000;

/// 2015-01-01 and 2025-01-01, UTC.
const FIRST_DAY: u64 = 1_420_070_400;
const LAST_DAY: u64 = 1_735_689_600;

/// (name as shown, name in an email address).
const FIRST_NAMES: [(&str, &str); 48] = [
    ("Anna", "anna"),
    ("James", "james"),
    ("Maria", "maria"),
    ("Wei", "wei"),
    ("Olena", "olena"),
    ("Mohammed", "mohammed"),
    ("Sofia", "sofia"),
    ("Lucas", "lucas"),
    ("Priya", "priya"),
    ("Hiroshi", "hiroshi"),
    ("Emma", "emma"),
    ("Noah", "noah"),
    ("Fatima", "fatima"),
    ("Mateo", "mateo"),
    ("Chloé", "chloe"),
    ("Jakub", "jakub"),
    ("Aisha", "aisha"),
    ("Liam", "liam"),
    ("Yuki", "yuki"),
    ("Olivia", "olivia"),
    ("Dmytro", "dmytro"),
    ("Ingrid", "ingrid"),
    ("Carlos", "carlos"),
    ("Zoë", "zoe"),
    ("Ethan", "ethan"),
    ("Leila", "leila"),
    ("Søren", "soren"),
    ("Amara", "amara"),
    ("Tomás", "tomas"),
    ("Grace", "grace"),
    ("Kwame", "kwame"),
    ("Mei", "mei"),
    ("Ivan", "ivan"),
    ("Nadia", "nadia"),
    ("Oliver", "oliver"),
    ("Ana", "ana"),
    ("Rahul", "rahul"),
    ("Elif", "elif"),
    ("Jonas", "jonas"),
    ("Camila", "camila"),
    ("Łukasz", "lukasz"),
    ("Hannah", "hannah"),
    ("Omar", "omar"),
    ("Sara", "sara"),
    ("Олена", "olena"),
    ("Андрій", "andrii"),
    ("李娜", "li.na"),
    ("أحمد", "ahmed"),
];

const LAST_NAMES: [(&str, &str); 48] = [
    ("Smith", "smith"),
    ("García", "garcia"),
    ("Kovalenko", "kovalenko"),
    ("Müller", "mueller"),
    ("Chen", "chen"),
    ("Nowak", "nowak"),
    ("Johnson", "johnson"),
    ("Rossi", "rossi"),
    ("Tanaka", "tanaka"),
    ("Patel", "patel"),
    ("Dubois", "dubois"),
    ("O'Brien", "obrien"),
    ("Silva", "silva"),
    ("Kim", "kim"),
    ("Hansen", "hansen"),
    ("Ivanova", "ivanova"),
    ("Williams", "williams"),
    ("Martínez", "martinez"),
    ("Nguyen", "nguyen"),
    ("Schmidt", "schmidt"),
    ("Brown", "brown"),
    ("Yilmaz", "yilmaz"),
    ("Jansen", "jansen"),
    ("Novak", "novak"),
    ("Okafor", "okafor"),
    ("Lopez", "lopez"),
    ("Andersson", "andersson"),
    ("Shevchenko", "shevchenko"),
    ("Wilson", "wilson"),
    ("Haddad", "haddad"),
    ("Costa", "costa"),
    ("Sato", "sato"),
    ("Taylor", "taylor"),
    ("Kowalski", "kowalski"),
    ("Fischer", "fischer"),
    ("Moreau", "moreau"),
    ("Singh", "singh"),
    ("Bianchi", "bianchi"),
    ("Walker", "walker"),
    ("Mendes", "mendes"),
    ("Larsen", "larsen"),
    ("Horvat", "horvat"),
    ("Clarke", "clarke"),
    ("Ferrari", "ferrari"),
    ("Wang", "wang"),
    ("Bondarenko", "bondarenko"),
    ("Ali", "ali"),
    ("Dvořák", "dvorak"),
];

/// Fictional companies (the ones sample data sets use), and each one's email domain.
const COMPANIES: [(&str, &str); 20] = [
    ("Contoso Ltd", "contoso.example.com"),
    ("Fabrikam Inc.", "fabrikam.example.com"),
    ("Northwind Traders", "northwind.example.com"),
    ("Adventure Works", "adventure-works.example.com"),
    ("Tailspin Toys", "tailspin.example.com"),
    ("Wide World Importers", "wideworld.example.com"),
    ("Woodgrove Bank", "woodgrove.example.com"),
    ("Litware", "litware.example.com"),
    ("Proseware", "proseware.example.com"),
    ("Fourth Coffee", "fourthcoffee.example.com"),
    ("Alpine Ski House", "alpineskihouse.example.com"),
    ("Blue Yonder Airlines", "blueyonder.example.com"),
    ("Coho Winery", "cohowinery.example.com"),
    ("Lucerne Publishing", "lucerne.example.com"),
    ("Margie's Travel", "margiestravel.example.com"),
    ("Trey Research", "treyresearch.example.com"),
    ("Wingtip Toys", "wingtip.example.com"),
    ("Graphic Design Institute", "gdi.example.com"),
    ("School of Fine Art", "finearts.example.com"),
    ("ТОВ «Приклад»", "pryklad.example.com.ua"),
];

const MAIL_DOMAINS: [&str; 6] = [
    "example.com",
    "example.org",
    "example.net",
    "mail.example.com",
    "inbox.example.net",
    "post.example.org",
];

struct Place {
    country: &'static str,
    region: &'static str,
    city: &'static str,
    timezone: &'static str,
    locale: &'static str,
    calling_code: &'static str,
    weight: u32,
}

const fn place(
    country: &'static str,
    region: &'static str,
    city: &'static str,
    timezone: &'static str,
    locale: &'static str,
    calling_code: &'static str,
    weight: u32,
) -> Place {
    Place {
        country,
        region,
        city,
        timezone,
        locale,
        calling_code,
        weight,
    }
}

const PLACES: [Place; 20] = [
    place(
        "US",
        "CA",
        "San Francisco",
        "America/Los_Angeles",
        "en",
        "1",
        10,
    ),
    place("US", "NY", "New York", "America/New_York", "en", "1", 10),
    place("US", "TX", "Austin", "America/Chicago", "en", "1", 6),
    place("CA", "ON", "Toronto", "America/Toronto", "en", "1", 4),
    place("GB", "ENG", "London", "Europe/London", "en", "44", 8),
    place("IE", "D", "Dublin", "Europe/Dublin", "en", "353", 2),
    place("DE", "BE", "Berlin", "Europe/Berlin", "de", "49", 6),
    place("FR", "IDF", "Paris", "Europe/Paris", "fr", "33", 5),
    place("ES", "MD", "Madrid", "Europe/Madrid", "es", "34", 4),
    place("NL", "NH", "Amsterdam", "Europe/Amsterdam", "nl", "31", 3),
    place("PL", "MZ", "Warsaw", "Europe/Warsaw", "pl", "48", 4),
    place("UA", "30", "Kyiv", "Europe/Kyiv", "uk", "380", 6),
    place("UA", "46", "Lviv", "Europe/Kyiv", "uk", "380", 3),
    place("BR", "SP", "São Paulo", "America/Sao_Paulo", "pt", "55", 4),
    place(
        "MX",
        "CMX",
        "Mexico City",
        "America/Mexico_City",
        "es",
        "52",
        3,
    ),
    place("IN", "MH", "Mumbai", "Asia/Kolkata", "en", "91", 5),
    place("JP", "13", "Tokyo", "Asia/Tokyo", "ja", "81", 3),
    place("CN", "BJ", "Beijing", "Asia/Shanghai", "zh", "86", 3),
    place("AE", "DU", "Dubai", "Asia/Dubai", "ar", "971", 2),
    place("AU", "NSW", "Sydney", "Australia/Sydney", "en", "61", 3),
];

/// (name, colour, percent of customers carrying it). `Lead` and `vip` have the demo set's
/// colours.
pub(super) const TAGS: [(&str, &str, u64); 7] = [
    ("Lead", "#c57de0", 30),
    ("vip", "#ff0000", 5),
    ("Trial", "#1e90ff", 15),
    ("Paid", "#3cb371", 20),
    ("newsletter", "#20b2aa", 25),
    ("churn-risk", "#ff8c00", 4),
    ("beta", "#708090", 3),
];

/// Where customers came from, with weights; the messengers add their id field.
const CHANNELS: [(&str, Option<&str>, u32); 8] = [
    ("widget", None, 55),
    ("api", None, 20),
    ("email", None, 10),
    ("telegram", Some("telegramId"), 5),
    ("whatsapp", Some("whatsappId"), 4),
    ("facebook", Some("facebookId"), 3),
    ("instagram", Some("instagramId"), 2),
    ("viber", Some("viberId"), 1),
];

const USER_AGENTS: [(&str, &str); 4] = [
    ("desktop", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"),
    ("desktop", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15"),
    ("mobile", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1"),
    ("mobile", "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36"),
];

const PAGES: [&str; 6] = [
    "https://example.com/",
    "https://example.com/pricing",
    "https://example.com/docs/getting-started",
    "https://example.com/blog/customer-tags",
    "https://example.com/checkout",
    "https://example.com/account/billing",
];

const REFERERS: [&str; 4] = [
    "https://www.google.com/",
    "https://duckduckgo.com/",
    "https://www.bing.com/",
    "https://news.example.org/",
];

const PLANS: [&str; 4] = ["free", "starter", "pro", "enterprise"];

const NOTES: [&str; 4] = [
    "Asked about annual billing",
    "Prefers email over chat",
    "Reported a bug in the export",
    "Wants a demo for the team",
];

/// Adds `count` generated customers (and the account's tags) to `builder`.
pub(super) fn generate(count: usize, seed: u64, builder: &mut StoreBuilder) -> Result<(), String> {
    if count > MAX_GENERATED {
        return Err(format!(
            "a generated account holds at most {MAX_GENERATED} customers, not {count}"
        ));
    }
    for (name, color, _) in TAGS {
        builder.add_tag(name, color);
    }
    let first_seen = timeline(count, seed);
    let streams = mix(seed ^ 0x5EED);
    let mut out = Out(Vec::with_capacity(2048));
    for (i, &first_seen) in first_seen.iter().enumerate() {
        let id = i as u64 + 1;
        // Each customer draws from its own stream, so one's values do not shift another's.
        let mut rng = Rng::new(mix(streams ^ id));
        out.0.clear();
        customer(&mut out, id, first_seen, seed, &mut rng);
        // Copied out at its exact size: the account holds hundreds of thousands of these.
        builder.add_entry(Entry::from_json(Bytes::copy_from_slice(&out.0))?);
    }
    Ok(())
}

/// Each customer's `firstSeen`, in id order.
fn timeline(count: usize, seed: u64) -> Vec<u64> {
    let mut rng = Rng::new(mix(seed));
    let span = LAST_DAY - FIRST_DAY;
    let step = (span / count.max(1) as u64).max(1);
    let mut times = Vec::with_capacity(count);
    let mut import_left = 0;
    for i in 0..count as u64 {
        let steady = FIRST_DAY + span * i / count.max(1) as u64;
        let previous = times.last().copied();
        let time = match previous {
            // A bulk import: customers created together share one timestamp.
            Some(t) if import_left > 0 => {
                import_left -= 1;
                t
            }
            Some(_) if rng.below(1000) == 0 => {
                import_left = 20 + rng.below(200);
                steady
            }
            // Seen in the same second as the previous customer.
            Some(t) if rng.percent(8) => t,
            // Roughly in id order, but ids and first visits do not line up exactly.
            _ => steady + rng.below(step * 4),
        };
        times.push(time.min(LAST_DAY));
    }
    times
}

/// One customer's JSON, fields in the order HelpCrunch sends them.
fn customer(out: &mut Out, id: u64, first_seen: u64, seed: u64, rng: &mut Rng) {
    let anonymous = rng.percent(4);
    let (channel, messenger, _) = CHANNELS[rng.weighted(&CHANNELS.map(|c| c.2))];
    let has_email = !anonymous && (messenger.is_none() || rng.percent(50));
    let (first, first_slug) = rng.pick(&FIRST_NAMES);
    let (last, last_slug) = rng.pick(&LAST_NAMES);
    let company = rng.percent(60).then(|| rng.pick(&COMPANIES));
    let place = (!rng.percent(5)).then(|| &PLACES[rng.weighted(&PLACES.map(|p| p.weight))]);

    out.number("{\"id\":", id);
    if anonymous {
        out.raw(",\"name\":", "null");
    } else {
        out.text(",\"name\":", format_args!("{first} {last}"));
    }
    if has_email {
        let domain = match company {
            Some((_, domain)) if rng.percent(50) => domain,
            _ => rng.pick(&MAIL_DOMAINS),
        };
        // The id keeps every address unique.
        let key = ",\"email\":";
        match rng.below(4) {
            0 => out.text(key, format_args!("{first_slug}.{last_slug}{id}@{domain}")),
            1 => out.text(key, format_args!("{first_slug}{id}@{domain}")),
            2 => out.text(
                key,
                format_args!("{}.{last_slug}{id}@{domain}", &first_slug[..1]),
            ),
            _ => out.text(key, format_args!("{first_slug}_{last_slug}{id}@{domain}")),
        }
    } else {
        out.raw(",\"email\":", "null");
    }
    if has_email && rng.percent(80) {
        // One to one with the id for a given seed (mix is a bijection), so unique.
        out.text(
            ",\"userId\":",
            format_args!("usr_{:016x}", mix(mix(seed) ^ id)),
        );
    } else {
        out.raw(",\"userId\":", "null");
    }
    match company {
        Some((name, _)) => out.text(",\"company\":", name),
        None => out.raw(",\"company\":", "null"),
    }
    match place.filter(|_| rng.percent(40)) {
        Some(p) => {
            let digits = 100_000_000 + rng.below(900_000_000);
            out.text(",\"phone\":", format_args!("+{}{digits}", p.calling_code));
        }
        None => out.raw(",\"phone\":", "null"),
    }
    let last_seen = if rng.percent(15) {
        first_seen
    } else {
        first_seen + rng.below(LAST_DAY - first_seen + 1)
    };
    out.text(",\"firstSeen\":", first_seen);
    out.text(",\"lastSeen\":", last_seen);
    match place {
        Some(p) => {
            out.text(",\"location\":{\"regionCode\":", p.region);
            out.text(",\"countryCode\":", p.country);
            out.text(",\"city\":", p.city);
            out.0.push(b'}');
        }
        None => out.raw(",\"location\":", "null"),
    }
    if rng.percent(55) {
        let (platform, agent) = rng.pick(&USER_AGENTS);
        out.number(",\"device\":{\"id\":", 10_000_000 + rng.below(90_000_000));
        let net = rng.pick(&["192.0.2", "198.51.100", "203.0.113"]);
        out.text(",\"ip\":", format_args!("{net}.{}", 1 + rng.below(254)));
        out.text(",\"timezone\":", place.map_or("UTC", |p| p.timezone));
        out.text(",\"platform\":", platform);
        out.text(",\"userAgent\":", agent);
        out.0.push(b'}');
    } else {
        out.raw(",\"device\":", "null");
    }
    out.raw(",\"unsubscribed\":", bool_text(rng.percent(6)));
    out.raw(",\"blocked\":", bool_text(rng.percent(1)));
    let web = messenger.is_none() && channel != "api";
    let pages = web.then(|| (rng.pick(&PAGES), rng.pick(&PAGES)));
    match pages {
        Some((source, _)) => out.text(",\"source\":", source),
        None => out.raw(",\"source\":", "null"),
    }
    match pages.filter(|_| rng.percent(60)) {
        Some(_) => out.text(",\"referer\":", rng.pick(&REFERERS)),
        None => out.raw(",\"referer\":", "null"),
    }
    match pages {
        Some((_, last_page)) => out.text(",\"lastPage\":", last_page),
        None => out.raw(",\"lastPage\":", "null"),
    }
    out.text(",\"locale\":", place.map_or("en", |p| p.locale));
    out.text(",\"createdFrom\":", channel);
    match messenger {
        Some(_) => out.text(",\"integrationId\":", 400_000_000 + rng.below(100_000_000)),
        None => out.raw(",\"integrationId\":", "null"),
    }
    match rng.percent(3).then(|| rng.pick(&NOTES)) {
        Some(note) => out.text(",\"notes\":", note),
        None => out.raw(",\"notes\":", "null"),
    }
    out.0.extend_from_slice(b",\"tags\":[");
    let mut first_tag = true;
    for (name, color, percent) in TAGS {
        if rng.percent(percent) {
            if !first_tag {
                out.0.push(b',');
            }
            first_tag = false;
            out.text("{\"name\":", format_args!("{}", name));
            out.text(",\"color\":", color);
            out.0.push(b'}');
        }
    }
    out.0.push(b']');
    if rng.percent(70) {
        out.text(",\"customData\":{\"plan\":", rng.pick(&PLANS));
        out.number(",\"seats\":", 1 + rng.below(50));
        out.0.push(b'}');
    } else {
        out.raw(",\"customData\":", "{}");
    }
    if let Some(field) = messenger {
        out.raw(",\"", field);
        out.text("\":", 100_000_000 + rng.below(900_000_000));
    }
    out.0.push(b'}');
}

fn bool_text(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

/// JSON text under construction. Each method writes `prefix` (punctuation and a key, as
/// JSON), then a value.
struct Out(Vec<u8>);

impl Out {
    /// The value as it is: `null`, `true`, `{}`.
    fn raw(&mut self, prefix: &str, value: &str) {
        self.0.extend_from_slice(prefix.as_bytes());
        self.0.extend_from_slice(value.as_bytes());
    }

    fn number(&mut self, prefix: &str, value: u64) {
        self.raw(prefix, "");
        write!(self.0, "{value}").expect("writing to a Vec cannot fail");
    }

    /// The value in quotes, unescaped: nothing generated holds a quote, a backslash or a
    /// control character (a test checks every table).
    fn text(&mut self, prefix: &str, value: impl fmt::Display) {
        self.raw(prefix, "\"");
        write!(self.0, "{value}").expect("writing to a Vec cannot fail");
        self.0.push(b'"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, Value};

    fn account(count: usize, seed: u64) -> Vec<Map<String, Value>> {
        let mut builder = StoreBuilder::default();
        generate(count, seed, &mut builder).unwrap();
        builder.finish().unwrap().all()
    }

    #[test]
    fn every_customer_has_the_documented_fields_in_helpcrunchs_order() {
        let documented: Map<String, Value> =
            serde_json::from_str(super::super::data::NEW_CUSTOMER).unwrap();
        for c in account(500, 3) {
            let keys: Vec<&String> = c.keys().skip(1).take(documented.len()).collect();
            assert_eq!(keys, documented.keys().collect::<Vec<_>>());
            assert_eq!(c.keys().next().map(String::as_str), Some("id"));
            assert!(
                c.len() <= documented.len() + 2,
                "at most one messenger id: {c:?}"
            );
        }
    }

    #[test]
    fn emails_and_user_ids_are_unique_and_tag_colours_consistent() {
        let customers = account(5000, 11);
        let mut emails = std::collections::HashSet::new();
        let mut user_ids = std::collections::HashSet::new();
        let mut colours = std::collections::HashMap::new();
        for c in &customers {
            if let Some(e) = c["email"].as_str() {
                assert!(emails.insert(e.to_owned()), "{e}");
                assert!(e.contains('@') && e.is_ascii());
            }
            if let Some(u) = c["userId"].as_str() {
                assert!(user_ids.insert(u.to_owned()), "{u}");
            }
            for t in c["tags"].as_array().unwrap() {
                let (name, colour) = (t["name"].as_str().unwrap(), t["color"].as_str().unwrap());
                assert_eq!(*colours.entry(name.to_owned()).or_insert(colour), colour);
            }
        }
        // Some of each kind: not every customer is alike.
        assert!(emails.len() > 4000 && emails.len() < 5000);
        assert!(user_ids.len() > 2500 && user_ids.len() < emails.len());
        assert_eq!(colours.len(), TAGS.len());
    }

    #[test]
    fn no_table_string_needs_escaping_in_json() {
        let mut all: Vec<&str> = Vec::new();
        for (a, b) in FIRST_NAMES.iter().chain(&LAST_NAMES).chain(&COMPANIES) {
            all.extend([*a, *b]);
        }
        for p in &PLACES {
            all.extend([
                p.country,
                p.region,
                p.city,
                p.timezone,
                p.locale,
                p.calling_code,
            ]);
        }
        all.extend(
            MAIL_DOMAINS
                .iter()
                .chain(&PAGES)
                .chain(&REFERERS)
                .chain(&PLANS)
                .chain(&NOTES),
        );
        all.extend(TAGS.iter().flat_map(|t| [t.0, t.1]));
        all.extend(CHANNELS.iter().flat_map(|c| [Some(c.0), c.1]).flatten());
        all.extend(USER_AGENTS.iter().flat_map(|u| [u.0, u.1]));
        for s in all {
            assert_eq!(serde_json::to_string(s).unwrap(), format!("\"{s}\""));
        }
    }

    #[test]
    fn first_seen_spans_years_rises_roughly_and_has_ties() {
        let times = timeline(100_000, 1);
        assert!(times.iter().all(|&t| (FIRST_DAY..=LAST_DAY).contains(&t)));
        assert!(times[0] < FIRST_DAY + 86_400 && times[99_999] > LAST_DAY - 86_400);
        let ties = times.windows(2).filter(|w| w[0] == w[1]).count();
        assert!(ties > 5_000, "{ties}");
        let falls = times.windows(2).filter(|w| w[0] > w[1]).count();
        assert!(falls > 10_000, "not in id order: {falls}");
        assert!(timeline(0, 1).is_empty());
        assert_eq!(timeline(1, 1).len(), 1);
    }
}
