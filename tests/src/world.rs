//! The one fixture of the suites: a world of a template (one published version), a user, and the inquiries
//! planted for them — plus what the fake saw of them afterwards. Each test builds its own world, so tests never
//! share data even on a shared fake.

use crate::fake_persona::server::route;
use crate::fake_persona::{
    BrowserInquiry, Endpoint as PersonaOp, Inquiry, NewTemplate, RequestRecord, SeedAccount, SeedInquiry, Template,
};
use crate::rig::{http_api_event, Answer, Deployment, Function, Rig};

/// A fresh user id: `user-…` with 8 random hex digits.
pub fn new_user(prefix: &str) -> String {
    format!("{prefix}-{:08x}", fastrand::u32(..))
}

/// `(status, idempotency key, replayed)` of one request the fake saw.
pub type Sent = (Option<u16>, Option<String>, bool);

pub struct World<'r> {
    pub rig: &'r Rig,
    pub template: Template,
    pub user: String,
}

impl<'r> World<'r> {
    /// A new template with one published version, and a new user.
    pub fn new(rig: &'r Rig) -> World<'r> {
        World::with_user(rig, &new_user("user"))
    }

    /// As [`World::new`], for a user of this name.
    pub fn with_user(rig: &'r Rig, user: &str) -> World<'r> {
        let template = rig.fake.create_template(NewTemplate { versions: Some(1), ..NewTemplate::default() }).unwrap();
        World::on(rig, template, user)
    }

    /// A world on an existing template.
    pub fn on(rig: &'r Rig, template: Template, user: &str) -> World<'r> {
        World { rig, template, user: user.to_owned() }
    }

    /// An inquiry of the user's, pinned to the template's latest version.
    pub fn seed(&self, status: &str) -> Inquiry {
        self.seed_for(status, Some(&self.user))
    }

    /// An inquiry with this own `reference-id` (`None`: nobody's).
    pub fn seed_for(&self, status: &str, owner: Option<&str>) -> Inquiry {
        self.seed_with(|seed| {
            seed.status = Some(status.to_owned());
            seed.reference_id = owner.map(str::to_owned);
        })
    }

    /// An inquiry on the world's template, as `plant` describes it.
    pub fn seed_with(&self, plant: impl FnOnce(&mut SeedInquiry)) -> Inquiry {
        let mut seed = SeedInquiry { template_id: self.template.id.clone(), ..SeedInquiry::default() };
        plant(&mut seed);
        self.rig.fake.seed_inquiry(seed).unwrap()
    }

    /// A new Persona account of `owner` (its `reference-id`; personal fields as in Persona's example); its id.
    pub fn account_of(&self, owner: &str) -> String {
        let seed = SeedAccount { reference_id: Some(owner.to_owned()), ..SeedAccount::default() };
        self.rig.fake.seed_account(seed).unwrap().id
    }

    /// An inquiry on an account whose own `reference-id` is null: owned through the account only.
    pub fn seed_on_account(&self, status: &str, account_id: &str) -> Inquiry {
        self.seed_with(|seed| {
            seed.status = Some(status.to_owned());
            seed.reference_id = None;
            seed.account_id = Some(account_id.to_owned());
        })
    }

    /// Publishes a new version of the template (every inquiry planted so far is outdated); its id.
    pub fn publish_version(&self) -> String {
        self.rig.fake.publish_version(&self.template.id).unwrap()
    }

    /// Explicit deploy: the template's creates get `version` from now on (publishing doesn't move it), while the
    /// latest published version stays what the template names.
    pub fn deploy_version(&self, version: &str) {
        self.rig.fake.deploy_version(&self.template.id, Some(version)).unwrap();
    }

    /// An inquiry of the user's carrying these tags (ours carry `TRUSTED_INQUIRY_TAG`).
    pub fn seed_tagged(&self, status: &str, tags: &[&str]) -> Inquiry {
        self.seed_with(|seed| {
            seed.status = Some(status.to_owned());
            seed.reference_id = Some(self.user.clone());
            seed.tags = tags.iter().map(|t| (*t).to_owned()).collect();
        })
    }

    /// An inquiry someone created for the user from a browser flow (knowing only the user's id): on the user's
    /// account, no tag.
    pub fn plant_from_browser(&self, status: &str) -> Inquiry {
        let planted = BrowserInquiry {
            template_id: self.template.id.clone(),
            reference_id: self.user.clone(),
            status: Some(status.to_owned()),
            created_at: None,
        };
        self.rig.fake.plant_browser_inquiry(planted).unwrap()
    }

    /// Every inquiry on the world's template.
    pub fn inquiries(&self) -> Vec<Inquiry> {
        let template = Some(self.template.id.as_str());
        self.rig.fake.inquiries().into_iter().filter(|i| i.template_id.as_deref() == template).collect()
    }

    /// Every inquiry whose own `reference-id` is `owner`.
    pub fn inquiries_of(&self, owner: &str) -> Vec<Inquiry> {
        self.rig.fake.inquiries().into_iter().filter(|i| i.reference_id.as_deref() == Some(owner)).collect()
    }

    /// The calls the fake saw for one inquiry, as `(operation, status)`.
    pub fn calls_for(&self, inquiry_id: &str) -> Vec<(PersonaOp, Option<u16>)> {
        self.rig
            .fake
            .requests()
            .into_iter()
            .filter(|r| r.path.contains(inquiry_id))
            .filter_map(|r| Some((r.endpoint?, r.status)))
            .collect()
    }

    /// The fake's record of one operation on one inquiry. Requests refused by the rate limit are recorded before
    /// routing, so the operation is read from the method and path.
    pub fn sent(&self, op: PersonaOp, inquiry_id: &str) -> Vec<Sent> {
        self.sent_where(|r| operation(r) == Some(op) && r.path.contains(inquiry_id))
    }

    /// The create requests whose body names `owner`.
    pub fn creates_for(&self, owner: &str) -> Vec<Sent> {
        self.sent_where(|r| {
            operation(r) == Some(PersonaOp::Create) && r.body.as_deref().is_some_and(|b| b.contains(owner))
        })
    }

    fn sent_where(&self, keep: impl Fn(&RequestRecord) -> bool) -> Vec<Sent> {
        self.rig
            .fake
            .requests()
            .into_iter()
            .filter(|r| keep(r))
            .map(|r| (r.status, r.idempotency_key, r.replayed))
            .collect()
    }

    /// The user asks for a one-time link to an inquiry.
    pub async fn link(&self, functions: &Deployment, inquiry_id: &str) -> Answer {
        link(functions, inquiry_id, &self.user).await
    }

    /// The user asks for a session on an inquiry.
    pub async fn session(&self, functions: &Deployment, inquiry_id: &str) -> Answer {
        session(functions, inquiry_id, &self.user).await
    }
}

/// The operation a request was for, from its method and path.
pub fn operation(record: &RequestRecord) -> Option<PersonaOp> {
    let method = http::Method::from_bytes(record.method.as_bytes()).ok()?;
    route(&method, &record.path).map(|(op, _)| op)
}

/// `owner` asks for a one-time link to an inquiry (HTTP API, JWT `sub`).
pub async fn link(functions: &Deployment, inquiry_id: &str, owner: &str) -> Answer {
    functions.call(Function::IssueLink, http_api_event(Function::IssueLink, Some(inquiry_id), Some(owner), None)).await
}

/// `owner` asks for a session on an inquiry (HTTP API, JWT `sub`).
pub async fn session(functions: &Deployment, inquiry_id: &str, owner: &str) -> Answer {
    functions
        .call(Function::ResumeSession, http_api_event(Function::ResumeSession, Some(inquiry_id), Some(owner), None))
        .await
}

/// `owner` calls `/me/…` of a function (no inquiry id).
pub async fn me(functions: &Deployment, function: Function, owner: &str) -> Answer {
    functions.call(function, http_api_event(function, None, Some(owner), None)).await
}
