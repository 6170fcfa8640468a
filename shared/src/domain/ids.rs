//! Persona's identifiers as types: an id is checked once, where it enters (a path parameter, a Persona document),
//! and from then on can go into an upstream URL path without another look.

use std::fmt;

use serde::{Deserialize, Deserializer};

/// The longest id body we accept after its prefix (Persona's ids have changed length over time, so we only bound it).
pub const MAX_ID_BODY_LEN: usize = 64;

/// `prefix` followed by 1–64 ASCII letters or digits.
pub fn is_valid_id(candidate: &str, prefix: &str) -> bool {
    candidate.strip_prefix(prefix).is_some_and(|body| {
        (1..=MAX_ID_BODY_LEN).contains(&body.len()) && body.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

/// A candidate that is not an id of the expected kind. Never carries the candidate: it may be caller input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a valid {kind} id")]
pub struct InvalidId {
    pub kind: &'static str,
}

macro_rules! persona_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn parse(candidate: &str) -> Result<Self, InvalidId> {
                if is_valid_id(candidate, $prefix) {
                    Ok(Self(candidate.to_owned()))
                } else {
                    Err(InvalidId { kind: $kind })
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        // Read-only access to the checked text (`Option<InquiryId>::as_deref()` gives an `Option<&str>`).
        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(deserializer)?;
                Self::parse(&raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

persona_id!(
    /// `inq_…`: an inquiry.
    InquiryId,
    "inq_",
    "inquiry"
);
persona_id!(
    /// `act_…`: an account (Persona's user).
    AccountId,
    "act_",
    "account"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inquiry_ids() {
        let max = format!("inq_{}", "a".repeat(64));
        let too_long = format!("inq_{}", "a".repeat(65));
        let table: &[(&str, bool)] = &[
            ("inq_ABC123", true),
            ("inq_a", true),
            (&max, true),
            (&too_long, false),
            ("inq_", false),
            ("", false),
            ("INQ_abc", false),
            ("itmpl_abc", false),
            ("inq_abc/def", false),
            ("inq_abc/../x", false),
            ("inq_..", false),
            ("inq_abc%2F", false),
            ("inq_abc?x=1", false),
            ("inq_abc.def", false),
            ("inq_abc-def", false),
            ("inq_abc_def", false),
            ("inq_abc ", false),
            ("inq_äbc", false),
            ("inq_abc\n", false),
        ];
        for (candidate, expected) in table {
            assert_eq!(InquiryId::parse(candidate).is_ok(), *expected, "{candidate:?}");
        }
    }

    #[test]
    fn account_ids_and_documents() {
        assert_eq!(AccountId::parse("act_ABC1").unwrap().as_str(), "act_ABC1");
        assert!(AccountId::parse("inq_ABC1").is_err());
        let id: InquiryId = serde_json::from_str("\"inq_1\"").unwrap();
        assert_eq!(id, "inq_1");
        let error = serde_json::from_str::<InquiryId>("\"inq_1/../x\"").unwrap_err().to_string();
        assert!(error.contains("not a valid inquiry id") && !error.contains("../x"), "{error}");
    }
}
