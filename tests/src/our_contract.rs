//! Our own API's contract, `openapi.yaml` at the repository root, as a check on real answers.
//!
//! [`check`] validates an [`Answer`] against the response documented for (route, status): the status must be
//! documented, the `Content-Type` must be one of the response's media types, the body must match that media
//! type's schema, and every documented header must be present when required and match its schema when present.
//!
//! The rig records every answer of a test's deployments in the test's own [`Recorder`] (from
//! `Deployment::try_call`), and `Rig::finish` fails the test on a violation, so the file cannot drift from what the
//! functions really answer.
//!
//! Schemas are validated with [`crate::openapi::SpecSchemas`], the rig's one OpenAPI validator.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use persona_resume::Function;
use serde_json::Value;

use crate::openapi::{escape_pointer, SpecSchemas};
use crate::rig::Answer;

/// `openapi.yaml` at the repository root.
pub fn spec_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi.yaml")
}

/// Checks one answer against the process-wide contract loaded from [`spec_path`]. `route_template` is the path
/// as `openapi.yaml` writes it (`/inquiries/{inquiry_id}/session`); the method is POST.
pub fn check(route_template: &str, status: u16, answer: &Answer) -> Result<(), Vec<String>> {
    OurContract::shared().map_err(|e| vec![e])?.check(route_template, status, answer)
}

/// The route template (as `openapi.yaml` writes it) an API Gateway event is for: `/me/…` when its path says so
/// and it carries no `inquiry_id` path parameter (the handler's own reading), else `/inquiries/{inquiry_id}/…`.
pub fn route_template(endpoint: Function, event: &Value) -> String {
    let action = match endpoint {
        Function::IssueLink => "one-time-link",
        Function::ResumeSession => "session",
    };
    let has_inquiry_id = event.pointer("/pathParameters/inquiry_id").is_some_and(|v| !v.is_null());
    let path = ["/rawPath", "/path", "/requestContext/http/path"]
        .iter()
        .find_map(|p| event.pointer(p).and_then(Value::as_str))
        .unwrap_or_default();
    let mut segments = path.trim_end_matches('/').rsplit('/');
    let _action = segments.next();
    if !has_inquiry_id && segments.next() == Some("me") {
        format!("/me/{action}")
    } else {
        format!("/inquiries/{{inquiry_id}}/{action}")
    }
}

/// An answer that broke the contract.
#[derive(Clone, Debug)]
pub struct Violation {
    pub route: String,
    pub status: u16,
    pub errors: Vec<String>,
    pub answer: Answer,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "POST {} answered {}:", self.route, self.status)?;
        for error in &self.errors {
            writeln!(f, "  - {error}")?;
        }
        write!(f, "  headers: {:?}\n  body: {}", self.answer.headers, self.answer.body)
    }
}

