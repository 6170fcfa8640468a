//! Turning the raw Lambda payload into an API Gateway request.
//!
//! `lambda_http` parses events itself, but some events it can't take never reach our handler, and a caller controls
//! enough of an event (headers, path, query string) to produce them:
//! - an HTTP API event whose JWT claims are not all strings (its type says `HashMap<String, String>`). API Gateway
//!   stringifies claims, yet a proxy or test harness may not; rather than failing the invocation (a 5xx at the
//!   gateway), we read numbers as their decimal string and drop claims of other types (they count as absent: 401);
//! - a header whose name or value isn't a valid HTTP header (a control character in a value, a space in a name): the
//!   whole event would fail to parse (a 5xx). Such headers are dropped, as if not sent: none of them matters to us
//!   but `Content-Type`, and a body without a usable `Content-Type` is refused (415);
//! - `isBase64Encoded: true` with a body that is not base64: `lambda_http` panics (the process aborts). Such a
//!   body is read as the text it is, and refused like any other body that isn't a JSON object;
//! - a URL `lambda_http` can't rebuild from the `Host` and `X-Forwarded-Proto` headers, the stage, the path and the
//!   query string (a raw space or `"` in the query, a host that isn't one): it panics. We check the URL it will
//!   build, and when it can't, drop what it doesn't need (those two headers), then percent-encode path and query,
//!   then fall back to `/`. None of this touches the path parameters, which carry the inquiry id.
//!
//! Every event API Gateway sends in practice passes through unchanged.
//!
//! The URL check mirrors `lambda_http` 1.3's internals (`build_request_uri`, `apigw_path_with_stage`), so the
//! workspace pins `lambda_http` exactly, and `the_mirror_matches_lambda_http` below fails when an upgrade changes
//! what it mirrors.

use base64::Engine as _;
use lambda_http::aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayV2httpRequest};
use lambda_http::http::header::HOST;
use lambda_http::http::{HeaderMap, HeaderName, HeaderValue, Uri};
use lambda_http::request::LambdaRequest;
use serde_json::Value;
use url::Url;

const X_FORWARDED_PROTO: &str = "x-forwarded-proto";

/// Parses an API Gateway REST (payload 1.0) or HTTP API (payload 2.0) event.
pub fn parse_event(mut payload: Value) -> Result<LambdaRequest, serde_json::Error> {
    normalize_jwt_claims(&mut payload);
    normalize_headers(&mut payload);
    let mut request: LambdaRequest = serde_json::from_value(payload)?;
    match &mut request {
        LambdaRequest::ApiGatewayV1(event) => repair(event),
        LambdaRequest::ApiGatewayV2(event) => repair(event),
        #[allow(unreachable_patterns)] // other event sources, when lambda_http's features enable them
        _ => {}
    }
    Ok(request)
}

fn normalize_jwt_claims(payload: &mut Value) {
    let Some(jwt) = payload.pointer_mut("/requestContext/authorizer/jwt").and_then(Value::as_object_mut) else {
        return;
    };
    match jwt.get_mut("claims") {
        Some(Value::Object(claims)) => {
            claims.retain(|_, value| matches!(value, Value::String(_) | Value::Number(_)));
            for value in claims.values_mut() {
                if let Value::Number(number) = value {
                    *value = Value::String(number.to_string());
                }
            }
        }
        Some(Value::Null) | None => {}
        Some(_) => {
            jwt.remove("claims");
        }
    }
}

/// Drops the headers `lambda_http` would refuse (and with them the whole event): names that aren't header names,
/// values that aren't header values (it parses them as visible ASCII), values that aren't strings.
fn normalize_headers(payload: &mut Value) {
    let valid_value = |value: &Value| value.as_str().is_some_and(|v| v.parse::<HeaderValue>().is_ok());
    for member in ["headers", "multiValueHeaders"] {
        let Some(headers) = payload.get_mut(member).and_then(Value::as_object_mut) else {
            continue;
        };
        headers.retain(|name, value| {
            if HeaderName::from_bytes(name.as_bytes()).is_err() {
                return false;
            }
            match value {
                Value::Array(values) => {
                    values.retain(valid_value);
                    true
                }
                other => valid_value(other),
            }
        });
    }
}

/// A body flagged base64 that isn't: read as the text it is (`lambda_http` would panic decoding it).
fn undecodable_base64(is_base64_encoded: bool, body: Option<&str>) -> bool {
    is_base64_encoded && body.is_some_and(|b| base64::engine::general_purpose::STANDARD.decode(b).is_err())
}

