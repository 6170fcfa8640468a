//! A JWT authorizer that checks tokens the way API Gateway's HTTP API JWT authorizer does: the token from
//! `Authorization` (a `Bearer ` prefix is removed), a `kid` found in the JWKS, an RS256 signature, `exp` and
//! `nbf` (and `iat` not in the future), `iss` equal to the issuer, `aud` among the audiences. Anything else is
//! 401 `{"message":"Unauthorized"}` — the function is not invoked.
//!
//! Verified claims reach the function as API Gateway passes them in payload 2.0: every value a string.

use std::collections::HashSet;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

/// Why a request was refused (kept for the gateway's log; the caller only sees "Unauthorized").
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    MissingToken,
    Malformed,
    UnknownKey,
    Invalid(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::MissingToken => f.write_str("no Authorization header"),
            Refusal::Malformed => f.write_str("not a JWT"),
            Refusal::UnknownKey => f.write_str("kid not in the JWKS"),
            Refusal::Invalid(why) => write!(f, "token rejected: {why}"),
        }
    }
}

/// The keys and expectations of one authorizer (JwtIssuer / JwtAudience in template.yaml).
pub struct Authorizer {
    keys: Vec<(String, DecodingKey)>,
    issuer: String,
    audiences: Vec<String>,
}

impl Authorizer {
    /// From a JWKS document; keys without a `kid`, or not RSA, are skipped (API Gateway needs the kid).
    pub fn from_jwks(jwks: &Value, issuer: &str, audiences: &[String]) -> Result<Authorizer, String> {
        let set: JwkSet = serde_json::from_value(jwks.clone()).map_err(|e| format!("bad JWKS: {e}"))?;
        let keys = set
            .keys
            .iter()
            .filter_map(|jwk| {
                let kid = jwk.common.key_id.clone()?;
                let key = DecodingKey::from_jwk(jwk).ok()?;
                Some((kid, key))
            })
            .collect();
        Ok(Authorizer { keys, issuer: issuer.to_owned(), audiences: audiences.to_vec() })
    }

    /// The verified claims of the request's token, `now` in epoch seconds.
    pub fn authorize(&self, authorization: Option<&str>, now: u64) -> Result<Map<String, Value>, Refusal> {
        let raw = authorization.map(str::trim).filter(|v| !v.is_empty()).ok_or(Refusal::MissingToken)?;
        let token = match raw.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
            _ => raw,
        };
        let header = jsonwebtoken::decode_header(token).map_err(|_| Refusal::Malformed)?;
        let kid = header.kid.ok_or(Refusal::UnknownKey)?;
        let key = self.keys.iter().find(|(k, _)| *k == kid).map(|(_, key)| key).ok_or(Refusal::UnknownKey)?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = 0;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&self.audiences);
        validation.required_spec_claims = HashSet::from(["exp".to_owned(), "iss".to_owned(), "aud".to_owned()]);
        // jsonwebtoken reads the clock itself; `now` is checked again below so tests can move time.
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation)
            .map_err(|e| Refusal::Invalid(e.kind_name()))?;
        let claims = data.claims;
        let number = |name: &str| claims.get(name).and_then(Value::as_u64);
        if number("exp").is_none_or(|exp| exp <= now) {
            return Err(Refusal::Invalid("expired".into()));
        }
        if number("nbf").is_some_and(|nbf| nbf > now) || number("iat").is_some_and(|iat| iat > now) {
            return Err(Refusal::Invalid("not yet valid".into()));
        }
        Ok(claims)
    }
}

/// Claims as payload 2.0 carries them: strings as they are, other values as text (arrays as `[a b]`).
pub fn claims_for_event(claims: &Map<String, Value>) -> Map<String, Value> {
    claims.iter().map(|(name, value)| (name.clone(), Value::String(claim_text(value)))).collect()
}

fn claim_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => format!("[{}]", items.iter().map(claim_text).collect::<Vec<_>>().join(" ")),
        other => other.to_string(),
    }
}

/// The `scope` claim split the way API Gateway fills `authorizer.jwt.scopes` (None without one).
pub fn scopes(claims: &Map<String, Value>) -> Option<Vec<String>> {
    let scope = claims.get("scope").or_else(|| claims.get("scp"))?;
    match scope {
        Value::String(s) => Some(s.split_whitespace().map(str::to_owned).collect()),
        Value::Array(items) => Some(items.iter().filter_map(Value::as_str).map(str::to_owned).collect()),
        _ => None,
    }
}

trait KindName {
    fn kind_name(&self) -> String;
}

