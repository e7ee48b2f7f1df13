//! Customers from a file: a JSON array of customer objects, or JSON Lines (one object per
//! line; any whitespace between objects will do). Customers go to the store one by one, so
//! a large file is held once, as its bytes, while it loads.

use std::fmt;
use std::io;
use std::path::Path;

use serde::de::{self, Deserializer as _, SeqAccess, Visitor};

use super::entry::Customer;
use super::state::{Store, StoreBuilder};

const BOM: &[u8] = b"\xEF\xBB\xBF";

pub(super) fn from_file(path: &Path) -> io::Result<Store> {
    let shown = path.display();
    let bytes = std::fs::read(path)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot read {shown}: {e}")))?;
    let text = bytes.strip_prefix(BOM).unwrap_or(&bytes);
    let invalid = |message: String| io::Error::new(io::ErrorKind::InvalidData, message);
    let mut builder = StoreBuilder::default();
    add_all(text, &mut builder).map_err(|e| invalid(format!("{shown}: {e}")))?;
    builder
        .finish()
        .map_err(|e| invalid(format!("{shown}: {e}")))
}

fn add_all(text: &[u8], builder: &mut StoreBuilder) -> Result<(), String> {
    match text.iter().find(|b| !b.is_ascii_whitespace()) {
        None => Ok(()),
        Some(b'[') => {
            let mut de = serde_json::Deserializer::from_slice(text);
            de.deserialize_seq(EachCustomer { builder })
                .and_then(|()| de.end())
                .map_err(|e| e.to_string())
        }
        Some(b'{') => {
            let stream = serde_json::Deserializer::from_slice(text).into_iter::<Customer>();
            for (i, customer) in stream.enumerate() {
                let customer = customer.map_err(|e| e.to_string())?;
                builder
                    .add(customer)
                    .map_err(|e| format!("customer {}: {e}", i + 1))?;
            }
            Ok(())
        }
        Some(_) => {
            Err("expected a JSON array of customers, or one customer object per line".into())
        }
    }
}

/// Adds each element of a JSON array to the store as it is parsed.
struct EachCustomer<'a> {
    builder: &'a mut StoreBuilder,
}

impl<'de> Visitor<'de> for EachCustomer<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of customer objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut count = 0;
        while let Some(customer) = seq.next_element::<Customer>()? {
            count += 1;
            self.builder
                .add(customer)
                .map_err(|e| de::Error::custom(format!("customer {count}: {e}")))?;
        }
        Ok(())
    }
}
