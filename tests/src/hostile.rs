//! Hostile callers: other users' inquiries, ids made of path and query characters, oversized and odd bodies, wrong
//! content types and methods, huge or odd headers, unicode, claims of the wrong type, base64 bodies, duplicate keys,
//! deep nesting and edge numbers. None of them gets a 5xx or a panic, and a request that breaks a rule never
//! reaches Persona. The whole list runs on the in-process rig (the real handler, fast); the raw events run again on
//! the release binaries, where an event `lambda_http` can't take would be an invocation error (a 5xx at the
//! gateway) or, for a panic, an aborted process.

use base64::Engine as _;
use serde_json::{json, Value};

use crate::assertions::assert_documented;
use crate::fake_persona::Inquiry;
use crate::rig::{
    http_api_event, rest_api_event, Deployment,
    Function::{self, IssueLink, ResumeSession},
    Rig,
};
use crate::world::World;

/// The user of the hostile requests.
pub const USER: &str = "user-abuse-01";

/// The hostile world: the user's inquiry and someone else's, on one template.
pub struct Targets<'r> {
    pub world: World<'r>,
    pub mine: Inquiry,
    pub theirs: Inquiry,
}

pub fn targets(rig: &Rig) -> Targets<'_> {
    let world = World::with_user(rig, USER);
    let mine = world.seed("pending");
    let theirs = world.seed_for("pending", Some("someone-else"));
    Targets { world, mine, theirs }
}

/// One hostile request and what it must get.
pub struct Case {
    pub name: String,
    pub function: Function,
    pub event: Value,
    /// `Some(status)`: refused with this status, and Persona never hears of it; `None`: a valid request.
    pub refused: Option<u16>,
}

fn case(name: impl Into<String>, function: Function, event: Value, refused: Option<u16>) -> Case {
    Case { name: name.into(), function, event, refused }
}

fn with_body(function: Function, id: &str, body: &str) -> Value {
    http_api_event(function, Some(id), Some(USER), Some(body))
}

fn with_header(mut event: Value, name: &str, value: Value) -> Value {
    event["headers"][name] = value;
    event
}

fn with_method(mut event: Value, method: &str) -> Value {
    if event["requestContext"].get("http").is_some() {
        event["requestContext"]["http"]["method"] = json!(method);
        event["routeKey"] = json!(format!("{method} /inquiries/{{inquiry_id}}/session"));
    } else {
        event["httpMethod"] = json!(method);
        event["requestContext"]["httpMethod"] = json!(method);
    }
    event
}

fn http_claims(function: Function, id: &str, claims: Value) -> Value {
    let mut event = http_api_event(function, Some(id), None, None);
    event["requestContext"]["authorizer"] = json!({"jwt": {"claims": claims, "scopes": null}});
    event
}

fn rest_claims(function: Function, id: &str, claims: Value) -> Value {
    let mut event = rest_api_event(function, Some(id), None, None);
    event["requestContext"]["authorizer"] = json!({"claims": claims});
    event
}

