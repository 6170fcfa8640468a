//! Hostile callers: other users' inquiries, ids made of path and query characters, oversized and odd bodies, wrong
//! content types and methods, huge or odd headers, unicode, claims of the wrong type, base64 bodies, duplicate keys,
//! deep nesting and edge numbers. None of them gets a 5xx or a panic, and a request that breaks a rule never
//! reaches Persona. Most run on the in-process rig (the real handler, fast); the raw events run again on the release
//! binaries, where an event `lambda_http` can't take would be an invocation error (a 5xx at the gateway) or, for a
//! panic, an aborted process.

// The scenario futures nest deeply (rig -> handler -> service -> client -> retry loop).
#![recursion_limit = "256"]

use std::time::Duration;

use base64::Engine as _;
use integration_tests::fake_persona::{Endpoint as Op, Inquiry, NewTemplate, SeedInquiry, Template};
use integration_tests::probe::process;
use integration_tests::rig::{http_api_event, rest_api_event, Answer, Deployment, Rig};
use integration_tests::runtime_api::InvokeResult;
use persona_resume::Function::{self, IssueLink, ResumeSession};
use serde_json::{json, Value};

const USER: &str = "user-abuse-01";

struct World {
    template: Template,
    mine: Inquiry,
    theirs: Inquiry,
}

fn world(rig: &Rig) -> World {
    let template = rig.fake.create_template(NewTemplate::default()).unwrap();
    let seed = |owner: &str| {
        rig.fake
            .seed_inquiry(SeedInquiry {
                template_id: template.id.clone(),
                status: Some("pending".into()),
                reference_id: Some(owner.into()),
                ..SeedInquiry::default()
            })
            .unwrap()
    };
    let mine = seed(USER);
    let theirs = seed("someone-else");
    World { template, mine, theirs }
}

/// One hostile request and what it must get.
struct Case {
    name: String,
    endpoint: Function,
    event: Value,
    /// `Some(status)`: refused with this status, and Persona never hears of it; `None`: a valid request.
    refused: Option<u16>,
}

fn case(name: impl Into<String>, endpoint: Function, event: Value, refused: Option<u16>) -> Case {
    Case { name: name.into(), endpoint, event, refused }
}