/// The parts of an event `lambda_http` builds the request from, for both payload versions: the one repair ladder
/// below works on either.
trait Repairable {
    fn read_undecodable_body_as_text(&mut self);
    /// Whether `lambda_http` can build the request URI as the event stands.
    fn uri_builds(&self) -> bool;
    /// `Host` and `X-Forwarded-Proto`: the URL's authority and scheme, which we never use.
    fn drop_url_headers(&mut self);
    fn drop_domain_name(&mut self);
    /// Percent-encodes path, query and stage.
    fn encode_url(&mut self);
    /// The last resort: `/`, no query, no stage.
    fn reset_url(&mut self);
}

/// Fixes the body flag, then tries the least intrusive change first and stops as soon as the URI builds.
fn repair(event: &mut impl Repairable) {
    event.read_undecodable_body_as_text();
    let ladder: [fn(&mut _); 4] =
        [Repairable::drop_url_headers, Repairable::drop_domain_name, Repairable::encode_url, Repairable::reset_url];
    for step in ladder {
        if event.uri_builds() {
            return;
        }
        step(event);
    }
}

impl Repairable for ApiGatewayProxyRequest {
    fn read_undecodable_body_as_text(&mut self) {
        if undecodable_base64(self.is_base64_encoded, self.body.as_deref()) {
            self.is_base64_encoded = false;
        }
    }

    fn uri_builds(&self) -> bool {
        let query = if !self.multi_value_query_string_parameters.is_empty() {
            self.multi_value_query_string_parameters.to_query_string()
        } else {
            self.query_string_parameters.to_query_string()
        };
        let path = path_with_stage(self.request_context.stage.as_deref(), self.path.as_deref().unwrap_or_default());
        let host = host(&self.headers, self.request_context.domain_name.as_deref());
        uri_builds(&self.headers, host, &path, Some(query.as_str()).filter(|q| !q.is_empty()))
    }

    fn drop_url_headers(&mut self) {
        drop_url_headers(&mut self.headers);
        drop_url_headers(&mut self.multi_value_headers);
    }

    fn drop_domain_name(&mut self) {
        self.request_context.domain_name = None;
    }

    fn encode_url(&mut self) {
        self.path = self.path.as_deref().map(encode_path);
        self.request_context.stage = self.request_context.stage.as_deref().map(encode_segment);
    }

    fn reset_url(&mut self) {
        self.path = Some("/".into());
        self.request_context.stage = None;
        self.multi_value_query_string_parameters = Default::default();
        self.query_string_parameters = Default::default();
    }
}

impl Repairable for ApiGatewayV2httpRequest {
    fn read_undecodable_body_as_text(&mut self) {
        if undecodable_base64(self.is_base64_encoded, self.body.as_deref()) {
            self.is_base64_encoded = false;
        }
    }

    fn uri_builds(&self) -> bool {
        let path = path_with_stage(self.request_context.stage.as_deref(), self.raw_path.as_deref().unwrap_or_default());
        let host = host(&self.headers, self.request_context.domain_name.as_deref());
        uri_builds(&self.headers, host, &path, self.raw_query_string.as_deref().filter(|q| !q.is_empty()))
    }

    fn drop_url_headers(&mut self) {
        drop_url_headers(&mut self.headers);
    }

    fn drop_domain_name(&mut self) {
        self.request_context.domain_name = None;
    }

    fn encode_url(&mut self) {
        self.raw_path = self.raw_path.as_deref().map(encode_path);
        self.raw_query_string = self.raw_query_string.as_deref().map(encode_query);
        self.request_context.stage = self.request_context.stage.as_deref().map(encode_segment);
    }

    fn reset_url(&mut self) {
        self.raw_path = Some("/".into());
        self.raw_query_string = None;
        self.request_context.stage = None;
    }
}

fn drop_url_headers(headers: &mut HeaderMap) {
    headers.remove(HOST);
    headers.remove(X_FORWARDED_PROTO);
}

fn host<'a>(headers: &'a HeaderMap, domain_name: Option<&'a str>) -> Option<&'a str> {
    headers.get(HOST).and_then(|value| value.to_str().ok()).or(domain_name)
}

/// `lambda_http`'s stage prefix (`apigw_path_with_stage`).
fn path_with_stage(stage: Option<&str>, path: &str) -> String {
    if std::env::var("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH").is_ok() {
        return path.to_owned();
    }
    match stage {
        None | Some("$default") => path.to_owned(),
        Some(stage) if path.starts_with(&format!("/{stage}/")) => path.to_owned(),
        Some(stage) => format!("/{stage}{path}"),
    }
}

