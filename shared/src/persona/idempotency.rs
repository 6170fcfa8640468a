//! Idempotency keys (design.md, "Idempotency keys").
//!
//! Persona replays the first answer to a key for 24 h or more, 5xx answers included. So a lost answer (timeout,
//! dropped connection) retries the same key, while a 5xx *answer* moves to the next key of the sequence
//! (`…:2`, `…:3`). Keys for creating inquiries are deterministic, so every invocation — of either function —
//! walks the same sequence from the start and converges on the first key that succeeded.

use url::form_urlencoded::byte_serialize;

use crate::domain::ids::InquiryId;
use crate::persona::operation::Operation;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySequence {
    base: String,
    position: u32,
}

impl KeySequence {
    fn starting_at(base: String) -> Self {
        Self { base, position: 1 }
    }

    /// Creating the successor of an outdated inquiry.
    pub fn recreate(outdated_inquiry_id: &InquiryId, latest_version_id: &str) -> Self {
        Self::starting_at(format!("recreate:{outdated_inquiry_id}:{latest_version_id}"))
    }

    /// Creating a returning user's first inquiry (`/me`). The owner comes from a JWT claim, so it is
    /// percent-encoded to keep the header value plain ASCII.
    pub fn create(inquiry_template_id: &str, owner: &str) -> Self {
        let owner: String = byte_serialize(owner.as_bytes()).collect();
        Self::starting_at(format!("create:{inquiry_template_id}:{owner}"))
    }

    /// Resume and link generation: fresh per invocation (a link is single-use; never replay an old one).
    pub fn per_invocation(operation: Operation, inquiry_id: &InquiryId, lambda_request_id: &str) -> Self {
        let request: String = byte_serialize(lambda_request_id.as_bytes()).collect();
        Self::starting_at(format!("{operation}:{inquiry_id}:{request}"))
    }

    pub fn expire(inquiry_id: &InquiryId, latest_version_id: &str) -> Self {
        Self::starting_at(format!("expire:{inquiry_id}:{latest_version_id}"))
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

    fn id(raw: &str) -> InquiryId {
        InquiryId::parse(raw).unwrap()
    }

    #[test]
    fn sequences() {
        let mut recreate = KeySequence::recreate(&id("inq_old"), "itmplv_2");
        assert_eq!(recreate.current(), "recreate:inq_old:itmplv_2");
        assert_eq!(recreate.current(), "recreate:inq_old:itmplv_2", "a lost answer retries the same key");
        recreate.advance();
        assert_eq!(recreate.current(), "recreate:inq_old:itmplv_2:2");
        recreate.advance();
        assert_eq!(recreate.current(), "recreate:inq_old:itmplv_2:3");

        assert_eq!(KeySequence::create("itmpl_1", "user-1").current(), "create:itmpl_1:user-1");
        assert_eq!(KeySequence::create("itmpl_1", "a b/é").current(), "create:itmpl_1:a+b%2F%C3%A9");
        assert_eq!(
            KeySequence::per_invocation(Operation::Resume, &id("inq_1"), "8f0e-1").current(),
            "resume:inq_1:8f0e-1"
        );
        assert_eq!(KeySequence::expire(&id("inq_1"), "itmplv_2").current(), "expire:inq_1:itmplv_2");
    }

    #[test]
    fn every_walk_starts_from_the_same_key() {
        let first = KeySequence::recreate(&id("inq_old"), "itmplv_2");
        let second = KeySequence::recreate(&id("inq_old"), "itmplv_2");
        assert_eq!(first, second);
    }
}
