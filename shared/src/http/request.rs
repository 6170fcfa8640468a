//! Request rules (design.md, "Request rules"): method, owner claim, inquiry id, body. Nothing here talks to
//! Persona; a request that breaks a rule never reaches it.

use lambda_http::http::header::CONTENT_TYPE;
use lambda_http::http::Method;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use serde_json::Value;

use crate::config::{AuthMode, LINK_EXPIRY_RANGE};
use crate::error::Error;
use crate::ids::is_valid_inquiry_id;
use crate::service::{Endpoint, ResumeRequest, Target};

pub const MAX_BODY_BYTES: usize = 8 * 1024;
pub const INQUIRY_ID_PARAMETER: &str = "inquiry_id";

/// Applies every request rule, in order: method (405), inquiry id (400), owner claim (401), body size (413),
/// content type (415), body (400).
pub fn parse_request(
    request: &Request,
    endpoint: Endpoint,
    auth_mode: AuthMode,
    owner_claim: &str,
) -> Result<ResumeRequest, Error> {
    if request.method() != Method::POST {
        return Err(Error::MethodNotAllowed);
    }
    let target = target(request)?;
    let owner = match auth_mode {
        AuthMode::Jwt => Some(owner_from_claims(request, owner_claim).ok_or(Error::Unauthenticated)?),
        AuthMode::Iam => None,
    };
    if target == Target::Me && owner.is_none() {
        return Err(Error::Unauthenticated); // `/me` needs a user: JWT mode only.
    }
    let link_expires_in_seconds = parse_body(request, endpoint)?;
    Ok(ResumeRequest { target, owner, link_expires_in_seconds })
}

/// `/inquiries/{inquiry_id}/…` carries the id as a path parameter; `/me/…` carries none.
fn target(request: &Request) -> Result<Target, Error> {
    let parameters = request.path_parameters();
    if let Some(inquiry_id) = parameters.first(INQUIRY_ID_PARAMETER) {
        return if is_valid_inquiry_id(inquiry_id) {
            Ok(Target::Inquiry(inquiry_id.to_owned()))
        } else {
            Err(Error::InvalidInquiryId)
        };
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
fn parse_body(request: &Request, endpoint: Endpoint) -> Result<Option<u32>, Error> {
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
    let value: Value =
        serde_json::from_slice(bytes).map_err(|_| Error::InvalidBody("the body is not valid JSON".into()))?;
    let Value::Object(members) = value else {
        return Err(Error::InvalidBody("the body must be a JSON object".into()));
    };
    let mut expires_in_seconds = None;
    for (name, value) in &members {
        match (endpoint, name.as_str()) {
            (Endpoint::IssueLink, "expires_in_seconds") => {
                let seconds = value
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .filter(|n| LINK_EXPIRY_RANGE.contains(n))
                    .ok_or_else(|| {
                        Error::InvalidBody("expires_in_seconds must be an integer from 60 to 604800".into())
                    })?;
                expires_in_seconds = Some(seconds);
            }
            (Endpoint::IssueLink, _) => {
                return Err(Error::InvalidBody("unknown member: only expires_in_seconds is accepted".into()))
            }
            (Endpoint::ResumeSession, _) => {
                return Err(Error::InvalidBody("this endpoint accepts no body members".into()))
            }
        }
    }
    Ok(expires_in_seconds)
}
