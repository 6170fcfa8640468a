//! The local token issuer: an RS256 key pair kept in a file (so `make dev` and `make token` agree across
//! restarts), its JWKS, and tokens for a demo user. RS256 because API Gateway's JWT authorizer accepts
//! RSA-signed tokens.

use std::path::Path;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

/// Lifetime of an issued token.
pub const TOKEN_TTL_SECONDS: u64 = 3600;

/// Who signs, for whom: the `iss` and `aud` of every token, checked by the gateway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuerIdentity {
    pub issuer: String,
    pub audience: String,
}

/// The issuer's key and what the gateway needs to check its tokens.
pub struct Issuer {
    identity: IssuerIdentity,
    kid: String,
    encoding: EncodingKey,
    jwks: Value,
}

impl std::fmt::Debug for Issuer {
    // Never print the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer").field("identity", &self.identity).field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl Issuer {
    /// Reads the PKCS#8 PEM key at `key_file`, or generates one and writes it there (mode 0600).
    pub fn load_or_create(key_file: &Path, identity: IssuerIdentity) -> Result<Issuer, String> {
        let der = match std::fs::read_to_string(key_file) {
            Ok(pem) => pem_to_der(&pem).ok_or_else(|| format!("{}: not a PKCS#8 PEM key", key_file.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let der = generate_pkcs8()?;
                write_private(key_file, &der_to_pem(&der))?;
                der
            }
            Err(e) => return Err(format!("cannot read {}: {e}", key_file.display())),
        };
        Issuer::from_pkcs8(&der, identity)
    }

    fn from_pkcs8(der: &[u8], identity: IssuerIdentity) -> Result<Issuer, String> {
        let pair = KeyPair::from_pkcs8(der).map_err(|e| format!("issuer key rejected: {e}"))?;
        let public = pair.public_key();
        let n = URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero());
        let e = URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero());
        // A key id derived from the public key: a regenerated key gets a new kid, so stale tokens fail cleanly.
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, n.as_bytes());
        let kid = URL_SAFE_NO_PAD.encode(&digest.as_ref()[..12]);
        let jwks = json!({"keys": [{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e}]});
        let encoding = EncodingKey::from_rsa_pem(der_to_pem(der).as_bytes())
            .map_err(|e| format!("issuer key unusable for RS256: {e}"))?;
        Ok(Issuer { identity, kid, encoding, jwks })
    }

    pub fn identity(&self) -> &IssuerIdentity {
        &self.identity
    }

    /// The public keys, as served at `/.well-known/jwks.json`.
    pub fn jwks(&self) -> &Value {
        &self.jwks
    }

    /// A token for `sub`, valid from `now` (epoch seconds) for `ttl` seconds.
    pub fn token(&self, sub: &str, now: u64, ttl: u64) -> Result<String, String> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        let claims = json!({
            "iss": self.identity.issuer, "aud": self.identity.audience, "sub": sub,
            "iat": now, "nbf": now, "exp": now + ttl, "scope": "openid",
        });
        jsonwebtoken::encode(&header, &claims, &self.encoding).map_err(|e| format!("cannot sign a token: {e}"))
    }
}

fn generate_pkcs8() -> Result<Vec<u8>, String> {
    let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| "cannot generate an RSA key".to_owned())?;
    let der = pair.as_der().map_err(|_| "cannot encode the RSA key".to_owned())?;
    Ok(der.as_ref().to_vec())
}

fn der_to_pem(der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    pem
}

fn pem_to_der(pem: &str) -> Option<Vec<u8>> {
    let body = pem.trim().strip_prefix("-----BEGIN PRIVATE KEY-----")?.strip_suffix("-----END PRIVATE KEY-----")?;
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD.decode(b64).ok()
}

fn write_private(path: &Path, contents: &str) -> Result<(), String> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    file.write_all(contents.as_bytes()).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trip() {
        let der = vec![1u8, 2, 3, 250, 251, 252];
        assert_eq!(pem_to_der(&der_to_pem(&der)), Some(der));
        assert_eq!(pem_to_der("-----BEGIN RSA PRIVATE KEY-----\nAA==\n-----END RSA PRIVATE KEY-----"), None);
    }
}
