//! API Gateway proxy events as Lambda receives them, built for tests: the one builder of the library's tests, the
//! rig, the dev gateway and the benchmark (compiled only for tests and with the `testing` feature).

use serde_json::{json, Map, Value};

/// Which integration delivers the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    /// HTTP API, payload format 2.0.
    HttpApi,
    /// REST API, payload format 1.0.
    Rest,
}

/// An API Gateway proxy event, built up field by field; [`ApiEvent::build`] renders it.
#[derive(Debug, Clone)]
pub struct ApiEvent {
    payload: Payload,
    method: String,
    /// The route's template, e.g. `/inquiries/{inquiry_id}/session`.
    route: String,
    path: String,
    raw_query: String,
    headers: Vec<(String, String)>,
    cookies: Vec<String>,
    body: Option<String>,
    body_is_base64: bool,
    inquiry_id: Option<String>,
    /// The authorizer's claims: any JSON, as a hostile or broken authorizer could send.
    claims: Option<Value>,
    scopes: Option<Vec<String>>,
    request_id: String,
    source_ip: String,
    time_epoch_ms: u64,
}

impl ApiEvent {
    fn new(payload: Payload, method: &str, route: &str, path: &str) -> Self {
        Self {
            payload,
            method: method.to_owned(),
            route: route.to_owned(),
            path: path.to_owned(),
            raw_query: String::new(),
            headers: Vec::new(),
            cookies: Vec::new(),
            body: None,
            body_is_base64: false,
            inquiry_id: None,
            claims: None,
            scopes: None,
            request_id: "apigw-request".to_owned(),
            source_ip: "203.0.113.7".to_owned(),
            time_epoch_ms: 0,
        }
    }

    /// An HTTP API (payload 2.0) event for `method` on `path`, matched by the route template `route`.
    pub fn http_api(method: &str, route: &str, path: &str) -> Self {
        Self::new(Payload::HttpApi, method, route, path)
    }

    /// A REST API (payload 1.0) event for `method` on `path`, matched by the resource `route`.
    pub fn rest(method: &str, route: &str, path: &str) -> Self {
        Self::new(Payload::Rest, method, route, path)
    }

    /// The `inquiry_id` path parameter.
    pub fn inquiry_id(mut self, id: &str) -> Self {
        self.inquiry_id = Some(id.to_owned());
        self
    }

    /// A request header, in the order received (an HTTP API lower-cases names and joins repeated ones with `,`).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The query string as received, e.g. `a=1&a=2`.
    pub fn query(mut self, raw: &str) -> Self {
        self.raw_query = raw.to_owned();
        self
    }

    /// A cookie (HTTP API events carry them apart from the headers).
    pub fn cookie(mut self, cookie: &str) -> Self {
        self.cookies.push(cookie.to_owned());
        self
    }

    /// A text body.
    pub fn body(mut self, text: &str) -> Self {
        self.body = Some(text.to_owned());
        self.body_is_base64 = false;
        self
    }

    /// A binary body, already base64-encoded.
    pub fn base64_body(mut self, encoded: &str) -> Self {
        self.body = Some(encoded.to_owned());
        self.body_is_base64 = true;
        self
    }

    /// The authorizer's claims (an HTTP API's JWT authorizer, or a REST API's Cognito-style authorizer).
    pub fn claims(mut self, claims: Value) -> Self {
        self.claims = Some(claims);
        self
    }

    /// The JWT authorizer's scopes (HTTP API).
    pub fn scopes(mut self, scopes: Vec<String>) -> Self {
        self.scopes = Some(scopes);
        self
    }

    /// API Gateway's own request id (`requestContext.requestId`).
    pub fn request_id(mut self, id: &str) -> Self {
        self.request_id = id.to_owned();
        self
    }

    pub fn source_ip(mut self, ip: &str) -> Self {
        self.source_ip = ip.to_owned();
        self
    }

    pub fn time_epoch_ms(mut self, ms: u64) -> Self {
        self.time_epoch_ms = ms;
        self
    }

    /// The event's JSON.
    pub fn build(&self) -> Value {
        match self.payload {
            Payload::HttpApi => self.http_api_json(),
            Payload::Rest => self.rest_json(),
        }
    }

    fn path_parameters(&self) -> Value {
        self.inquiry_id.as_ref().map_or(Value::Null, |id| json!({"inquiry_id": id}))
    }

    /// Name → values, in the order received.
    fn grouped(pairs: impl Iterator<Item = (String, String)>) -> Vec<(String, Vec<String>)> {
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for (name, value) in pairs {
            match groups.iter_mut().find(|(known, _)| *known == name) {
                Some((_, values)) => values.push(value),
                None => groups.push((name, vec![value])),
            }
        }
        groups
    }

