//! The demo users of `make dev`, planted through the fake Persona's public seeding API on top of its own
//! demo data (`seed_demo`): alice and bob each have a pending inquiry on the demo template, so `/me` resumes
//! theirs and each one's inquiry is a 404 for the other. Any other user name signs in without an inquiry
//! (`/me` creates one, then resumes it).

use crate::fake_persona::seed::DEMO_TEMPLATE_ID;
use crate::fake_persona::{FakePersona, SeedInquiry};

/// One demo user and their inquiry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoUser {
    pub sub: &'static str,
    pub inquiry_id: &'static str,
}

pub const DEMO_USERS: [DemoUser; 2] = [
    DemoUser { sub: "alice", inquiry_id: "inq_DemoAlice0001" },
    DemoUser { sub: "bob", inquiry_id: "inq_DemoBob0001" },
];

/// Plants the fake's demo data and the demo users' inquiries.
pub fn seed(fake: &FakePersona) -> Result<(), String> {
    fake.seed_demo();
    for user in &DEMO_USERS {
        fake.seed_inquiry(SeedInquiry {
            id: Some(user.inquiry_id.into()),
            template_id: DEMO_TEMPLATE_ID.into(),
            status: Some("pending".into()),
            reference_id: Some(user.sub.into()),
            ..SeedInquiry::default()
        })
        .map_err(|e| format!("cannot seed {}'s inquiry: {e}", user.sub))?;
    }
    Ok(())
}