/// Collects the answers that break the contract (and counts all it saw).
#[derive(Debug, Default)]
pub struct Recorder {
    checked: Mutex<usize>,
    violations: Mutex<Vec<Violation>>,
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder { checked: Mutex::new(0), violations: Mutex::new(Vec::new()) }
    }

    /// Checks `answer` (for `route_template`, at its own status) against `contract`; keeps a violation.
    pub fn record_with(&self, contract: &OurContract, route_template: &str, answer: &Answer) {
        *self.checked.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        if let Err(errors) = contract.check(route_template, answer.status, answer) {
            self.push(route_template, answer, errors);
        }
    }

    /// As [`Recorder::record_with`], with the contract from [`spec_path`] (a spec that can't be loaded is a
    /// violation too).
    pub fn record(&self, route_template: &str, answer: &Answer) {
        match OurContract::shared() {
            Ok(contract) => self.record_with(&contract, route_template, answer),
            Err(e) => {
                *self.checked.lock().unwrap_or_else(|p| p.into_inner()) += 1;
                self.push(route_template, answer, vec![e]);
            }
        }
    }

    fn push(&self, route_template: &str, answer: &Answer, errors: Vec<String>) {
        let violation =
            Violation { route: route_template.to_owned(), status: answer.status, errors, answer: answer.clone() };
        self.violations.lock().unwrap_or_else(|p| p.into_inner()).push(violation);
    }

    pub fn checked(&self) -> usize {
        *self.checked.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn violations(&self) -> Vec<Violation> {
        self.violations.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// `Err` lists every violation seen (and how many answers were checked).
    pub fn verdict(&self) -> Result<usize, String> {
        let violations = self.violations();
        if violations.is_empty() {
            return Ok(self.checked());
        }
        let listed: Vec<String> = violations.iter().map(ToString::to_string).collect();
        Err(format!("{} of {} answers break openapi.yaml:\n{}", violations.len(), self.checked(), listed.join("\n")))
    }
}

/// `openapi.yaml`, parsed, with compiled validators cached by JSON pointer ([`SpecSchemas`]).
#[derive(Debug)]
pub struct OurContract {
    schemas: SpecSchemas,
}

impl OurContract {
    pub fn load(path: &Path) -> Result<OurContract, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        OurContract::from_yaml(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn from_yaml(text: &str) -> Result<OurContract, String> {
        let spec: Value = serde_yaml_ng::from_str(text).map_err(|e| format!("not YAML: {e}"))?;
        Ok(OurContract { schemas: SpecSchemas::new(spec)? })
    }

    /// The process-wide contract from [`spec_path`], loaded on first use.
    pub fn shared() -> Result<Arc<OurContract>, String> {
        static SHARED: OnceLock<Result<Arc<OurContract>, String>> = OnceLock::new();
        SHARED.get_or_init(|| OurContract::load(&spec_path()).map(Arc::new)).clone()
    }

    pub fn spec(&self) -> &Value {
        self.schemas.spec()
    }

    fn resolve(&self, pointer: String) -> Option<(String, &Value)> {
        self.schemas.resolve(pointer)
    }

    /// Validates `instance` against the schema at `schema_pointer`; errors are prefixed with `what`.
    pub fn validate(&self, schema_pointer: &str, instance: &Value, what: &str) -> Vec<String> {
        self.schemas.validate(schema_pointer, instance).into_iter().map(|e| format!("{what} {e}")).collect()
    }

    /// The JSON pointer of the response documented for POST `route_template` and `status` (after `$ref`s).
    pub fn response_pointer(&self, route_template: &str, status: u16) -> Result<String, String> {
        let operation = format!("/paths/{}/post", escape_pointer(route_template));
        if self.spec().pointer(&operation).is_none() {
            return Err(format!("openapi.yaml documents no POST {route_template}"));
        }
        self.resolve(format!("{operation}/responses/{status}"))
            .map(|(pointer, _)| pointer)
            .ok_or_else(|| format!("status {status} is not documented for POST {route_template}"))
    }

    /// Checks an answer against the response documented for POST `route_template` and `status`.
    pub fn check(&self, route_template: &str, status: u16, answer: &Answer) -> Result<(), Vec<String>> {
        let response_pointer = self.response_pointer(route_template, status).map_err(|e| vec![e])?;
        let response = self.spec().pointer(&response_pointer).expect("resolved above");
        let mut errors = Vec::new();
        if answer.status != status {
            errors.push(format!("checked as status {status}, but the answer's status is {}", answer.status));
        }

        // Headers: required ones present, every present one matching its schema.
        if let Some(headers) = response.get("headers").and_then(Value::as_object) {
            for name in headers.keys() {
                let Some((header_pointer, header)) =
                    self.resolve(format!("{response_pointer}/headers/{}", escape_pointer(name)))
                else {
                    errors.push(format!("openapi.yaml: header {name} of {response_pointer} does not resolve"));
                    continue;
                };
                let required = header.get("required").and_then(Value::as_bool).unwrap_or(false);
                match answer.header(name) {
                    None if required => errors.push(format!("header {name} is required but absent")),
                    None => {}
                    Some(text) => {
                        let schema_pointer = format!("{header_pointer}/schema");
                        let integer =
                            self.spec().pointer(&format!("{schema_pointer}/type")) == Some(&Value::from("integer"));
                        let instance = if integer {
                            text.trim().parse::<i64>().map_or_else(|_| Value::from(text), Value::from)
                        } else {
                            Value::from(text)
                        };
                        errors.extend(self.validate(&schema_pointer, &instance, &format!("header {name}")));
                    }
                }
            }
        }

        // Content: a documented media type, and a body matching its schema.
        if let Some(content) = response.get("content").and_then(Value::as_object) {
            let content_type = answer.header("content-type").unwrap_or_default();
            let media_type = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
            if content.contains_key(&media_type) {
                let schema_pointer = format!("{response_pointer}/content/{}/schema", escape_pointer(&media_type));
                errors.extend(self.validate(&schema_pointer, &answer.body, "body"));
            } else {
                let documented: Vec<&str> = content.keys().map(String::as_str).collect();
                errors.push(format!("Content-Type {content_type:?} is not one of {documented:?}"));
            }
        }

        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    const LINK: &str = "/inquiries/{inquiry_id}/one-time-link";
    const SESSION: &str = "/inquiries/{inquiry_id}/session";

    fn contract() -> Arc<OurContract> {
        OurContract::shared().expect("openapi.yaml loads")
    }

    fn answer(status: u16, headers: &[(&str, &str)], body: Value) -> Answer {
        let headers: BTreeMap<String, String> =
            headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), (*v).to_owned())).collect();
        Answer { status, headers, body }
    }

    fn link_ok() -> Answer {
        answer(
            200,
            &[("content-type", "application/json"), ("cache-control", "no-store")],
            json!({"inquiry_id": "inq_abc", "one_time_link": "https://withpersona.com/verify?code=otl_1",
                   "one_time_link_short": null, "outcome": "resumed", "previous_inquiry_id": null,
                   "template_check": "current"}),
        )
    }

    fn problem(status: u16, code: &str, title: &str, extra: Value) -> Answer {
        let mut body = json!({"type": format!("urn:persona-resume:problem:{code}"), "title": title,
                              "status": status, "detail": "d", "code": code});
        if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
            body.extend(extra);
        }
        answer(status, &[("content-type", "application/problem+json"), ("cache-control", "no-store")], body)
    }

    fn fails(route: &str, answer: &Answer, needle: &str) {
        let errors = contract().check(route, answer.status, answer).expect_err("a planted bad answer must fail");
        assert!(errors.iter().any(|e| e.contains(needle)), "expected an error mentioning {needle:?}: {errors:#?}");
    }

    #[test]
    fn good_answers_pass() {
        let c = contract();
        c.check(LINK, 200, &link_ok()).unwrap();
        let session = answer(
            200,
            &[("content-type", "application/json; charset=utf-8"), ("cache-control", "no-store")],
            json!({"inquiry_id": "inq_new", "session_token": "tok",
                   "hosted_flow_url": "https://inquiry.withpersona.com/verify?inquiry-id=inq_new&session-token=tok",
                   "outcome": "recreated", "previous_inquiry_id": "inq_old", "template_check": "outdated"}),
        );
        c.check(SESSION, 200, &session).unwrap();
        c.check("/me/session", 200, &session).unwrap();
        // A current inquiry whose sessions Persona refused as used up (`SESSION_LIMIT_ERROR`) is replaced too.
        let mut session_cap = session.clone();
        session_cap.body["template_check"] = json!("current");
        c.check(SESSION, 200, &session_cap).unwrap();
        c.check(LINK, 400, &problem(400, "invalid_inquiry_id", "Invalid inquiry id", json!({}))).unwrap();
        c.check(
            SESSION,
            409,
            &problem(
                409,
                "inquiry_not_resumable",
                "Inquiry not resumable",
                json!({"inquiry_id": "inq_a", "inquiry_status": "approved"}),
            ),
        )
        .unwrap();
        let mut limited =
            problem(429, "persona_rate_limited", "Persona rate limit reached", json!({"persona_request_id": "req_1"}));
        limited.headers.insert("retry-after".into(), "12".into());
        c.check(LINK, 429, &limited).unwrap();
        let mut not_allowed = problem(405, "method_not_allowed", "Method not allowed", json!({}));
        not_allowed.headers.insert("allow".into(), "POST".into());
        c.check(SESSION, 405, &not_allowed).unwrap();
        // API Gateway's own rejection.
        c.check(LINK, 401, &answer(401, &[("content-type", "application/json")], json!({"message": "Unauthorized"})))
            .unwrap();
    }

    #[test]
    fn planted_bad_answers_fail() {
        let mut missing_member = link_ok();
        missing_member.body.as_object_mut().unwrap().remove("one_time_link_short");
        fails(LINK, &missing_member, "one_time_link_short");

        let mut extra_member = link_ok();
        extra_member.body["session_token"] = json!("tok");
        fails(LINK, &extra_member, "session_token");

        let mut bad_enum = link_ok();
        bad_enum.body["outcome"] = json!("reused");
        fails(LINK, &bad_enum, "/outcome");

        let mut recreated_without_previous = link_ok();
        recreated_without_previous.body["outcome"] = json!("recreated");
        recreated_without_previous.body["template_check"] = json!("outdated");
        fails(LINK, &recreated_without_previous, "body /");

        let mut resumed_but_outdated = link_ok();
        resumed_but_outdated.body["template_check"] = json!("outdated");
        fails(LINK, &resumed_but_outdated, "body /");

        let mut cacheable = link_ok();
        cacheable.headers.remove("cache-control");
        fails(LINK, &cacheable, "Cache-Control is required");
        cacheable.headers.insert("cache-control".into(), "max-age=60".into());
        fails(LINK, &cacheable, "header Cache-Control");

        let mut not_a_link = link_ok();
        not_a_link.body["one_time_link"] = json!("not a url");
        fails(LINK, &not_a_link, "/one_time_link");

        // The session answer on the link route.
        fails(
            LINK,
            &answer(
                200,
                &[("content-type", "application/json"), ("cache-control", "no-store")],
                json!({"inquiry_id": "inq_1", "session_token": null, "hosted_flow_url": "https://h/v?inquiry-id=inq_1",
                       "outcome": "resumed", "previous_inquiry_id": null, "template_check": "current"}),
            ),
            "body",
        );

        // Problems: the wrong media type, a wrong code for the status, a mismatched title, an echoed bad id.
        let mut as_json = problem(404, "inquiry_not_found", "Inquiry not found", json!({}));
        as_json.headers.insert("content-type".into(), "application/json".into());
        fails(SESSION, &as_json, "Content-Type");
        fails(SESSION, &problem(409, "inquiry_not_found", "Inquiry not found", json!({})), "body");
        fails(SESSION, &problem(404, "inquiry_not_found", "Not here", json!({})), "/title");
        fails(LINK, &problem(400, "invalid_inquiry_id", "Invalid inquiry id", json!({"inquiry_id": "inq_x"})), "body");
        fails(SESSION, &problem(409, "inquiry_not_resumable", "Inquiry not resumable", json!({})), "body");
        fails(
            SESSION,
            &problem(404, "inquiry_not_found", "Inquiry not found", json!({"stack": "at main.rs:1"})),
            "stack",
        );

        // Headers of errors.
        fails(LINK, &problem(405, "method_not_allowed", "Method not allowed", json!({})), "Allow is required");
        let mut retry_text = problem(429, "persona_rate_limited", "Persona rate limit reached", json!({}));
        retry_text.headers.insert("retry-after".into(), "soon".into());
        fails(LINK, &retry_text, "header Retry-After");

        // Undocumented statuses and routes.
        fails(LINK, &problem(500, "persona_error", "Persona error", json!({})), "not documented");
        fails("/inquiries/{inquiry_id}/resume", &link_ok(), "documents no POST");
        assert!(contract().check("/me/one-time-link", 403, &answer(403, &[], json!({}))).is_err(), "/me has no SigV4");
    }

    #[test]
    fn the_recorder_keeps_violations() {
        let recorder = Recorder::new();
        let c = contract();
        recorder.record_with(&c, LINK, &link_ok());
        assert_eq!(recorder.verdict(), Ok(1));
        let mut planted = link_ok();
        planted.body["template_check"] = json!("maybe");
        recorder.record_with(&c, LINK, &planted);
        let report = recorder.verdict().expect_err("the planted answer is reported");
        assert!(report.contains("1 of 2 answers") && report.contains("template_check"), "{report}");
        assert_eq!(recorder.violations().len(), 1);
    }

    #[test]
    fn route_templates_from_events() {
        use crate::rig::{http_api_event, rest_api_event};
        use Function::{IssueLink, ResumeSession};
        assert_eq!(route_template(IssueLink, &http_api_event(IssueLink, Some("inq_a"), None, None)), LINK);
        assert_eq!(route_template(ResumeSession, &http_api_event(ResumeSession, Some("x/y"), None, None)), SESSION);
        assert_eq!(route_template(ResumeSession, &http_api_event(ResumeSession, None, Some("u"), None)), "/me/session");
        assert_eq!(route_template(IssueLink, &rest_api_event(IssueLink, None, None, None)), "/me/one-time-link");
        assert_eq!(route_template(IssueLink, &rest_api_event(IssueLink, Some("inq_a"), None, None)), LINK);
    }

    /// Every example in openapi.yaml matches its own schema (parameters, request bodies, responses).
    #[test]
    fn the_spec_examples_match_their_schemas() {
        let c = contract();
        let mut checked = 0;
        let mut errors = Vec::new();
        let mut visit = |pointer: &str, media: &Value| {
            let schema_pointer = format!("{pointer}/schema");
            if let Some(example) = media.get("example") {
                errors.extend(c.validate(&schema_pointer, example, &format!("{pointer}/example")));
                checked += 1;
            }
            for (name, example) in media.get("examples").and_then(Value::as_object).into_iter().flatten() {
                if let Some(value) = example.get("value") {
                    errors.extend(c.validate(&schema_pointer, value, &format!("{pointer}/examples/{name}")));
                    checked += 1;
                }
            }
        };
        let components = &c.spec()["components"];
        for kind in ["responses", "requestBodies"] {
            for (name, item) in components[kind].as_object().unwrap() {
                for (media, body) in item["content"].as_object().unwrap() {
                    visit(&format!("/components/{kind}/{name}/content/{}", escape_pointer(media)), body);
                }
            }
        }
        for (name, parameter) in components["parameters"].as_object().unwrap() {
            visit(&format!("/components/parameters/{name}"), parameter);
        }
        assert!(errors.is_empty(), "{errors:#?}");
        assert!(checked > 20, "only {checked} examples found");
    }
}