impl KindName for jsonwebtoken::errors::Error {
    fn kind_name(&self) -> String {
        use jsonwebtoken::errors::ErrorKind;
        match self.kind() {
            ErrorKind::ExpiredSignature => "expired".into(),
            ErrorKind::ImmatureSignature => "not yet valid".into(),
            ErrorKind::InvalidIssuer => "wrong issuer".into(),
            ErrorKind::InvalidAudience => "wrong audience".into(),
            ErrorKind::InvalidSignature => "bad signature".into(),
            ErrorKind::InvalidAlgorithm => "wrong algorithm".into(),
            ErrorKind::MissingRequiredClaim(c) => format!("missing claim {c}"),
            other => format!("{other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dev_gateway::issuer::{Issuer, IssuerIdentity};
    use serde_json::json;

    fn now() -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
    }

    fn issuer(dir: &std::path::Path, name: &str) -> Issuer {
        let identity =
            IssuerIdentity { issuer: "http://127.0.0.1:1/dev".into(), audience: "persona-resume-dev".into() };
        Issuer::load_or_create(&dir.join(name), identity).expect("issuer")
    }

    fn scratch() -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("dev-gateway-authorizer-{}-{}", std::process::id(), fastrand::u64(..)));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        dir
    }

    #[test]
    fn tokens_are_checked_like_api_gateway() {
        let dir = scratch();
        let ours = issuer(&dir, "a.pem");
        let other = issuer(&dir, "b.pem");
        let id = ours.identity().clone();
        let authorizer = Authorizer::from_jwks(ours.jwks(), &id.issuer, std::slice::from_ref(&id.audience)).unwrap();
        let t = now();
        let good = ours.token("alice", t, 600).unwrap();
        let expired = ours.token("alice", t - 1200, 600).unwrap();
        let future = ours.token("alice", t + 600, 600).unwrap();
        let foreign = other.token("alice", t, 600).unwrap();
        let wrong_aud = Issuer::load_or_create(
            &dir.join("a.pem"),
            IssuerIdentity { audience: "someone-else".into(), ..id.clone() },
        )
        .unwrap()
        .token("alice", t, 600)
        .unwrap();
        let wrong_iss =
            Issuer::load_or_create(&dir.join("a.pem"), IssuerIdentity { issuer: "https://evil".into(), ..id.clone() })
                .unwrap()
                .token("alice", t, 600)
                .unwrap();
        let mut tampered = good.clone();
        tampered.pop();
        tampered.push(if good.ends_with('A') { 'B' } else { 'A' });

        let bearer = |token: &str| format!("Bearer {token}");
        let cases: Vec<(&str, Option<String>, bool)> = vec![
            ("good, Bearer prefix", Some(bearer(&good)), true),
            ("good, lower-case prefix", Some(format!("bearer {good}")), true),
            ("good, no prefix", Some(good.clone()), true),
            ("no header", None, false),
            ("empty header", Some(String::new()), false),
            ("not a JWT", Some("Bearer nope".into()), false),
            ("expired", Some(bearer(&expired)), false),
            ("not yet valid", Some(bearer(&future)), false),
            ("signed by another key", Some(bearer(&foreign)), false),
            ("wrong audience", Some(bearer(&wrong_aud)), false),
            ("wrong issuer", Some(bearer(&wrong_iss)), false),
            ("tampered signature", Some(bearer(&tampered)), false),
        ];
        for (what, header, accepted) in cases {
            let result = authorizer.authorize(header.as_deref(), t);
            assert_eq!(result.is_ok(), accepted, "{what}: {result:?}");
            if let Ok(claims) = result {
                assert_eq!(claims.get("sub"), Some(&json!("alice")), "{what}");
            }
        }
        // The key persists: a second load signs tokens the first one's JWKS accepts.
        let again = issuer(&dir, "a.pem");
        assert_eq!(again.jwks(), ours.jwks());
        assert!(authorizer.authorize(Some(&bearer(&again.token("bob", t, 60).unwrap())), t).is_ok());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn claims_become_strings_like_payload_2_0() {
        let claims = json!({"sub": "alice", "exp": 1700000000, "admin": true, "groups": ["a", "b"], "n": null});
        let Value::Object(claims) = claims else { unreachable!() };
        let event = claims_for_event(&claims);
        assert_eq!(
            Value::Object(event),
            json!({"sub": "alice", "exp": "1700000000", "admin": "true", "groups": "[a b]", "n": "null"})
        );
    }

    #[test]
    fn scopes_from_the_scope_claim() {
        let Value::Object(with) = json!({"scope": "openid email"}) else { unreachable!() };
        let Value::Object(without) = json!({"sub": "x"}) else { unreachable!() };
        assert_eq!(scopes(&with), Some(vec!["openid".to_owned(), "email".to_owned()]));
        assert_eq!(scopes(&without), None);
    }
}
