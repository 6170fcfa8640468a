//! Request rules (docs/design.md, "Request rules"): method, owner claim, inquiry id, body. Nothing here talks to
//! Persona; a request that breaks a rule never reaches it.

use lambda_http::http::header::CONTENT_TYPE;
use lambda_http::http::Method;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use serde_json::Value;

use crate::app::error::RequestError as Error;
use crate::app::service::{Action, Function, ResumeRequest, Target};
use crate::domain::ids::InquiryId;
use crate::domain::owner::{Caller, Owner};
use crate::ops::config::{AuthMode, LINK_EXPIRY_RANGE};

pub const MAX_BODY_BYTES: usize = 8 * 1024;
pub const INQUIRY_ID_PARAMETER: &str = "inquiry_id";

/// Applies every request rule, in order: method (405), inquiry id (400), owner claim (401), body size (413),
/// content type (415), body (400).
pub fn parse_request(
    request: &Request,
    function: Function,
    auth_mode: AuthMode,
    owner_claim: &str,
) -> Result<ResumeRequest, Error> {
    if request.method() != Method::POST {
        return Err(Error::MethodNotAllowed);
    }
    let target = target(request)?;
    let caller = match auth_mode {
        AuthMode::Jwt => {
            Caller::User(owner_from_claims(request, owner_claim).and_then(Owner::new).ok_or(Error::Unauthenticated)?)
        }
        AuthMode::Iam => Caller::Trusted,
    };
    if target == Target::Me && caller == Caller::Trusted {
        return Err(Error::Unauthenticated); // `/me` needs a user: JWT mode only.
    }
    let expires_in_seconds = parse_body(request, function)?;
    let action = match function {
        Function::IssueLink => Action::Link { expires_in_seconds },
        Function::ResumeSession => Action::Session,
    };
    Ok(ResumeRequest { target, caller, action })
}

/// `/inquiries/{inquiry_id}/…` carries the id as a path parameter; `/me/…` carries none.
fn target(request: &Request) -> Result<Target, Error> {
    let parameters = request.path_parameters();
    if let Some(inquiry_id) = parameters.first(INQUIRY_ID_PARAMETER) {
        return InquiryId::parse(inquiry_id).map(Target::Inquiry).map_err(|_| Error::InvalidInquiryId);
    }
    let mut segments = request.uri().path().trim_end_matches('/').rsplit('/');
    let _action = segments.next();
    if segments.next() == Some("me") {
        Ok(Target::Me)
    } else {
        Err(Error::InvalidInquiryId)
    }
}

/// The owner claim, from an HTTP API JWT authorizer (`requestContext.authorizer.jwt.claims`) or a REST API
/// authorizer (`requestContext.authorizer.claims`). Numbers count as their decimal string; anything else, or an
/// empty string, counts as no claim.
pub fn owner_from_claims(request: &Request, claim: &str) -> Option<String> {
    let owner = match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => context.authorizer.as_ref()?.jwt.as_ref()?.claims.get(claim).cloned(),
        RequestContext::ApiGatewayV1(context) => match context.authorizer.fields.get("claims")?.get(claim)? {
            Value::String(value) => Some(value.clone()),
            Value::Number(number) => Some(number.to_string()),
            _ => None,
        },
        _ => None,
    };
    owner.filter(|value| !value.is_empty())
}

/// The optional body: absent, empty or whitespace-only means none, whatever the Content-Type.
fn parse_body(request: &Request, function: Function) -> Result<Option<u32>, Error> {
    let bytes: &[u8] = request.body().as_ref();
    if bytes.len() > MAX_BODY_BYTES {
        return Err(Error::BodyTooLarge { limit: MAX_BODY_BYTES });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let is_json = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media_type| media_type.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(Error::UnsupportedMediaType);
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|_| Error::InvalidBody("the body is not valid JSON"))?;
    let Value::Object(members) = value else {
        return Err(Error::InvalidBody("the body must be a JSON object"));
    };
    // `Value` keeps the last of two members with one name; which one a caller meant is anyone's guess.
    if !has_unique_members(bytes) {
        return Err(Error::InvalidBody("a member appears more than once"));
    }
    let mut expires_in_seconds = None;
    for (name, value) in &members {
        match (function, name.as_str()) {
            (Function::IssueLink, "expires_in_seconds") => {
                let seconds = value
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .filter(|n| LINK_EXPIRY_RANGE.contains(n))
                    .ok_or(Error::InvalidBody("expires_in_seconds must be an integer from 60 to 604800"))?;
                expires_in_seconds = Some(seconds);
            }
            (Function::IssueLink, _) => {
                return Err(Error::InvalidBody("unknown member: only expires_in_seconds is accepted"))
            }
            (Function::ResumeSession, _) => return Err(Error::InvalidBody("this function accepts no body members")),
        }
    }
    Ok(expires_in_seconds)
}

