//! Demo data with fixed ids, for the standalone binary (`--seed`) and for tests.

use serde::{Deserialize, Serialize};

use super::model::{ModelError, NewTemplate, SeedInquiry, Store};
use super::util::{now_ms, HOUR_MS};

pub const DEMO_TEMPLATE_ID: &str = "itmpl_DemoTemplate0001";
pub const DEMO_OLD_VERSION_ID: &str = "itmplv_DemoVersion0001";
pub const DEMO_LATEST_VERSION_ID: &str = "itmplv_DemoVersion0002";
pub const DEMO_LEGACY_TEMPLATE_ID: &str = "tmpl_DemoLegacy0001";

/// One seeded inquiry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoInquiry {
    pub id: String,
    /// The user's reference id (the inquiry's own, or — account-only users — only its account's).
    pub reference_id: String,
    /// Whether the inquiry itself carries `reference_id` (false: its own reference id is null).
    #[serde(default = "yes")]
    pub reference_id_on_inquiry: bool,
    /// The account it belongs to.
    #[serde(default)]
    pub account_id: Option<String>,
    pub status: String,
    pub template_version_id: Option<String>,
    pub redacted: bool,
}

fn yes() -> bool {
    true
}

/// What [`seed_demo`] planted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoSeed {
    pub template_id: String,
    pub old_version_id: String,
    pub latest_version_id: String,
    pub legacy_template_id: String,
    /// pending, on the latest version (current)
    pub pending: DemoInquiry,
    /// pending, pinned to the old version (outdated)
    pub outdated: DemoInquiry,
    /// expired, on the latest version
    pub expired: DemoInquiry,
    /// completed, on the latest version
    pub completed: DemoInquiry,
    /// created (not started), on the latest version
    pub created: DemoInquiry,
    /// pending but redacted
    pub redacted: DemoInquiry,
    /// pending, on the legacy template (no versions: the template check is undecidable)
    pub legacy: DemoInquiry,
    /// pending, on the latest version, created with only `meta.auto-create-account-reference-id`: its own
    /// reference id is null, its account's is the user's
    pub account_only: DemoInquiry,
}

/// One demo inquiry to plant.
struct DemoSpec {
    id: &'static str,
    reference_id: &'static str,
    status: &'static str,
    /// `None`: the template's latest version (or none, for the legacy template).
    version: Option<&'static str>,
    redacted: bool,
    legacy: bool,
    /// Only the account carries the reference id.
    account_only: bool,
}

const fn spec(id: &'static str, reference_id: &'static str, status: &'static str) -> DemoSpec {
    DemoSpec { id, reference_id, status, version: None, redacted: false, legacy: false, account_only: false }
}

/// Oldest first.
const DEMO_INQUIRIES: [DemoSpec; 8] = [
    DemoSpec { account_only: true, ..spec("inq_DemoAccountOnly0001", "demo-user-account-only", "pending") },
    spec("inq_DemoCompleted0001", "demo-user-completed", "completed"),
    DemoSpec { redacted: true, ..spec("inq_DemoRedacted0001", "demo-user-redacted", "pending") },
    DemoSpec { legacy: true, ..spec("inq_DemoLegacy0001", "demo-user-legacy", "pending") },
    DemoSpec { version: Some(DEMO_OLD_VERSION_ID), ..spec("inq_DemoOutdated0001", "demo-user-outdated", "pending") },
    spec("inq_DemoExpired0001", "demo-user-expired", "expired"),
    spec("inq_DemoCreated0001", "demo-user-created", "created"),
    spec("inq_DemoPending0001", "demo-user-pending", "pending"),
];

/// `inq_DemoX` -> `act_DemoX`: each demo inquiry's user has an account of their own.
fn demo_account_id(inquiry_id: &str) -> String {
    inquiry_id.replace("inq_", "act_")
}

/// Plants the demo templates, inquiries and their accounts (with the spec example's personal data),
/// replacing earlier copies of them.
pub fn seed_demo(store: &mut Store) -> Result<DemoSeed, ModelError> {
    for demo in &DEMO_INQUIRIES {
        store.inquiries.remove(demo.id);
        store.accounts.remove(&demo_account_id(demo.id));
    }
    for id in [DEMO_TEMPLATE_ID, DEMO_LEGACY_TEMPLATE_ID] {
        if let Some(t) = store.templates.remove(id) {
            for v in t.versions {
                store.versions.remove(&v);
            }
        }
    }
    store.create_template(NewTemplate {
        id: Some(DEMO_TEMPLATE_ID.into()),
        name: Some("Demo KYC".into()),
        version_ids: Some(vec![DEMO_OLD_VERSION_ID.into(), DEMO_LATEST_VERSION_ID.into()]),
        ..NewTemplate::default()
    })?;
    store.create_template(NewTemplate {
        id: Some(DEMO_LEGACY_TEMPLATE_ID.into()),
        name: Some("Demo legacy".into()),
        legacy: true,
        ..NewTemplate::default()
    })?;
    let now = now_ms();
    let count = DEMO_INQUIRIES.len() as u64;
    let mut planted = Vec::new();
    for (n, demo) in DEMO_INQUIRIES.iter().enumerate() {
        // Older first, one hour apart, so newest-first listing is stable.
        let created_at = now.saturating_sub((count - n as u64) * HOUR_MS);
        let inquiry = store.seed_inquiry(SeedInquiry {
            id: Some(demo.id.into()),
            template_id: if demo.legacy { DEMO_LEGACY_TEMPLATE_ID } else { DEMO_TEMPLATE_ID }.into(),
            template_version_id: demo.version.map(str::to_owned),
            status: Some(demo.status.into()),
            reference_id: (!demo.account_only).then(|| demo.reference_id.into()),
            account_id: Some(demo_account_id(demo.id)),
            account_reference_id: Some(demo.reference_id.into()),
            redacted: demo.redacted,
            created_at: Some(created_at),
            ..SeedInquiry::default()
        })?;
        planted.push(DemoInquiry {
            id: inquiry.id,
            reference_id: demo.reference_id.into(),
            reference_id_on_inquiry: !demo.account_only,
            account_id: inquiry.account_id,
            status: demo.status.into(),
            template_version_id: inquiry.template_version_id,
            redacted: demo.redacted,
        });
    }
    let by_id =
        |id: &str| planted.iter().find(|d| d.id == id).cloned().ok_or_else(|| ModelError::NotFound(id.to_owned()));
    Ok(DemoSeed {
        template_id: DEMO_TEMPLATE_ID.into(),
        old_version_id: DEMO_OLD_VERSION_ID.into(),
        latest_version_id: DEMO_LATEST_VERSION_ID.into(),
        legacy_template_id: DEMO_LEGACY_TEMPLATE_ID.into(),
        pending: by_id("inq_DemoPending0001")?,
        outdated: by_id("inq_DemoOutdated0001")?,
        expired: by_id("inq_DemoExpired0001")?,
        completed: by_id("inq_DemoCompleted0001")?,
        created: by_id("inq_DemoCreated0001")?,
        redacted: by_id("inq_DemoRedacted0001")?,
        legacy: by_id("inq_DemoLegacy0001")?,
        account_only: by_id("inq_DemoAccountOnly0001")?,
    })
}
