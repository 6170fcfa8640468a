//! Persona calls per request, for every row of the decision table, against the minimum that row allows.

use integration_tests::error::Result;
use integration_tests::fake_persona::{Endpoint as Op, FakePersona, Inquiry, NewTemplate, SeedInquiry, Template};
use integration_tests::rig::http_api_event;
use integration_tests::runtime_api::FunctionProcess;
use persona_resume::Function;
use serde_json::Value;

use crate::measure::DEADLINE;

/// One function's answer to one row.
pub struct Check {
    pub function: &'static str,
    pub expected: Vec<Op>,
    pub actual: Vec<Op>,
    /// `outcome` of a 200, `code` of a problem.
    pub expected_answer: String,
    pub answer: String,
}

impl Check {
    /// The calls as a multiset: concurrent ones (`/me`'s reference list and account lookup) arrive in either order.
    pub fn pass(&self) -> bool {
        let sorted = |ops: &[Op]| {
            let mut names: Vec<String> = ops.iter().map(|op| format!("{op:?}")).collect();
            names.sort();
            names
        };
        sorted(&self.expected) == sorted(&self.actual) && self.expected_answer == self.answer
    }
}

pub struct Row {
    pub case: &'static str,
    /// Why fewer calls are impossible.
    pub minimum: &'static str,
    pub checks: Vec<Check>,
}

/// The functions, twice: `/inquiries` routes with the defaults, and a deployment with
/// `PERSONA_INQUIRY_TEMPLATE_ID` (for `/me`) and `TEMPLATE_CHECK_UNAVAILABLE=reject`.
pub struct Functions<'a> {
    pub issue_link: &'a FunctionProcess,
    pub resume_session: &'a FunctionProcess,
    pub me_issue_link: &'a FunctionProcess,
    pub me_resume_session: &'a FunctionProcess,
}

fn owner() -> String {
    format!("bench-user-{:08x}", fastrand::u32(..))
}

fn seed(fake: &FakePersona, template: &Template, status: &str, owner: &str, redacted: bool) -> Result<Inquiry> {
    Ok(fake.seed_inquiry(SeedInquiry {
        template_id: template.id.clone(),
        status: Some(status.to_owned()),
        reference_id: Some(owner.to_owned()),
        redacted,
        ..SeedInquiry::default()
    })?)
}

async fn call(
    fake: &FakePersona,
    process: &FunctionProcess,
    endpoint: Function,
    inquiry_id: Option<&str>,
    owner: &str,
) -> Result<(Vec<Op>, String)> {
    fake.clear_requests();
    let outcome = process.invoke(http_api_event(endpoint, inquiry_id, Some(owner), None), DEADLINE).await?;
    let body = outcome.http()?.json()?;
    let member = if body.get("outcome").is_some() { "outcome" } else { "code" };
    let answer = body.get(member).and_then(Value::as_str).unwrap_or("?").to_owned();
    let ops = fake.requests().iter().map(|r| r.endpoint.unwrap_or(Op::Expire)).collect();
    Ok((ops, answer))
}

struct Target<'a> {
    process: &'a FunctionProcess,
    endpoint: Function,
    inquiry_id: Option<String>,
    owner: String,
    expected: Vec<Op>,
    answer: &'static str,
}

async fn row(fake: &FakePersona, case: &'static str, minimum: &'static str, targets: Vec<Target<'_>>) -> Result<Row> {
    let mut checks = Vec::new();
    for t in targets {
        let (actual, answer) = call(fake, t.process, t.endpoint, t.inquiry_id.as_deref(), &t.owner).await?;
        checks.push(Check {
            function: t.endpoint.function_name(),
            expected: t.expected,
            actual,
            expected_answer: t.answer.to_owned(),
            answer,
        });
    }
    Ok(Row { case, minimum, checks })
}

