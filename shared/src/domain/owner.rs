//! Who is asking: a user (the owner claim of a verified JWT) or a trusted backend (IAM).

use std::fmt;

use sha2::{Digest, Sha256};

/// The owner claim of a verified JWT: the company's user id, compared exactly with the reference id an inquiry
/// or its account carries (docs/design.md, "Who owns an inquiry"). Never empty. Personal data: never logged.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Owner(String);

impl Owner {
    /// `None` for an empty claim: an empty reference id belongs to nobody.
    pub fn new(claim: impl Into<String>) -> Option<Self> {
        let claim = claim.into();
        (!claim.is_empty()).then_some(Self(claim))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A short digest for idempotency keys: keeps the header short and free of the user's id, whatever the
    /// claim holds.
    pub fn fingerprint(&self) -> String {
        fingerprint(self.0.as_bytes())
    }
}

impl fmt::Debug for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Owner(<redacted>)")
    }
}

/// The first 16 hex digits of a SHA-256: a short, stable digest (docs/design.md, "Idempotency keys").
pub fn fingerprint(bytes: &[u8]) -> String {
    Sha256::digest(bytes)[..8].iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The caller of a request, decided once by the request parser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// JWT mode: may only reach inquiries they own.
    User(Owner),
    /// IAM mode: a backend the company trusts; no ownership check.
    Trusted,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_are_never_empty_and_never_printed() {
        assert!(Owner::new("").is_none());
        let owner = Owner::new("alice@example.com").unwrap();
        assert_eq!(format!("{owner:?}"), "Owner(<redacted>)");
        assert_eq!(owner.fingerprint().len(), 16);
        assert_eq!(owner.fingerprint(), Owner::new("alice@example.com").unwrap().fingerprint());
        assert_ne!(owner.fingerprint(), Owner::new("bob").unwrap().fingerprint());
        // SHA-256("abc") = ba7816bf8f01cfea…
        assert_eq!(fingerprint(b"abc"), "ba7816bf8f01cfea");
    }
}
