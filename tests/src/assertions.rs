//! What every answer of the functions must look like, asserted one way for every suite: a success (`assert_ok`),
//! a problem document (`assert_problem`, whose `type` uses the library's own prefix), the two success bodies, and
//! the invariants of any answer at all to a hostile request (`assert_documented`).

use persona_resume::lambda::problem::PROBLEM_TYPE_PREFIX;

use crate::probe::Invoked;
use crate::rig::Answer;

/// A 200 with our JSON media type, never cached.
pub fn assert_success(answer: &Answer) {
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.header("content-type"), Some("application/json"), "{}", answer.body);
    assert_eq!(answer.header("cache-control"), Some("no-store"));
}

/// A 200 with this outcome and template check.
pub fn assert_ok(answer: &Answer, outcome: &str, template_check: &str) {
    assert_success(answer);
    assert_eq!(answer.str("outcome"), Some(outcome), "{}", answer.body);
    assert_eq!(answer.str("template_check"), Some(template_check), "{}", answer.body);
}

/// A problem document (RFC 9457) with this status and code.
pub fn assert_problem(answer: &Answer, status: u16, code: &str) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert_eq!(answer.header("content-type"), Some("application/problem+json"), "{}", answer.body);
    assert_eq!(answer.str("code"), Some(code), "{}", answer.body);
    assert_eq!(answer.str("type"), Some(format!("{PROBLEM_TYPE_PREFIX}{code}").as_str()));
    assert_eq!(answer.body["status"], status);
}

/// The invocation's own log line (binaries) agrees with the answer's status.
pub fn assert_logged(invoked: &Invoked) {
    let log = invoked.log.as_ref().expect("an invocation log line");
    assert_eq!(log["status"], invoked.answer.status, "{log}");
}

/// The body of a one-time link answer for `inquiry_id`: exactly the documented members.
pub fn assert_link_answer(answer: &Answer, inquiry_id: &str) {
    assert_eq!(answer.str("inquiry_id"), Some(inquiry_id));
    assert!(answer.str("one_time_link").is_some_and(|l| l.starts_with("http")), "{}", answer.body);
    let keys: Vec<&str> = answer.body.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["inquiry_id", "one_time_link", "one_time_link_short", "outcome", "previous_inquiry_id", "template_check"]
    );
}

/// The body of a session answer for `inquiry_id`: the hosted flow URL carries the id, and the token iff one was
/// handed out (`with_token`).
pub fn assert_session_answer(answer: &Answer, inquiry_id: &str, with_token: bool) {
    assert_eq!(answer.str("inquiry_id"), Some(inquiry_id));
    let url = url::Url::parse(answer.str("hosted_flow_url").unwrap()).unwrap();
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert!(query.contains(&("inquiry-id".into(), inquiry_id.into())), "{url}");
    match answer.str("session_token") {
        Some(token) => {
            assert!(with_token, "{}", answer.body);
            assert!(query.contains(&("session-token".into(), token.into())), "{url}");
        }
        None => {
            assert!(!with_token, "{}", answer.body);
            assert!(answer.body["session_token"].is_null());
            assert!(!query.iter().any(|(k, _)| k == "session-token"), "{url}");
        }
    }
}

/// Any answer to any request, however hostile: never a 5xx, never cached, a problem document for anything but a
/// 200, and nothing of the request echoed back.
pub fn assert_documented(answer: &Answer, name: &str) {
    assert!(answer.status < 500, "{name}: {} {}", answer.status, answer.body);
    assert_eq!(answer.header("cache-control"), Some("no-store"), "{name}");
    if answer.status != 200 {
        assert_eq!(answer.header("content-type"), Some("application/problem+json"), "{name}");
        let code = answer.body["code"].as_str().unwrap_or_default();
        assert_eq!(answer.body["type"], format!("{PROBLEM_TYPE_PREFIX}{code}"), "{name}");
        assert_eq!(answer.body["status"], answer.status, "{name}");
        if answer.status == 405 {
            assert_eq!(answer.header("allow"), Some("POST"), "{name}");
        }
    }
    // Never echo a hostile id or header back.
    let text = answer.body.to_string();
    for echo in ["..", "\\u0000", "script", "x-injected", "hhhhhhhh", "evil"] {
        assert!(!text.contains(echo), "{name}: echoed {echo:?}: {text}");
    }
}

/// The answer with its `inquiry_id` member removed (to compare a refusal for another user's inquiry with the one
/// for a missing inquiry: only the id the caller sent may differ).
pub fn without_inquiry_id(answer: &Answer) -> serde_json::Value {
    let mut body = answer.body.clone();
    if let Some(object) = body.as_object_mut() {
        object.remove("inquiry_id");
    }
    body
}

/// An idempotency key of design.md's create sequences: `prefix` followed by `fingerprints` short digests (`:`
/// separated lowercase hex, as the body and owner fingerprints are), and no sequence suffix.
pub fn assert_fingerprinted_key(key: &str, prefix: &str, fingerprints: usize) {
    let rest = key.strip_prefix(prefix).and_then(|r| r.strip_prefix(':'));
    let parts: Vec<&str> = rest.map(|r| r.split(':').collect()).unwrap_or_default();
    let digest =
        |p: &&str| (8..=64).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    assert!(
        parts.len() == fingerprints && parts.iter().all(digest),
        "{key:?} is not {prefix}:<{fingerprints} fingerprint(s)>"
    );
}