/// Whether `lambda_http` can build the request URI from these parts (`build_request_uri`, then the request
/// builder): it unwraps both.
fn uri_builds(headers: &HeaderMap, host: Option<&str>, path: &str, query: Option<&str>) -> bool {
    let url = match host {
        None => match Url::parse(&format!("http://localhost{path}")) {
            Ok(url) => url.path().to_owned(),
            Err(_) => return false,
        },
        Some(host) => {
            let scheme = headers.get(X_FORWARDED_PROTO).and_then(|s| s.to_str().ok()).unwrap_or("https");
            match Url::parse(&format!("{scheme}://{host}{path}")) {
                Ok(url) => url.to_string(),
                Err(_) => return false,
            }
        }
    };
    let uri = match query {
        Some(query) => format!("{url}?{query}"),
        None => url,
    };
    uri.parse::<Uri>().is_ok()
}

/// Keeps unreserved and sub-delimiter characters, `:`, `@` and `/`; percent-encodes every other byte (`%` too, so
/// the result is always valid).
fn encode(raw: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(raw.len());
    for &byte in raw.as_bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&byte) || keep.contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn encode_path(raw: &str) -> String {
    let encoded = encode(raw, b"/");
    if encoded.starts_with('/') {
        encoded
    } else {
        format!("/{encoded}")
    }
}

fn encode_query(raw: &str) -> String {
    encode(raw, b"/?")
}