fn with_body(endpoint: Function, id: &str, body: &str) -> Value {
    http_api_event(endpoint, Some(id), Some(USER), Some(body))
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

fn http_claims(endpoint: Function, id: &str, claims: Value) -> Value {
    let mut event = http_api_event(endpoint, Some(id), None, None);
    event["requestContext"]["authorizer"] = json!({"jwt": {"claims": claims, "scopes": null}});
    event
}

fn rest_claims(endpoint: Function, id: &str, claims: Value) -> Value {
    let mut event = rest_api_event(endpoint, Some(id), None, None);
    event["requestContext"]["authorizer"] = json!({"claims": claims});
    event
}

fn b64(text: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// Every hostile request of the list (the in-process run sends them all; the binaries a selection).
fn cases(w: &World) -> Vec<Case> {
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

fn assert_documented(answer: &Answer, name: &str) {
    assert!(answer.status < 500, "{name}: {} {}", answer.status, answer.body);
    assert_eq!(answer.header("cache-control"), Some("no-store"), "{name}");
    if answer.status != 200 {
        assert_eq!(answer.header("content-type"), Some("application/problem+json"), "{name}");
        let code = answer.body["code"].as_str().unwrap_or_default();
        assert_eq!(answer.body["type"], format!("urn:persona-resume:problem:{code}"), "{name}");
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

/// Runs every case; each must end in its documented answer, and refused ones must not reach Persona.
async fn run(rig: &Rig, functions: &Deployment, cases: Vec<Case>) -> usize {
    let count = cases.len();
    for Case { name, endpoint, event, refused } in cases {
        let before = rig.fake.requests().len();
        let answer =
            functions.try_call(endpoint, event).await.unwrap_or_else(|e| panic!("{name}: no HTTP answer: {e}"));
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_in_process() {
    let rig = Rig::in_process();
    let w = world(&rig);
    let functions = rig.deploy(&[]).await.unwrap();
    let count = run(&rig, &functions, cases(&w)).await;
    eprintln!("{count} hostile requests, none answered 5xx");

    another_users_inquiry_is_indistinguishable_from_a_missing_one(&rig, &functions, &w).await;
    unicode_owners_are_owners(&rig, &w).await;
    rig.fake.assert_no_violations();
}

async fn another_users_inquiry_is_indistinguishable_from_a_missing_one(rig: &Rig, functions: &Deployment, w: &World) {
    let before = rig.fake.requests().len();
    for endpoint in [IssueLink, ResumeSession] {
        let stranger = functions.call(endpoint, http_api_event(endpoint, Some(&w.theirs.id), Some(USER), None)).await;
        let missing =
            functions.call(endpoint, http_api_event(endpoint, Some("inq_NoSuchInquiry42"), Some(USER), None)).await;
        let rest =
            functions.call(endpoint, rest_api_event(endpoint, Some(&w.theirs.id), Some(json!(USER)), None)).await;
        for answer in [&stranger, &missing, &rest] {
            assert_eq!(answer.status, 404, "{}", answer.body);
            assert_eq!(answer.body["code"], "inquiry_not_found");
        }
        let without_id = |answer: &Answer| {
            let mut body = answer.body.clone();
            body.as_object_mut().unwrap().remove("inquiry_id");
            (body, answer.headers.clone())
        };
        assert_eq!(without_id(&stranger), without_id(&missing), "the same body and headers");
        assert_eq!(without_id(&stranger), without_id(&rest));
        assert_eq!(stranger.str("inquiry_id"), Some(w.theirs.id.as_str()), "only the id the caller sent is echoed");
    }
    // Only GETs were made for the other user's inquiry: nothing was handed out.
    let ops: Vec<Option<Op>> = rig.fake.requests()[before..].iter().map(|r| r.endpoint).collect();
    assert!(ops.iter().all(|op| *op == Some(Op::Get)), "{ops:?}");
}

async fn unicode_owners_are_owners(rig: &Rig, w: &World) {
    let owner = "用户-Zoë-✓ /?#%";
    let inquiry = rig
        .fake
        .seed_inquiry(SeedInquiry {
            template_id: w.template.id.clone(),
            status: Some("pending".into()),
            reference_id: Some(owner.into()),
            ..SeedInquiry::default()
        })
        .unwrap();
    let functions = rig.deploy(&[("PERSONA_INQUIRY_TEMPLATE_ID", &w.template.id)]).await.unwrap();
    let answer =
        functions.call(ResumeSession, http_api_event(ResumeSession, Some(&inquiry.id), Some(owner), None)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let answer =
        functions.call(IssueLink, rest_api_event(IssueLink, Some(&inquiry.id), Some(json!(owner)), None)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    // `/me` with a unicode owner: the list filter and the create key are encoded, one inquiry results.
    let newcomer = "новый-пользователь ✓&filter[status]=approved";
    for endpoint in [ResumeSession, IssueLink, ResumeSession] {
        let answer = functions.call(endpoint, http_api_event(endpoint, None, Some(newcomer), None)).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    let theirs = rig.fake.inquiries().into_iter().filter(|i| i.reference_id.as_deref() == Some(newcomer)).count();
    assert_eq!(theirs, 1);
}

/// The raw events on the release binaries: every one answered over HTTP (no invocation error, no crash), the
/// processes still alive afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_raw_events_on_the_release_binaries() {
    let rig = Rig::binaries(false).await.expect("rig (build the release binaries first)");
    let w = world(&rig);
    let functions = rig.deploy(&[]).await.unwrap();
    let selected: Vec<Case> = cases(&w)
        .into_iter()
        .filter(|c| {
            ["claim", "base64", "header", "host", "query", "NUL", "\\0", "1 MiB", "10,000", "REST id", "method GET"]
                .iter()
                .any(|needle| c.name.contains(needle))
        })
        .collect();
    assert!(selected.len() > 30, "{}", selected.len());
    let count = run(&rig, &functions, selected).await;
    eprintln!("{count} hostile raw events on the release binaries, none answered 5xx");

    // Events that are not API Gateway events at all: an invocation error, never a crash.
    for endpoint in [IssueLink, ResumeSession] {
        let outcome =
            process(&functions, endpoint).invoke(json!({"hello": "world"}), Duration::from_secs(5)).await.unwrap();
        assert!(matches!(outcome.result, InvokeResult::Error(_)), "{:?}", outcome.result);
    }
    for endpoint in [IssueLink, ResumeSession] {
        assert!(process(&functions, endpoint).exit_status().is_none(), "{} is still running", endpoint.function_name());
        let answer = functions.call(endpoint, http_api_event(endpoint, Some(&w.mine.id), Some(USER), None)).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    rig.fake.assert_no_violations();
}
