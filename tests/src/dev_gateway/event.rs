//! An HTTP request as API Gateway's HTTP API hands it to a Lambda function: the payload 2.0 event, with the
//! verified JWT claims in `requestContext.authorizer.jwt`.

use base64::Engine as _;
use serde_json::{json, Map, Value};

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
    let mut headers: Map<String, Value> = Map::new();
    let mut cookies: Vec<String> = Vec::new();
    for (name, value) in &request.headers {
        let name = name.to_ascii_lowercase();
        if name == "cookie" {
            cookies.extend(value.split(';').map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned));
            continue;
        }
        match headers.get_mut(&name) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(value);
            }
            _ => {
                headers.insert(name, Value::String(value.clone()));
            }
        }
    }
    let host = headers.get("host").and_then(Value::as_str).unwrap_or("127.0.0.1").to_owned();
    let user_agent = headers.get("user-agent").and_then(Value::as_str).unwrap_or("").to_owned();
    let (body, is_base64) = match (request.body.is_empty(), std::str::from_utf8(request.body)) {
        (true, _) => (Value::Null, false),
        (false, Ok(text)) => (Value::String(text.to_owned()), false),
        (false, Err(_)) => (Value::String(base64::engine::general_purpose::STANDARD.encode(request.body)), true),
    };
    let query: Map<String, Value> = {
        let mut map: Map<String, Value> = Map::new();
        for (k, v) in url::form_urlencoded::parse(request.raw_query.as_bytes()) {
            match map.get_mut(k.as_ref()) {
                Some(Value::String(existing)) => {
                    existing.push(',');
                    existing.push_str(&v);
                }
                _ => {
                    map.insert(k.into_owned(), Value::String(v.into_owned()));
                }
            }
        }
        map
    };
    let mut event = json!({
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "authorizer": {"jwt": {"claims": claims, "scopes": scopes}},
            "domainName": host,
            "domainPrefix": host.split('.').next().unwrap_or("local"),
            "http": {
                "method": request.method,
                "path": request.raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": request.source_ip,
                "userAgent": user_agent,
            },
            "requestId": request.request_id,
            "routeKey": route.route_key,
            "stage": "$default",
            "time": "",
            "timeEpoch": request.time_epoch_ms,
        },
        "isBase64Encoded": is_base64,
    });
    if let Value::Object(map) = &mut event {
        if !cookies.is_empty() {
            map.insert("cookies".into(), json!(cookies));
        }
        if !query.is_empty() {
            map.insert("queryStringParameters".into(), Value::Object(query));
        }
        if let Some(id) = &route.inquiry_id {
            map.insert("pathParameters".into(), json!({"inquiry_id": id}));
        }
        if !body.is_null() {
            map.insert("body".into(), body);
        }
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dev_gateway::routes::{route, Routing};

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