fn b64(text: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// Every hostile request of the list (the in-process run sends them all; the binaries a selection).
pub fn cases(w: &Targets) -> Vec<Case> {
    let mine = w.mine.id.as_str();
    let mut cases = Vec::new();

    // Ids with path or query characters, NUL, unicode, 10 KB: 400, nothing sent.
    let long = format!("inq_{}", "a".repeat(10 * 1024));
    let ids = [
        "inq_a/b",
        "inq_..",
        "..",
        "inq_a/../b",
        "inq_a%2Fb",
        "inq_%2e%2e",
        "inq_a?x=1",
        "inq_a#frag",
        "inq_a\0",
        "inq_\0",
        "inq_ünïcødé",
        "inq_Ａ",
        "inq_a b",
        "inq_a\n",
        " inq_a",
        "INQ_a",
        "inq_",
        "",
        "inq_a;b",
        "inq_a\\b",
        long.as_str(),
    ];
    for id in ids {
        for endpoint in [IssueLink, ResumeSession] {
            let name = format!("id {:?}", &id[..id.len().min(24)]);
            cases.push(case(name, endpoint, http_api_event(endpoint, Some(id), Some(USER), None), Some(400)));
        }
        let rest = rest_api_event(ResumeSession, Some(id), Some(json!(USER)), None);
        cases.push(case(format!("REST id {:?}", &id[..id.len().min(24)]), ResumeSession, rest, Some(400)));
    }

    // Bodies: size, content type, JSON oddities, numbers.
    let mut over = String::from("{\"expires_in_seconds\": 600");
    over.push_str(&" ".repeat(8 * 1024 - over.len()));
    over.push('}');
    assert_eq!(over.len(), 8 * 1024 + 1);
    let megabyte = format!("{{\"a\": \"{}\"}}", "x".repeat(1 << 20));
    cases.push(case("body of 8 KiB + 1", IssueLink, with_body(IssueLink, mine, &over), Some(413)));
    cases.push(case("body of 1 MiB", ResumeSession, with_body(ResumeSession, mine, &megabyte), Some(413)));
    let exactly = format!("{{}}{}", " ".repeat(8 * 1024 - 2));
    cases.push(case("body of exactly 8 KiB", ResumeSession, with_body(ResumeSession, mine, &exactly), None));
    let json_body = r#"{"expires_in_seconds": 600}"#;
    for (content_type, refused) in [
        (json!("text/plain"), Some(415)),
        (json!("application/jsonx"), Some(415)),
        (json!("application/json-patch+json"), Some(415)),
        (json!("application/x-www-form-urlencoded"), Some(415)),
        (json!("json"), Some(415)),
        (json!(""), Some(415)),
        (json!("application/json; charset=utf-8"), None),
        (json!("Application/JSON"), None),
        (json!("application/json;charset=UTF-8"), None),
    ] {
        let event = with_header(with_body(IssueLink, mine, json_body), "content-type", content_type.clone());
        cases.push(case(format!("content type {content_type}"), IssueLink, event, refused));
    }
    let mut missing = with_body(IssueLink, mine, json_body);
    missing["headers"].as_object_mut().unwrap().remove("content-type");
    cases.push(case("no content type with a body", IssueLink, missing, Some(415)));
    let mut missing_empty = with_body(ResumeSession, mine, " \n\t");
    missing_empty["headers"].as_object_mut().unwrap().remove("content-type");
    cases.push(case("no content type, whitespace body", ResumeSession, missing_empty, None));
    for (label, body, refused) in [
        ("duplicate keys", r#"{"expires_in_seconds": 60, "expires_in_seconds": 604800}"#, Some(400)),
        ("1e400", r#"{"expires_in_seconds": 1e400}"#, Some(400)),
        ("-0", r#"{"expires_in_seconds": -0}"#, Some(400)),
        ("60.0", r#"{"expires_in_seconds": 60.0}"#, Some(400)),
        ("6e1", r#"{"expires_in_seconds": 6e1}"#, Some(400)),
        ("2^64", r#"{"expires_in_seconds": 18446744073709551616}"#, Some(400)),
        ("u32 overflow", r#"{"expires_in_seconds": 4294967356}"#, Some(400)),
        ("null member", r#"{"expires_in_seconds": null}"#, Some(400)),
        ("unicode digits", r#"{"expires_in_seconds": "６０"}"#, Some(400)),
        ("unicode key", r#"{"éxpires_in_seconds": 60}"#, Some(400)),
        ("BOM", "\u{feff}{}", Some(400)),
        ("invalid UTF-8 escape", r#"{"a": "\udc00"}"#, Some(400)),
        ("trailing garbage", r#"{} {}"#, Some(400)),
        ("60", r#"{"expires_in_seconds": 60}"#, None),
        ("object and a newline", "{}\n", None),
    ] {
        cases.push(case(format!("body {label}"), IssueLink, with_body(IssueLink, mine, body), refused));
    }
    cases.push(case("10,000 [", ResumeSession, with_body(ResumeSession, mine, &"[".repeat(10_000)), Some(413)));
    cases.push(case("8,000 [", ResumeSession, with_body(ResumeSession, mine, &"[".repeat(8_000)), Some(400)));
    let nested = format!("{{\"a\": {}1{}}}", "[".repeat(4000), "]".repeat(4000));
    cases.push(case(
        "nested 4,000 deep in an object",
        ResumeSession,
        with_body(ResumeSession, mine, &nested),
        Some(400),
    ));
    cases.push(case("resume-session member", ResumeSession, with_body(ResumeSession, mine, json_body), Some(400)));

    // Base64 bodies (API Gateway encodes binary payloads).
    let mut encoded = with_body(IssueLink, mine, &b64(json_body.as_bytes()));
    encoded["isBase64Encoded"] = json!(true);
    cases.push(case("base64 body", IssueLink, encoded, None));
    let mut encoded_big = with_body(ResumeSession, mine, &b64(over.as_bytes()));
    encoded_big["isBase64Encoded"] = json!(true);
    cases.push(case("base64 body over 8 KiB", ResumeSession, encoded_big, Some(413)));
    let mut binary = with_body(ResumeSession, mine, &b64(&[0xff, 0xfe, 0x00, 0x7b, 0x7d]));
    binary["isBase64Encoded"] = json!(true);
    cases.push(case("base64 binary body", ResumeSession, binary, Some(400)));
    let mut not_base64 = with_body(IssueLink, mine, "{\"expires_in_seconds\": 600} not base64!");
    not_base64["isBase64Encoded"] = json!(true);
    cases.push(case("invalid base64 body", IssueLink, not_base64, Some(400)));
    let mut rest_b64 = rest_api_event(IssueLink, Some(mine), Some(json!(USER)), Some(&b64(json_body.as_bytes())));
    rest_b64["isBase64Encoded"] = json!(true);
    cases.push(case("REST base64 body", IssueLink, rest_b64, None));

    // Methods.
    for method in ["GET", "PUT", "DELETE", "OPTIONS", "HEAD", "PATCH"] {
        let http = with_method(http_api_event(ResumeSession, Some(mine), Some(USER), None), method);
        cases.push(case(format!("method {method}"), ResumeSession, http, Some(405)));
        let rest = with_method(rest_api_event(IssueLink, Some(mine), Some(json!(USER)), None), method);
        cases.push(case(format!("REST method {method}"), IssueLink, rest, Some(405)));
    }

    // Headers: many, huge, non-ASCII, control characters, bad names: the request is still served.
    let mut many = http_api_event(ResumeSession, Some(mine), Some(USER), None);
    for i in 0..100 {
        many["headers"][format!("x-filler-{i:03}")] = json!(format!("value-{i}"));
    }
    cases.push(case("100 headers", ResumeSession, many, None));
    let huge =
        with_header(http_api_event(IssueLink, Some(mine), Some(USER), None), "x-huge", json!("h".repeat(16 * 1024)));
    cases.push(case("16 KB header value", IssueLink, huge, None));
    for (label, name, value) in [
        ("non-ASCII header value", "x-name", json!("Zoë 用户 ✓")),
        ("control character in a header value", "x-bell", json!("a\u{7}b")),
        ("newline in a header value", "x-split", json!("a\r\nx-injected: 1")),
        ("header name with a space", "bad name", json!("v")),
        ("non-ASCII header name", "x-ñame", json!("v")),
        ("number as a header value", "x-number", json!(5)),
        ("non-ASCII content type", "content-type", json!("application/jsön")),
    ] {
        let event = with_header(http_api_event(ResumeSession, Some(mine), Some(USER), None), name, value);
        cases.push(case(label, ResumeSession, event, None));
    }
    let mut bad_ct = with_body(IssueLink, mine, json_body);
    bad_ct["headers"]["content-type"] = json!("application/json\u{0}");
    cases.push(case("NUL in the content type, with a body", IssueLink, bad_ct, Some(415)));
    let mut host = http_api_event(ResumeSession, Some(mine), Some(USER), None);
    host["headers"]["host"] = json!("evil host:99999");
    host["headers"]["x-forwarded-proto"] = json!("java script");
    cases.push(case("host and proto that aren't", ResumeSession, host, None));
    let mut query = http_api_event(IssueLink, Some(mine), Some(USER), None);
    query["rawQueryString"] = json!("a=\"b c\"&<x>=`{|}`&%zz");
    cases.push(case("raw query string with spaces and quotes", IssueLink, query, None));
    let mut long_query = http_api_event(IssueLink, Some(mine), Some(USER), None);
    long_query["rawQueryString"] = json!(format!("q={}", "%".repeat(20_000)));
    cases.push(case("20 KB query string", IssueLink, long_query, None));

    // Claims of the wrong type, in both payload versions. Numbers are compared as their decimal string.
    for (label, claim) in [
        ("number", json!(4242)),
        ("bool", json!(true)),
        ("object", json!({"sub": USER})),
        ("array", json!([USER])),
        ("empty string", json!("")),
        ("null", Value::Null),
        ("float", json!(1.5e300)),
    ] {
        let status = Some(if claim.is_number() { 404 } else { 401 });
        let persona_hears = claim.is_number(); // a number is an owner: the inquiry is fetched, then not theirs
        let refused = if persona_hears { None } else { status };
        let http = http_claims(ResumeSession, mine, json!({"sub": claim.clone()}));
        cases.push(case(format!("HTTP API claim {label}"), ResumeSession, http, refused));
        let rest = rest_claims(IssueLink, mine, json!({"sub": claim}));
        cases.push(case(format!("REST claim {label}"), IssueLink, rest, refused));
    }
    for (label, claims) in
        [("claims a string", json!("sub=user")), ("claims an array", json!([1])), ("no claims", json!({}))]
    {
        cases.push(case(
            format!("HTTP API {label}"),
            ResumeSession,
            http_claims(ResumeSession, mine, claims.clone()),
            Some(401),
        ));
        cases.push(case(format!("REST {label}"), IssueLink, rest_claims(IssueLink, mine, claims), Some(401)));
    }
    cases
}

/// Runs every case; each must end in its documented answer, and refused ones must not reach Persona.
pub async fn run(rig: &Rig, functions: &Deployment, cases: Vec<Case>) -> usize {
    let count = cases.len();
    for Case { name, function, event, refused } in cases {
        let before = rig.fake.requests().len();
        let answer =
            functions.try_call(function, event).await.unwrap_or_else(|e| panic!("{name}: no HTTP answer: {e}"));
        assert_documented(&answer, &name);
        let sent = rig.fake.requests().len() - before;
        match refused {
            Some(status) => {
                assert_eq!(answer.status, status, "{name}: {}", answer.body);
                assert_eq!(sent, 0, "{name}: a refused request reached Persona");
            }
            None => {
                assert!(matches!(answer.status, 200 | 404), "{name}: {} {}", answer.status, answer.body);
                assert!(sent >= 1, "{name}");
            }
        }
    }
    count
}