    fn query_pairs(&self) -> impl Iterator<Item = (String, String)> + '_ {
        url::form_urlencoded::parse(self.raw_query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned()))
    }

    fn header_value(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(known, _)| known.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }

    fn http_api_json(&self) -> Value {
        let joined = |groups: Vec<(String, Vec<String>)>| -> Map<String, Value> {
            groups.into_iter().map(|(name, values)| (name, Value::String(values.join(",")))).collect()
        };
        let headers = joined(Self::grouped(self.headers.iter().map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))));
        let query = joined(Self::grouped(self.query_pairs()));
        let host = self.header_value("host").unwrap_or("api.example.com");
        let route_key = format!("{} {}", self.method, self.route);
        let mut event = json!({
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": self.path,
            "rawQueryString": self.raw_query,
            "headers": headers,
            "requestContext": {
                "accountId": "123456789012", "apiId": "api", "domainName": host,
                "domainPrefix": host.split('.').next().unwrap_or(host),
                "http": {"method": self.method, "path": self.path, "protocol": "HTTP/1.1", "sourceIp": self.source_ip,
                    "userAgent": self.header_value("user-agent").unwrap_or("")},
                "requestId": self.request_id, "routeKey": route_key, "stage": "$default", "time": "",
                "timeEpoch": self.time_epoch_ms
            },
            "isBase64Encoded": self.body_is_base64
        });
        if !self.cookies.is_empty() {
            event["cookies"] = json!(self.cookies);
        }
        if !query.is_empty() {
            event["queryStringParameters"] = Value::Object(query);
        }
        if self.inquiry_id.is_some() {
            event["pathParameters"] = self.path_parameters();
        }
        if let Some(claims) = &self.claims {
            event["requestContext"]["authorizer"] = json!({"jwt": {"claims": claims, "scopes": self.scopes}});
        }
        if let Some(body) = &self.body {
            event["body"] = json!(body);
        }
        event
    }

    fn rest_json(&self) -> Value {
        let single = |groups: &[(String, Vec<String>)]| -> Value {
            let map: Map<String, Value> =
                groups.iter().map(|(name, values)| (name.clone(), json!(values.last()))).collect();
            if map.is_empty() {
                Value::Null
            } else {
                Value::Object(map)
            }
        };
        let multi = |groups: &[(String, Vec<String>)]| -> Value {
            let map: Map<String, Value> = groups.iter().map(|(name, values)| (name.clone(), json!(values))).collect();
            if map.is_empty() {
                Value::Null
            } else {
                Value::Object(map)
            }
        };
        let headers = Self::grouped(self.headers.iter().cloned());
        let query = Self::grouped(self.query_pairs());
        let mut event = json!({
            "resource": self.route, "path": self.path, "httpMethod": self.method,
            "headers": single(&headers), "multiValueHeaders": multi(&headers),
            "queryStringParameters": single(&query), "multiValueQueryStringParameters": multi(&query),
            "pathParameters": self.path_parameters(), "stageVariables": null,
            "requestContext": {"accountId": "123456789012", "apiId": "api", "httpMethod": self.method,
                "path": format!("/prod{}", self.path), "identity": {"sourceIp": self.source_ip}, "protocol": "HTTP/1.1",
                "requestId": self.request_id, "resourcePath": self.route, "stage": "prod",
                "requestTimeEpoch": self.time_epoch_ms},
            "body": self.body, "isBase64Encoded": self.body_is_base64
        });
        if let Some(claims) = &self.claims {
            event["requestContext"]["authorizer"] = json!({"claims": claims});
        }
        event
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_http_api_event_joins_repeated_headers_and_query_values() {
        let event = ApiEvent::http_api("POST", "/inquiries/{inquiry_id}/session", "/inquiries/inq_1/session")
            .inquiry_id("inq_1")
            .header("Host", "gw.example.com")
            .header("X-Twice", "1")
            .header("x-twice", "2")
            .query("a=1&a=2&b=%20x")
            .cookie("c=1")
            .claims(json!({"sub": "u"}))
            .scopes(vec!["openid".into()])
            .body("{}")
            .build();
        assert_eq!(event["routeKey"], "POST /inquiries/{inquiry_id}/session");
        assert_eq!(event["requestContext"]["routeKey"], event["routeKey"]);
        assert_eq!(event["headers"], json!({"host": "gw.example.com", "x-twice": "1,2"}));
        assert_eq!(event["requestContext"]["domainName"], "gw.example.com");
        assert_eq!(event["requestContext"]["domainPrefix"], "gw");
        assert_eq!(event["queryStringParameters"], json!({"a": "1,2", "b": " x"}));
        assert_eq!(event["rawQueryString"], "a=1&a=2&b=%20x");
        assert_eq!(event["cookies"], json!(["c=1"]));
        assert_eq!(event["pathParameters"], json!({"inquiry_id": "inq_1"}));
        assert_eq!(event["requestContext"]["authorizer"], json!({"jwt": {"claims": {"sub": "u"}, "scopes": ["openid"]}}));
        assert_eq!(event["body"], "{}");
        let bare = ApiEvent::http_api("POST", "/me/session", "/me/session").build();
        for absent in ["pathParameters", "queryStringParameters", "cookies", "body"] {
            assert!(bare.get(absent).is_none(), "{absent}: {bare}");
        }
        assert!(bare["requestContext"].get("authorizer").is_none());
    }

    #[test]
    fn a_rest_event_keeps_single_and_multi_values() {
        let event = ApiEvent::rest("POST", "/inquiries/{inquiry_id}/session", "/inquiries/inq_1/session")
            .inquiry_id("inq_1")
            .header("Content-Type", "application/json")
            .query("a=1&a=2")
            .claims(json!({"sub": "u"}))
            .build();
        assert_eq!(event["httpMethod"], "POST");
        assert_eq!(event["resource"], "/inquiries/{inquiry_id}/session");
        assert_eq!(event["headers"], json!({"Content-Type": "application/json"}));
        assert_eq!(event["multiValueHeaders"], json!({"Content-Type": ["application/json"]}));
        assert_eq!(event["queryStringParameters"], json!({"a": "2"}));
        assert_eq!(event["multiValueQueryStringParameters"], json!({"a": ["1", "2"]}));
        assert_eq!(event["requestContext"]["authorizer"], json!({"claims": {"sub": "u"}}));
        assert_eq!(event["body"], Value::Null);
    }
}