fn encode_segment(raw: &str) -> String {
    encode(raw, b"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lambda::api_event::ApiEvent;
    use lambda_http::request::RequestContext;
    use lambda_http::RequestExt;
    use serde_json::json;

    fn http_api_event(claims: Value) -> Value {
        ApiEvent::http_api("POST", "/inquiries/{inquiry_id}/session", "/inquiries/inq_1/session")
            .inquiry_id("inq_1")
            .claims(claims)
            .build()
    }

    fn claims_of(event: Value) -> std::collections::HashMap<String, String> {
        let request: lambda_http::Request = parse_event(event).unwrap().into();
        let Some(RequestContext::ApiGatewayV2(context)) = request.request_context_ref() else { panic!("not v2") };
        context.authorizer.clone().unwrap().jwt.unwrap().claims
    }

    #[test]
    fn non_string_claims_are_normalized_instead_of_failing_the_event() {
        let raw = http_api_event(
            json!({"sub": 42, "big": 1.5e300, "admin": true, "nested": {"a": 1}, "list": [1], "name": "x"}),
        );
        assert!(serde_json::from_value::<LambdaRequest>(raw.clone()).is_err(), "lambda_http alone rejects it");
        let claims = claims_of(raw);
        assert_eq!(claims.get("sub").map(String::as_str), Some("42"));
        assert_eq!(claims.get("name").map(String::as_str), Some("x"));
        assert!(claims.contains_key("big"));
        assert!(!claims.contains_key("admin") && !claims.contains_key("nested") && !claims.contains_key("list"));
    }

    #[test]
    fn odd_claim_containers_are_tolerated() {
        assert!(claims_of(http_api_event(json!(null))).is_empty());
        assert!(claims_of(http_api_event(json!("sub=1"))).is_empty());
        assert_eq!(claims_of(http_api_event(json!({"sub": "u"}))).get("sub").map(String::as_str), Some("u"));
    }

    /// Converts as the Adapter does; before the fix these panicked (process abort in release) or failed to parse.
    fn convert(event: Value) -> lambda_http::Request {
        parse_event(event).expect("an API Gateway event").into()
    }

    fn rest_api_event() -> Value {
        ApiEvent::rest("POST", "/inquiries/{inquiry_id}/session", "/inquiries/inq_1/session")
            .inquiry_id("inq_1")
            .header("Host", "api.example.com")
            .header("Content-Type", "application/json")
            .build()
    }

    #[test]
    fn ordinary_events_are_untouched() {
        let mut http = http_api_event(json!({"sub": "u"}));
        http["headers"] =
            json!({"host": "api.example.com", "x-forwarded-proto": "https", "content-type": "application/json"});
        http["rawQueryString"] = json!("a=1&b=%20x");
        let request = convert(http);
        assert_eq!(request.uri().to_string(), "https://api.example.com/inquiries/inq_1/session?a=1&b=%20x");
        assert_eq!(request.headers()["content-type"], "application/json");
        let rest = convert(rest_api_event());
        assert_eq!(rest.uri().to_string(), "https://api.example.com/prod/inquiries/inq_1/session");
    }

    #[test]
    fn undecodable_base64_bodies_are_read_as_text() {
        for mut event in [http_api_event(json!({"sub": "u"})), rest_api_event()] {
            event["isBase64Encoded"] = json!(true);
            event["body"] = json!("{\"not\": \"base64\"}");
            assert_eq!(convert(event.clone()).body().as_ref(), br#"{"not": "base64"}"#);
            event["body"] = json!("e30=");
            assert_eq!(convert(event).body().as_ref(), b"{}", "valid base64 is decoded");
        }
    }

    #[test]
    fn headers_that_are_not_http_headers_are_dropped() {
        let mut http = http_api_event(json!({"sub": "u"}));
        http["headers"] = json!({"x-name": "Zoë", "x-bell": "a\u{7}b", "bad name": "v", "x-number": 5,
                                 "content-type": "application/json", "x-ok": "fine"});
        let request = convert(http);
        let names: Vec<&str> = request.headers().keys().map(|k| k.as_str()).collect();
        assert_eq!(
            names,
            ["content-type", "x-name", "x-ok"],
            "non-ASCII is fine (obs-text), control characters are not"
        );
        assert_eq!(request.headers()["x-ok"], "fine");
        let mut rest = rest_api_event();
        rest["headers"]["X-Bell"] = json!("\u{7}");
        rest["multiValueHeaders"]["X-Name"] = json!(["Zoë", "a\nb", "ok"]);
        let request = convert(rest);
        assert_eq!(request.headers().get_all("x-name").iter().count(), 2);
        assert!(request.headers().get("x-bell").is_none());
    }

    #[test]
    fn urls_lambda_http_cannot_rebuild_are_made_buildable() {
        let cases: Vec<(&str, Value)> = vec![
            ("/rawQueryString", json!("a=\"b c\"")),
            ("/rawQueryString", json!("x=<script>`{|}`")),
            ("/headers", json!({"host": "exa mple.com"})),
            ("/headers", json!({"host": "h:99999"})),
            ("/headers", json!({"x-forwarded-proto": "no such scheme"})),
            ("/rawPath", json!(":99999")),
            ("/rawPath", json!("/a b/\"q\"/%zz")),
            ("/requestContext/stage", json!("st age#")),
            ("/requestContext/domainName", json!("[::1")),
        ];
        for (pointer, value) in cases {
            let mut event = http_api_event(json!({"sub": "u"}));
            *event.pointer_mut(pointer).unwrap_or_else(|| panic!("{pointer}")) = value.clone();
            let request = convert(event);
            assert_eq!(request.path_parameters().first("inquiry_id"), Some("inq_1"), "{pointer} {value}");
        }
        let mut rest = rest_api_event();
        rest["headers"]["Host"] = json!("exa mple.com");
        rest["path"] = json!(":1:2");
        assert_eq!(convert(rest).path_parameters().first("inquiry_id"), Some("inq_1"));
    }

    /// Our prediction of "lambda_http can build this URI" must match what lambda_http does: for each event, the
    /// unrepaired conversion panics exactly when we predict it can't build.
    #[test]
    fn the_mirror_matches_lambda_http() {
        let mut events = Vec::new();
        for (pointer, value) in [
            ("/rawQueryString", json!("a=1&b=%20x")),
            ("/rawQueryString", json!("a=\"b c\"")),
            ("/headers", json!({"host": "api.example.com", "x-forwarded-proto": "https"})),
            ("/headers", json!({"host": "exa mple.com"})),
            ("/headers", json!({"x-forwarded-proto": "no such scheme", "host": "h"})),
            ("/rawPath", json!("/a b")),
            ("/rawPath", json!("/inquiries/inq_1/session")),
            ("/requestContext/stage", json!("prod")),
            ("/requestContext/stage", json!("st age#")),
        ] {
            let mut event = http_api_event(json!({"sub": "u"}));
            *event.pointer_mut(pointer).unwrap() = value;
            events.push(event);
        }
        let mut rest = rest_api_event();
        events.push(rest.clone());
        rest["headers"]["Host"] = json!("exa mple.com");
        rest["multiValueHeaders"]["Host"] = json!(["exa mple.com"]);
        events.push(rest);
        let (mut buildable, mut unbuildable) = (0, 0);
        for event in events {
            let normalized = {
                let mut payload = event.clone();
                normalize_headers(&mut payload);
                serde_json::from_value::<LambdaRequest>(payload).unwrap()
            };
            let predicted = match &normalized {
                LambdaRequest::ApiGatewayV1(e) => e.uri_builds(),
                LambdaRequest::ApiGatewayV2(e) => e.uri_builds(),
                #[allow(unreachable_patterns)]
                _ => unreachable!("only API Gateway events here"),
            };
            let built = std::panic::catch_unwind(move || lambda_http::Request::from(normalized)).is_ok();
            assert_eq!(predicted, built, "our URL check and lambda_http disagree on {event}");
            if built {
                buildable += 1;
            } else {
                unbuildable += 1;
            }
        }
        assert!(buildable >= 4 && unbuildable >= 4, "both kinds covered: {buildable} / {unbuildable}");
    }

    #[test]
    fn other_payloads_are_errors() {
        assert!(parse_event(json!({"hello": "world"})).is_err());
        assert!(parse_event(json!([1, 2])).is_err());
    }
}
