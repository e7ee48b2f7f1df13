//! The demo customers a sandbox starts with when given none, and the fields of a new one.
//!
//! First comes HelpCrunch's own example customer (from its v1 docs), tagged `vip` and `Lead`.
//! The docs' copy of its email is mangled by the site's e-mail obfuscation, so a plausible one
//! stands in. The rest vary what a client must cope with: null fields, non-Latin names,
//! timestamps as strings and as numbers, `customData` as an object and in the older
//! `[{"property","value"}]` shape, numbers past 64 bits, fields the docs don't list.
//!
//! It is JSON text, not `json!`, so big and precise numbers stay exactly as written.

use serde_json::{Map, Value};

/// Documented customer fields, in HelpCrunch's order, with what a new customer has when the
/// request leaves them out. `id` comes first, from the store.
pub(super) const NEW_CUSTOMER: &str = r#"{"name":null,"email":null,"userId":null,"company":null,
"phone":null,"firstSeen":null,"lastSeen":null,"location":null,"device":null,
"unsubscribed":false,"blocked":false,"source":null,"referer":null,"lastPage":null,
"locale":null,"createdFrom":null,"integrationId":null,"notes":null,"tags":[],
"customData":{}}"#;

pub(super) const DEMO_CUSTOMERS: &str = r##"[
{
  "id": 542335,
  "name": "John Doe",
  "email": "john.doe@example.com",
  "userId": "user_1234567890",
  "company": "Example Inc.",
  "phone": "+10233456781",
  "firstSeen": "1603885746",
  "lastSeen": "1603885746",
  "location": {"regionCode": "Kyyivs'ka Oblast", "countryCode": "UA", "city": "Kyiv"},
  "device": {
    "id": 542335,
    "ip": "192.168.1.1",
    "timezone": "Europe/Kiev",
    "platform": "desktop",
    "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/86.0.4240.111 Safari/537.36"
  },
  "unsubscribed": false,
  "blocked": false,
  "source": "https://example.com",
  "referer": "https://example.com",
  "lastPage": "https://example.com",
  "locale": "uk",
  "createdFrom": "telegram",
  "integrationId": "465847687",
  "notes": "Lorem ipsum",
  "tags": [{"name": "vip", "color": "#ff0000"}, {"name": "Lead", "color": "#c57de0"}],
  "customData": {
    "subscription_status": "active",
    "number_of_payments": 15,
    "last_paid_amount": 15.99,
    "last_payment_date": 1603885746,
    "last_invoice_url": "https://example.com/invoice.html",
    "last_payment_was_successful": true
  }
},
{
  "id": 542336,
  "name": "Cindy Mindy",
  "email": "cindy.mindy@example.com",
  "userId": "example_6268",
  "company": "example",
  "phone": null,
  "firstSeen": 1588927354,
  "lastSeen": 1591627673,
  "location": {"regionCode": "CA", "countryCode": "US", "city": "San Francisco"},
  "device": {
    "id": 28883192,
    "ip": "192.168.1.2",
    "timezone": "America/Los_Angeles",
    "platform": "desktop",
    "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/81.0.4044.138 Safari/537.36"
  },
  "unsubscribed": false,
  "blocked": false,
  "source": "https://example.com/blog/",
  "referer": "https://www.google.com/",
  "locale": "en",
  "notes": null,
  "lastPage": "https://example.com/pricing",
  "tags": [{"name": "Lead", "color": "#c57de0"}],
  "customData": [
    {"property": "Role", "value": "admin"},
    {"property": "Plan", "value": "Enterprise (Unlimited) $9999/mo"},
    {"property": "Emails sent", "value": 621},
    {"property": "Trial end date", "value": "2017-07-24 14:30:00"}
  ]
},
{
  "id": 542337,
  "name": "Олена Коваленко",
  "email": "olena.kovalenko@example.com.ua",
  "userId": "user_olena",
  "company": "ТОВ «Приклад»",
  "phone": "+380441234567",
  "firstSeen": "1600000000",
  "lastSeen": "1700000000",
  "location": {"regionCode": "Lvivs'ka Oblast", "countryCode": "UA", "city": "Львів"},
  "device": null,
  "unsubscribed": false,
  "blocked": false,
  "source": null,
  "referer": null,
  "lastPage": null,
  "locale": "uk",
  "createdFrom": "widget",
  "integrationId": null,
  "notes": "Пише українською",
  "tags": [{"name": "vip", "color": "#ff0000"}],
  "customData": {"city_of_birth": "Київ", "visits": 3}
},
{
  "id": 542338,
  "name": null,
  "email": null,
  "userId": null,
  "company": null,
  "phone": null,
  "firstSeen": null,
  "lastSeen": null,
  "location": null,
  "device": null,
  "unsubscribed": false,
  "blocked": false,
  "source": null,
  "referer": null,
  "lastPage": null,
  "locale": null,
  "createdFrom": null,
  "integrationId": null,
  "notes": null,
  "tags": [],
  "customData": {}
},
{
  "id": 542339,
  "name": "李雷",
  "email": "li.lei@example.cn",
  "userId": "user_0042",
  "company": "示例公司",
  "phone": "+861012345678",
  "firstSeen": 1603800000,
  "lastSeen": "1603900000",
  "location": {"regionCode": "BJ", "countryCode": "CN", "city": "北京"},
  "device": {"id": 99887766, "ip": "10.0.0.7", "timezone": "Asia/Shanghai", "platform": "mobile", "userAgent": "Mozilla/5.0 (iPhone; CPU iPhone OS 14_0 like Mac OS X)"},
  "unsubscribed": true,
  "blocked": false,
  "source": "https://example.cn",
  "referer": null,
  "lastPage": "https://example.cn/checkout",
  "locale": "zh",
  "createdFrom": "api",
  "integrationId": null,
  "notes": null,
  "tags": [{"name": "Lead", "color": "#c57de0"}, {"name": "churned", "color": "#808080"}],
  "customData": {
    "lifetime_value_micros": 123456789012345678901234567890,
    "ratio": 0.1000000000000000055511151231257827,
    "tiny": 1e-400,
    "negative": -9223372036854775809
  }
},
{
  "id": 542340,
  "name": "José Álvarez",
  "email": "jose.alvarez@example.es",
  "userId": "user_jose",
  "company": "Ejemplo S.L.",
  "phone": "+34911234567",
  "firstSeen": "1590000000",
  "lastSeen": "1690000000",
  "location": {"regionCode": "MD", "countryCode": "ES", "city": "Madrid"},
  "device": null,
  "unsubscribed": false,
  "blocked": false,
  "source": "https://example.es",
  "referer": "https://duckduckgo.com/",
  "lastPage": "https://example.es/precios",
  "locale": "es",
  "createdFrom": "widget",
  "integrationId": null,
  "notes": "",
  "tags": [{"name": "vip", "color": "#ff0000"}, {"name": "Lead", "color": "#c57de0"}, {"name": "lead", "color": "#3cb371"}],
  "customData": {"plan": "pro", "seats": 12, "monthly_fee": 49.5}
},
{
  "id": 542341,
  "name": "Zoë O'Brien 🎉",
  "email": "zoe+newsletter@example.ie",
  "userId": "user_zoe",
  "company": null,
  "phone": "",
  "firstSeen": "1612345678",
  "lastSeen": "1712345678",
  "location": {"regionCode": "D", "countryCode": "IE", "city": "Dublin"},
  "device": {"id": 31337, "ip": "2001:db8::1", "timezone": "Europe/Dublin", "platform": "desktop", "userAgent": "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"},
  "unsubscribed": true,
  "blocked": true,
  "source": null,
  "referer": null,
  "lastPage": null,
  "locale": "en",
  "createdFrom": "email",
  "integrationId": null,
  "notes": "Blocked after \"spam\" reports\nsecond line\ttabbed",
  "tags": [{"name": "blocked-by-agent", "color": "#000000"}],
  "customData": {"reason": null, "reports": [1, 2, 3]}
},
{
  "id": 542342,
  "name": "أحمد السيد",
  "email": "ahmed@example.ae",
  "userId": "user_ahmed",
  "company": "مثال",
  "phone": "+97141234567",
  "firstSeen": 1620000000,
  "lastSeen": 1720000000,
  "location": {"regionCode": "DU", "countryCode": "AE", "city": "دبي"},
  "device": null,
  "unsubscribed": false,
  "blocked": false,
  "source": null,
  "referer": null,
  "lastPage": null,
  "locale": "ar",
  "createdFrom": "whatsapp",
  "integrationId": "998877",
  "notes": null,
  "tags": [{"name": "lead", "color": "#3cb371"}],
  "customData": [{"property": "Preferred language", "value": "ar"}, {"property": "Orders", "value": 0}]
},
{
  "id": 542343,
  "name": "Test Customer",
  "email": "test.customer@example.com",
  "userId": "example_22",
  "company": "example",
  "phone": null,
  "firstSeen": "1593547200",
  "lastSeen": "1593547200",
  "location": {"regionCode": null, "countryCode": null, "city": null},
  "device": null,
  "unsubscribed": false,
  "blocked": false,
  "source": "https://google.com",
  "referer": null,
  "lastPage": null,
  "locale": "en",
  "createdFrom": "api",
  "integrationId": null,
  "notes": null,
  "tags": [],
  "customData": null
},
{
  "id": 542344,
  "name": "Grace Hopper",
  "email": "grace@example.org",
  "userId": "user_grace",
  "company": "Example Navy",
  "phone": "+12025550143",
  "firstSeen": "1500000000",
  "lastSeen": "1800000000",
  "location": {"regionCode": "VA", "countryCode": "US", "city": "Arlington"},
  "device": {"id": 1906, "ip": "192.0.2.10", "timezone": "America/New_York", "platform": "desktop", "userAgent": "COBOL/1959"},
  "unsubscribed": false,
  "blocked": false,
  "source": "https://example.org",
  "referer": "https://example.org/about",
  "lastPage": "https://example.org/docs",
  "locale": "en",
  "createdFrom": "telegram",
  "integrationId": "465847688",
  "notes": "Has fields the docs do not list",
  "tags": [{"name": "vip", "color": "#ff0000"}, {"name": "Paid", "color": "#c377e0"}],
  "customData": {"nested": {"deeper": {"deepest": [true, false, null]}}},
  "telegramId": "123456789",
  "segments": ["beta", "early-adopter"],
  "futureField": {"added": "2030", "score": 99.99}
}
]"##;

pub(super) fn demo_customers() -> Vec<Map<String, Value>> {
    serde_json::from_str(DEMO_CUSTOMERS).expect("the demo customers are valid JSON")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_customers_with_consecutive_ids_and_consistent_tag_colours() {
        let customers = demo_customers();
        let ids: Vec<u64> = customers
            .iter()
            .map(|c| c["id"].as_u64().unwrap())
            .collect();
        assert_eq!(ids, (542335..=542344).collect::<Vec<_>>());
        let mut colours = std::collections::HashMap::new();
        for c in &customers {
            for t in c["tags"].as_array().unwrap() {
                let (name, colour) = (t["name"].as_str().unwrap(), t["color"].as_str().unwrap());
                assert_eq!(*colours.entry(name).or_insert(colour), colour, "{name}");
            }
        }
    }

    #[test]
    fn numbers_keep_their_exact_text() {
        let customers = demo_customers();
        let text = serde_json::to_string(&customers[4]["customData"]).unwrap();
        assert!(text.contains("123456789012345678901234567890"));
        assert!(text.contains("0.1000000000000000055511151231257827"));
        assert!(text.contains("-9223372036854775809"));
    }
}
