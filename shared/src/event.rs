//! Turning the raw Lambda payload into an API Gateway request.
//!
//! `lambda_http` parses events itself, but one event it can't parse never reaches our handler: an HTTP API
//! event whose JWT claims are not all strings (its type says `HashMap<String, String>`). API Gateway stringifies
//! claims, yet a proxy or test harness may not; rather than failing the invocation (a 5xx at the gateway), we
//! read numbers as their decimal string and drop claims of other types (they count as absent: 401).

use lambda_http::request::LambdaRequest;
use serde_json::Value;

/// Parses an API Gateway REST (payload 1.0) or HTTP API (payload 2.0) event.
pub fn parse_event(mut payload: Value) -> Result<LambdaRequest, serde_json::Error> {
    normalize_jwt_claims(&mut payload);
    serde_json::from_value(payload)
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

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::request::RequestContext;
    use lambda_http::RequestExt;
    use serde_json::json;

    fn http_api_event(claims: Value) -> Value {
        json!({
            "version": "2.0", "routeKey": "POST /inquiries/{inquiry_id}/session",
            "rawPath": "/inquiries/inq_1/session", "rawQueryString": "", "headers": {},
            "requestContext": {"accountId": "1", "apiId": "a", "domainName": "d", "domainPrefix": "d",
                "http": {"method": "POST", "path": "/inquiries/inq_1/session", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.1", "userAgent": "t"},
                "requestId": "r", "routeKey": "POST /inquiries/{inquiry_id}/session", "stage": "$default", "time": "t", "timeEpoch": 0,
                "authorizer": {"jwt": {"claims": claims, "scopes": null}}},
            "pathParameters": {"inquiry_id": "inq_1"}, "isBase64Encoded": false
        })
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

    #[test]
    fn other_payloads_are_errors() {
        assert!(parse_event(json!({"hello": "world"})).is_err());
        assert!(parse_event(json!([1, 2])).is_err());
    }
}
