//! Idempotency keys (docs/design.md, "Idempotency keys").
//!
//! Persona replays the first answer to a key for 24 h or more, 5xx answers included. So a lost answer (timeout,
//! dropped connection) retries the same key, while a 5xx *answer* moves to the next key of the sequence
//! (`…:2`, `…:3`). Keys for creating inquiries are deterministic, so every invocation — of either function —
//! walks the same sequence from the start and converges on the first key that succeeded.

use url::form_urlencoded::byte_serialize;

use crate::domain::ids::InquiryId;
use crate::domain::owner::Owner;
use crate::persona::model::CreateInquiry;
use crate::persona::operation::Operation;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySequence {
    base: String,
    position: u32,
    /// The create ledger holds this sequence's position (docs/design.md, "The guard"): the client sends only the
    /// current key and hands a 5xx answer back, so the ledger records it before anyone sends the next key.
    held_in_ledger: bool,
}

impl KeySequence {
    fn starting_at(base: String) -> Self {
        Self { base, position: 1, held_in_ledger: false }
    }

    /// Creating the replacement of an outdated inquiry: keyed by that inquiry alone (the version is data), so it
    /// gets one replacement whatever the template does meanwhile. The body fingerprint makes a changed
    /// configuration (say `PERSONA_REDIRECT_URI`) start a fresh sequence instead of meeting an answer stored for
    /// another body.
    pub fn recreate(outdated_inquiry_id: &InquiryId, body: &CreateInquiry) -> Self {
        Self::starting_at(format!("recreate:{outdated_inquiry_id}:{}", body.fingerprint()))
    }

    /// The same sequence at the attempt the create ledger holds: only that key is sent.
    pub fn held_at(self, attempt: u32) -> Self {
        Self { position: attempt.max(1), held_in_ledger: true, ..self }
    }

    /// The position in the sequence (1 for the first key).
    #[cfg(test)]
    pub fn attempt(&self) -> u32 {
        self.position
    }

    pub fn is_held_in_ledger(&self) -> bool {
        self.held_in_ledger
    }

    /// Creating a returning user's first inquiry (`/me`): the owner appears only as a fingerprint (short, and no
    /// user id in a header).
    pub fn create(inquiry_template_id: &str, owner: &Owner, body: &CreateInquiry) -> Self {
        Self::starting_at(format!("create:{inquiry_template_id}:{}:{}", owner.fingerprint(), body.fingerprint()))
    }

    /// Resume, link generation and expiry: fresh per invocation (a link is single-use; never replay an old one, nor
    /// report an expiry another invocation did). Built through [`crate::persona::calls::Invocation::keys_for`].
    pub fn per_invocation(operation: Operation, inquiry_id: &InquiryId, lambda_request_id: &str) -> Self {
        let request: String = byte_serialize(lambda_request_id.as_bytes()).collect();
        Self::starting_at(format!("{operation}:{inquiry_id}:{request}"))
    }

    /// The key to send now.
    pub fn current(&self) -> String {
        match self.position {
            1 => self.base.clone(),
            n => format!("{}:{n}", self.base),
        }
    }

    /// After a 5xx answer: Persona would replay it to the same key.
    pub fn advance(&mut self) {
        self.position += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persona::model::CreateInquiryAttributes;

    fn id(raw: &str) -> InquiryId {
        InquiryId::parse(raw).unwrap()
    }

    #[test]
    fn sequences() {
        let body = CreateInquiry::new(
            CreateInquiryAttributes {
                inquiry_template_id: "itmpl_1".into(),
                reference_id: None,
                account_id: None,
                redirect_uri: None,
                tags: Vec::new(),
            },
            None,
        );
        let fp = body.fingerprint();
        assert_eq!(fp.len(), 16);
        let mut recreate = KeySequence::recreate(&id("inq_old"), &body);
        assert_eq!(recreate.current(), format!("recreate:inq_old:{fp}"));
        assert_eq!(recreate.current(), format!("recreate:inq_old:{fp}"), "a lost answer retries the same key");
        recreate.advance();
        assert_eq!(recreate.current(), format!("recreate:inq_old:{fp}:2"));
        recreate.advance();
        assert_eq!(recreate.current(), format!("recreate:inq_old:{fp}:3"));
        assert_eq!(recreate.attempt(), 3);
        assert!(!recreate.is_held_in_ledger());

        let held = KeySequence::recreate(&id("inq_old"), &body).held_at(4);
        assert_eq!(held.current(), format!("recreate:inq_old:{fp}:4"), "the ledger's attempt, same key as a walk's");
        assert!(held.is_held_in_ledger());
        assert_eq!(KeySequence::recreate(&id("inq_old"), &body).held_at(1).current(), format!("recreate:inq_old:{fp}"));

        let owner = Owner::new("a b/é@example.com").unwrap();
        let create = KeySequence::create("itmpl_1", &owner, &body).current();
        assert_eq!(create, format!("create:itmpl_1:{}:{fp}", owner.fingerprint()));
        assert!(!create.contains("example"), "no user id in a header: {create}");
        assert!(create.is_ascii());
        assert_eq!(
            KeySequence::per_invocation(Operation::Resume, &id("inq_1"), "8f0e-1").current(),
            "resume:inq_1:8f0e-1"
        );
        assert_eq!(
            KeySequence::per_invocation(Operation::Expire, &id("inq_1"), "8f0e/1").current(),
            "expire:inq_1:8f0e%2F1"
        );
    }

    #[test]
    fn every_walk_starts_from_the_same_key_and_a_changed_body_starts_another() {
        let body = |redirect: Option<&str>| {
            CreateInquiry::new(
                CreateInquiryAttributes {
                    inquiry_template_id: "itmpl_1".into(),
                    reference_id: Some("user-1".into()),
                    account_id: None,
                    redirect_uri: redirect.map(str::to_owned),
                    tags: Vec::new(),
                },
                None,
            )
        };
        let first = KeySequence::recreate(&id("inq_old"), &body(None));
        let second = KeySequence::recreate(&id("inq_old"), &body(None));
        assert_eq!(first, second);
        let reconfigured = KeySequence::recreate(&id("inq_old"), &body(Some("https://app.example/done")));
        assert_ne!(first.current(), reconfigured.current());
    }
}
