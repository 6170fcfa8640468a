//! A Persona response body, read as every document the client parses, then through the pure decision core: the
//! template check, the decision table (both policies), the link steps, ownership and the successor pick, and the
//! success answer built from it. Nothing may panic; malformed bodies must be plain errors.
#![no_main]

use libfuzzer_sys::fuzz_target;
use persona_resume::ops::config::UnavailablePolicy;
use persona_resume::lambda::response::success_response;
use persona_resume::persona::model::{
    CreatedDocument, ExpiredDocument, Inquiry, InquiryDocument, InquiryList, OneTimeLinkDocument, ResumeDocument,
};
use persona_resume::domain::policy::{self, TemplateCheck};
use persona_resume::app::service::{Access, Outcome, Resolution};

fn decide_all(inquiry: &Inquiry, latest: Option<&str>) {
    let check = policy::check_template(inquiry.template_version_id(), latest);
    if check == TemplateCheck::Current {
        assert_eq!(inquiry.template_version_id(), latest);
    }
    for when_unavailable in [UnavailablePolicy::Resume, UnavailablePolicy::Reject] {
        if let Ok(decision) = policy::decide(inquiry.status(), inquiry.is_redacted(), check, when_unavailable) {
            assert!(!inquiry.is_redacted() && inquiry.status().is_resumable(), "{decision:?} for a refused inquiry");
        }
    }
    let _ = policy::link_steps(inquiry.status());
    let _ = inquiry.account_id();
    let _ = inquiry.inquiry_template_id();
    let _ = inquiry.is_legacy();
    if let Some(reference) = inquiry.reference_id() {
        assert!(policy::is_owned_by(Some(reference), reference));
    }
}

fn render(inquiry_id: &str, access: Access) {
    let base = url::Url::parse("https://inquiry.withpersona.com/verify?x=1").expect("static URL");
    let resolution = Resolution {
        inquiry_id: inquiry_id.to_owned(),
        outcome: Outcome::Resumed,
        previous_inquiry_id: None,
        template_check: TemplateCheck::Current,
        access,
        superseded_expired: None,
    };
    let response = success_response(&resolution, &base);
    assert_eq!(response.status().as_u16(), 200);
    let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).expect("the answer is JSON");
    assert_eq!(body["inquiry_id"].as_str(), Some(inquiry_id));
}

fuzz_target!(|data: &[u8]| {
    if let Ok(document) = serde_json::from_slice::<InquiryDocument>(data) {
        let latest = document.latest_published_version_id();
        decide_all(&document.data, latest);
    }
    if let Ok(list) = serde_json::from_slice::<InquiryList>(data) {
        for inquiry in &list.data {
            decide_all(inquiry, None);
        }
        if let Some(first) = list.data.first() {
            if let Some(version) = first.template_version_id() {
                if let Some(successor) = policy::pick_successor(&list.data, "inq_outdated", version) {
                    assert!(successor.status().is_resumable() && !successor.is_redacted());
                }
            }
        }
    }
    if let Ok(resumed) = serde_json::from_slice::<ResumeDocument>(data) {
        render(&resumed.data.id, Access::Session { token: Some(resumed.meta.session_token) });
    }
    if let Ok(linked) = serde_json::from_slice::<OneTimeLinkDocument>(data) {
        let access = Access::OneTimeLink { link: linked.meta.one_time_link, short: linked.meta.one_time_link_short };
        render(&linked.data.id, access);
    }
    if let Ok(created) = serde_json::from_slice::<CreatedDocument>(data) {
        decide_all(&created.data, None);
        render(&created.data.id, Access::Session { token: created.meta.session_token });
    }
    let _ = serde_json::from_slice::<ExpiredDocument>(data);
});