/// Whether every JSON object in `bytes`, at any depth, names each member once. A `Value` keeps the last of two
/// members with one name; which one a sender meant is anyone's guess (RFC 8259: names SHOULD be unique).
pub fn has_unique_members(bytes: &[u8]) -> bool {
    serde_json::from_slice::<UniqueMembers>(bytes).is_ok()
}

struct UniqueMembers;

impl<'de> serde::Deserialize<'de> for UniqueMembers {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = UniqueMembers;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("JSON without repeated member names")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<UniqueMembers, A::Error> {
                let mut names = std::collections::HashSet::new();
                while let Some(name) = map.next_key::<String>()? {
                    if !names.insert(name) {
                        return Err(serde::de::Error::custom("duplicate member"));
                    }
                    map.next_value::<UniqueMembers>()?;
                }
                Ok(UniqueMembers)
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<UniqueMembers, A::Error> {
                while seq.next_element::<UniqueMembers>()?.is_some() {}
                Ok(UniqueMembers)
            }

            fn visit_bool<E>(self, _: bool) -> Result<UniqueMembers, E> {
                Ok(UniqueMembers)
            }

            fn visit_i64<E>(self, _: i64) -> Result<UniqueMembers, E> {
                Ok(UniqueMembers)
            }

            fn visit_u64<E>(self, _: u64) -> Result<UniqueMembers, E> {
                Ok(UniqueMembers)
            }

            fn visit_f64<E>(self, _: f64) -> Result<UniqueMembers, E> {
                Ok(UniqueMembers)
            }

            fn visit_str<E>(self, _: &str) -> Result<UniqueMembers, E> {
                Ok(UniqueMembers)
            }

            fn visit_unit<E>(self) -> Result<UniqueMembers, E> {
                Ok(UniqueMembers)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lambda::api_event::ApiEvent;
    use serde_json::json;

    fn request(body: &str) -> Request {
        let event = ApiEvent::http_api("POST", "/inquiries/{inquiry_id}/one-time-link", "/inquiries/inq_1/one-time-link")
            .inquiry_id("inq_1")
            .header("content-type", "application/json")
            .claims(json!({"sub": "user-1"}))
            .body(body)
            .build();
        crate::lambda::event::parse_event(event).unwrap().into()
    }

    fn expiry(body: &str) -> Result<Option<u32>, Error> {
        parse_request(&request(body), Function::IssueLink, AuthMode::Jwt, "sub").map(|r| match r.action {
            Action::Link { expires_in_seconds } => expires_in_seconds,
            Action::Session => panic!("issue-link asks for a link"),
        })
    }

    #[test]
    fn duplicate_members_are_refused() {
        let duplicate = r#"{"expires_in_seconds": 60, "expires_in_seconds": 604800}"#;
        assert_eq!(expiry(duplicate), Err(Error::InvalidBody("a member appears more than once")));
        let resume = parse_request(&request(r#"{"a": 1, "a": 1}"#), Function::ResumeSession, AuthMode::Jwt, "sub");
        assert!(matches!(resume, Err(Error::InvalidBody(_))));
        assert_eq!(expiry(r#"{"expires_in_seconds": 600}"#), Ok(Some(600)));
        // At any depth (the fuzz oracle uses the same check on Persona's documents).
        assert!(has_unique_members(br#"{"a": [{"b": 1, "c": {"b": 2}}], "b": null}"#));
        assert!(!has_unique_members(br#"{"a": [{"b": 1, "b": 2}]}"#));
        assert!(!has_unique_members(br#"{"a": {"data": {"id": "x", "id": "y"}}}"#));
    }

    #[test]
    fn numbers_at_the_edges() {
        for body in [
            r#"{"expires_in_seconds": 60.0}"#,
            r#"{"expires_in_seconds": 6e1}"#,
            r#"{"expires_in_seconds": -0}"#,
            r#"{"expires_in_seconds": 1e400}"#,
            r#"{"expires_in_seconds": 18446744073709551616}"#,
            r#"{"expires_in_seconds": 4294967356}"#,
            r#"{"expires_in_seconds": 59}"#,
        ] {
            assert!(matches!(expiry(body), Err(Error::InvalidBody(_))), "{body}");
        }
        assert_eq!(expiry(r#"{"expires_in_seconds": 60}"#), Ok(Some(60)));
        assert_eq!(expiry(r#"{"expires_in_seconds": 604800}"#), Ok(Some(604_800)));
    }

    #[test]
    fn deep_nesting_is_an_invalid_body_not_a_stack_overflow() {
        for body in [
            "[".repeat(10_000),
            "{\"a\":".repeat(10_000),
            format!("{{\"x\": {}1{}}}", "[".repeat(5000), "]".repeat(5000)),
        ] {
            let body = &body[..body.len().min(MAX_BODY_BYTES)];
            assert!(matches!(expiry(body), Err(Error::InvalidBody(_))));
        }
    }
}
