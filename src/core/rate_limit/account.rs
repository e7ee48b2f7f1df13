//! Which account a budget belongs to, without the API key.

use sha2::{Digest, Sha256};

/// Hashed in front of the key, so this hash of a key means "a helpcrunch rate-limit budget"
/// and nothing else: it cannot be matched against a plain SHA-256 of the same key kept
/// anywhere else. Changing it splits every fleet's budget in two while old and new versions
/// run side by side, so it is versioned rather than edited.
pub const ACCOUNT_HASH_PREFIX: &str = "helpcrunch rate limit account v1\0";

/// An account, as shared stores know it: the hex SHA-256 of [`ACCOUNT_HASH_PREFIX`] followed by
/// the API key. HelpCrunch keys are long random strings, so the hash cannot be turned back into
/// the key; two keys get two budgets. This is all a Redis key name or a file line ever holds.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AccountId(String);

impl AccountId {
    pub fn from_api_key(api_key: &str) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(ACCOUNT_HASH_PREFIX.as_bytes());
        hasher.update(api_key.as_bytes());
        let digest = hasher.finalize();
        let mut hex = String::with_capacity(digest.len() * 2);
        for byte in digest.iter() {
            hex.push(char::from_digit(u32::from(byte >> 4), 16).expect("a nibble"));
            hex.push(char::from_digit(u32::from(byte & 0xf), 16).expect("a nibble"));
        }
        AccountId(hex)
    }

    /// 64 lowercase hex digits.
    pub fn as_hex(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for AccountId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AccountId({}…)", &self.0[..12])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_the_prefixed_sha256_in_hex() {
        // printf 'helpcrunch rate limit account v1\0key' | sha256sum
        assert_eq!(
            AccountId::from_api_key("key").as_hex(),
            "61f33bd7d84b38e6d5f0dada96165967a2b20bcb03bcf8e34a57cca7a74168dd"
        );
    }

    #[test]
    fn debug_shows_a_prefix_of_the_hash_only() {
        let id = AccountId::from_api_key("key");
        assert_eq!(format!("{id:?}"), "AccountId(61f33bd7d84b…)");
    }

    #[test]
    fn two_keys_two_accounts_and_the_same_key_one() {
        assert_eq!(AccountId::from_api_key("a"), AccountId::from_api_key("a"));
        assert_ne!(AccountId::from_api_key("a"), AccountId::from_api_key("b"));
    }
}