/// `current` is the `/me` deployment's `PERSONA_INQUIRY_TEMPLATE_ID` (see [`current_template`]).
pub async fn decision_table(fake: &FakePersona, f: &Functions<'_>, current: &Template) -> Result<Vec<Row>> {
    use Function::{IssueLink as IL, ResumeSession as RS};
    let current = current.clone();
    let legacy = fake.create_template(NewTemplate { legacy: true, ..NewTemplate::default() })?;
    let to_outdate = fake.create_template(NewTemplate { versions: Some(1), ..NewTemplate::default() })?;

    // Inquiry routes: one fresh inquiry per function and row, owned by the caller.
    let fresh = |template: &Template, status: &str, redacted: bool| -> Result<(String, String)> {
        let who = owner();
        Ok((seed(fake, template, status, &who, redacted)?.id, who))
    };
    let target = |process, endpoint, (id, who): (String, String), expected: &[Op], answer| Target {
        process,
        endpoint,
        inquiry_id: Some(id),
        owner: who,
        expected: expected.to_vec(),
        answer,
    };
    let outdated_il = fresh(&to_outdate, "pending", false)?;
    let outdated_rs = fresh(&to_outdate, "pending", false)?;
    fake.publish_version(&to_outdate.id)?;

    let mut rows = Vec::new();
    for (case, status, minimum, link_ops, answer) in [
        (
            "pending, current",
            "pending",
            "GET (status + template, one call) + the hand-out",
            &[Op::Get, Op::Link][..],
            "resumed",
        ),
        ("created, current", "created", "GET + the hand-out", &[Op::Get, Op::Link][..], "resumed"),
        (
            "expired, current",
            "expired",
            "GET + the hand-out; a link needs a resume first (Persona refuses links for expired inquiries)",
            &[Op::Get, Op::Resume, Op::Link][..],
            "resumed",
        ),
    ] {
        rows.push(
            row(
                fake,
                case,
                minimum,
                vec![
                    target(f.issue_link, IL, fresh(&current, status, false)?, link_ops, answer),
                    target(f.resume_session, RS, fresh(&current, status, false)?, &[Op::Get, Op::Resume], answer),
                ],
            )
            .await?,
        );
    }
    rows.push(
        row(
            fake,
            "outdated → recreate (no successor yet)",
            "GET + successor lookup + create (+ link; the session token comes with the create)",
            vec![
                target(f.issue_link, IL, outdated_il.clone(), &[Op::Get, Op::List, Op::Create, Op::Link], "recreated"),
                target(f.resume_session, RS, outdated_rs.clone(), &[Op::Get, Op::List, Op::Create], "recreated"),
            ],
        )
        .await?,
    );
    // The other function already made the successor: the guard's ledger names it, it is read again (it may be
    // finished since), not duplicated.
    rows.push(
        row(
            fake,
            "outdated → successor exists",
            "GET + the ledger's replacement, read again + the hand-out on it",
            vec![
                target(f.issue_link, IL, outdated_rs, &[Op::Get, Op::Get, Op::Link], "recreated"),
                target(f.resume_session, RS, outdated_il, &[Op::Get, Op::Get, Op::Resume], "recreated"),
            ],
        )
        .await?,
    );
    for (case, status, redacted, code) in [
        ("finished (completed) → 409", "completed", false, "inquiry_not_resumable"),
        ("redacted → 409", "pending", true, "inquiry_redacted"),
    ] {
        rows.push(
            row(
                fake,
                case,
                "the GET that reveals it",
                vec![
                    target(f.issue_link, IL, fresh(&current, status, redacted)?, &[Op::Get], code),
                    target(f.resume_session, RS, fresh(&current, status, redacted)?, &[Op::Get], code),
                ],
            )
            .await?,
        );
    }
    rows.push(
        row(
            fake,
            "unavailable (legacy template), =resume",
            "GET + the hand-out",
            vec![
                target(f.issue_link, IL, fresh(&legacy, "pending", false)?, &[Op::Get, Op::Link], "resumed"),
                target(f.resume_session, RS, fresh(&legacy, "pending", false)?, &[Op::Get, Op::Resume], "resumed"),
            ],
        )
        .await?,
    );
    rows.push(
        row(
            fake,
            "unavailable (legacy template), =reject → 409",
            "the GET that reveals it",
            vec![
                target(
                    f.me_issue_link,
                    IL,
                    fresh(&legacy, "pending", false)?,
                    &[Op::Get],
                    "template_check_unavailable",
                ),
                target(
                    f.me_resume_session,
                    RS,
                    fresh(&legacy, "pending", false)?,
                    &[Op::Get],
                    "template_check_unavailable",
                ),
            ],
        )
        .await?,
    );
    // `/me`: the newest inquiry is found by a list (no include), then read with the template.
    let me = |process, endpoint, who: String, expected: &[Op], answer| Target {
        process,
        endpoint,
        inquiry_id: None,
        owner: who,
        expected: expected.to_vec(),
        answer,
    };
    let with_pending = |template: &Template| -> Result<String> {
        let who = owner();
        seed(fake, template, "pending", &who, false)?;
        Ok(who)
    };
    rows.push(
        row(
            fake,
            "/me, pending, current",
            "both sources (reference list and account lookup together, then the account's list) + GET (template) + \
             the hand-out",
            vec![
                me(
                    f.me_issue_link,
                    IL,
                    with_pending(&current)?,
                    &[Op::List, Op::AccountList, Op::List, Op::Get, Op::Link],
                    "resumed",
                ),
                me(
                    f.me_resume_session,
                    RS,
                    with_pending(&current)?,
                    &[Op::List, Op::AccountList, Op::List, Op::Get, Op::Resume],
                    "resumed",
                ),
            ],
        )
        .await?,
    );
    rows.push(
        row(
            fake,
            "/me, no inquiry → created",
            "list + account lookup (a user may be known through an account only) + create (+ link; the session token \
             comes with the create)",
            vec![
                me(f.me_issue_link, IL, owner(), &[Op::List, Op::AccountList, Op::Create, Op::Link], "created"),
                me(f.me_resume_session, RS, owner(), &[Op::List, Op::AccountList, Op::Create], "created"),
            ],
        )
        .await?,
    );
    // Account-era integrations: the user's reference id lives on the account only.
    let account_only = |template: &Template, who: &str| -> Result<Inquiry> {
        Ok(fake.seed_inquiry(SeedInquiry {
            template_id: template.id.clone(),
            status: Some("pending".to_owned()),
            reference_id: None,
            account_reference_id: Some(who.to_owned()),
            ..SeedInquiry::default()
        })?)
    };
    let fresh_account_only = |template: &Template| -> Result<(String, String)> {
        let who = owner();
        Ok((account_only(template, &who)?.id, who))
    };
    rows.push(
        row(
            fake,
            "account-only inquiry, pending, current",
            "GET (status + template + the account's reference id, one call) + the hand-out",
            vec![
                target(f.issue_link, IL, fresh_account_only(&current)?, &[Op::Get, Op::Link], "resumed"),
                target(f.resume_session, RS, fresh_account_only(&current)?, &[Op::Get, Op::Resume], "resumed"),
            ],
        )
        .await?,
    );
    let account_only_user = |template: &Template| -> Result<String> {
        let who = owner();
        account_only(template, &who)?;
        Ok(who)
    };
    rows.push(
        row(
            fake,
            "/me, account-only user, pending, current",
            "the cheap list finds none of theirs: their accounts + their inquiries (two calls more) + GET + the hand-out",
            vec![
                me(
                    f.me_issue_link,
                    IL,
                    account_only_user(&current)?,
                    &[Op::List, Op::AccountList, Op::List, Op::Get, Op::Link],
                    "resumed",
                ),
                me(
                    f.me_resume_session,
                    RS,
                    account_only_user(&current)?,
                    &[Op::List, Op::AccountList, Op::List, Op::Get, Op::Resume],
                    "resumed",
                ),
            ],
        )
        .await?,
    );
    Ok(rows)
}

/// A template with one published version: the inquiries seeded on it are current. The `/me` deployment is
/// configured with it before [`decision_table`] runs.
pub fn current_template(fake: &FakePersona) -> Result<Template> {
    Ok(fake.create_template(NewTemplate { versions: Some(1), ..NewTemplate::default() })?)
}
