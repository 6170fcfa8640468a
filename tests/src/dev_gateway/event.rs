//! An HTTP request as API Gateway's HTTP API hands it to a Lambda function: the payload 2.0 event, with the
//! verified JWT claims in `requestContext.authorizer.jwt`.

use base64::Engine as _;
use persona_resume::lambda::api_event::ApiEvent;
use serde_json::{Map, Value};

use super::routes::RouteMatch;

/// What the gateway took from the HTTP request.
#[derive(Clone, Debug)]
pub struct IncomingRequest<'a> {
    pub method: &'a str,
    pub raw_path: &'a str,
    pub raw_query: &'a str,
    /// Names as received; API Gateway lower-cases them and joins repeated ones with a comma.
    pub headers: Vec<(String, String)>,
    pub body: &'a [u8],
    pub source_ip: String,
    pub request_id: String,
    pub time_epoch_ms: u64,
}

/// The payload 2.0 event for a matched route and verified claims (already as strings).
pub fn http_api_event(
    request: &IncomingRequest<'_>,
    route: &RouteMatch,
    claims: Map<String, Value>,
    scopes: Option<Vec<String>>,
) -> Value {
    let template = route.route_key.split_once(' ').map_or(route.route_key, |(_, template)| template);
    let mut event = ApiEvent::http_api(request.method, template, request.raw_path)
        .query(request.raw_query)
        .source_ip(&request.source_ip)
        .request_id(&request.request_id)
        .time_epoch_ms(request.time_epoch_ms)
        .claims(Value::Object(claims));
    if let Some(scopes) = scopes {
        event = event.scopes(scopes);
    }
    for (name, value) in &request.headers {
        if name.eq_ignore_ascii_case("cookie") {
            for cookie in value.split(';').map(str::trim).filter(|c| !c.is_empty()) {
                event = event.cookie(cookie);
            }
        } else {
            event = event.header(name, value);
        }
    }
    if let Some(id) = &route.inquiry_id {
        event = event.inquiry_id(id);
    }
    event = match std::str::from_utf8(request.body) {
        _ if request.body.is_empty() => event,
        Ok(text) => event.body(text),
        Err(_) => event.base64_body(&base64::engine::general_purpose::STANDARD.encode(request.body)),
    };
    event.build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dev_gateway::routes::{route, Routing};
    use serde_json::json;

    #[test]
    fn event_carries_route_claims_and_body() {
        let Routing::Invoke(matched) = route("POST", "/inquiries/inq_A1/one-time-link") else { panic!("route") };
        let request = IncomingRequest {
            method: "POST",
            raw_path: "/inquiries/inq_A1/one-time-link",
            raw_query: "a=1&a=2",
            headers: vec![
                ("Host".into(), "127.0.0.1:9001".into()),
                ("Content-Type".into(), "application/json".into()),
                ("X-Twice".into(), "1".into()),
                ("x-twice".into(), "2".into()),
                ("Cookie".into(), "a=1; b=2".into()),
            ],
            body: br#"{"expires_in_seconds": 600}"#,
            source_ip: "127.0.0.1".into(),
            request_id: "req-1".into(),
            time_epoch_ms: 1,
        };
        let claims = Map::from_iter([("sub".to_owned(), json!("alice"))]);
        let event = http_api_event(&request, &matched, claims, None);
        assert_eq!(event["routeKey"], "POST /inquiries/{inquiry_id}/one-time-link");
        assert_eq!(event["pathParameters"], json!({"inquiry_id": "inq_A1"}));
        assert_eq!(event["requestContext"]["authorizer"]["jwt"]["claims"], json!({"sub": "alice"}));
        assert_eq!(event["headers"]["x-twice"], "1,2");
        assert_eq!(event["headers"]["content-type"], "application/json");
        assert_eq!(event["cookies"], json!(["a=1", "b=2"]));
        assert_eq!(event["queryStringParameters"], json!({"a": "1,2"}));
        assert_eq!(event["body"], r#"{"expires_in_seconds": 600}"#);
        assert_eq!(event["isBase64Encoded"], false);

        let binary = IncomingRequest { body: &[0xff, 0xfe], raw_query: "", ..request.clone() };
        let event = http_api_event(&binary, &matched, Map::new(), None);
        assert_eq!((event["body"].as_str(), event["isBase64Encoded"].as_bool()), (Some("//4="), Some(true)));
        let empty = IncomingRequest { body: b"", ..request };
        assert!(http_api_event(&empty, &matched, Map::new(), None).get("body").is_none());
    }
}
