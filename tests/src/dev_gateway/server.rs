//! The gateway's HTTP side (axum): the API routes in front of the functions, the issuer's JWKS and
//! dev-only token endpoint, and the front-end kit.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tower_http::services::ServeDir;

use super::authorizer::{claims_for_event, scopes, Authorizer};
use super::event::{http_api_event, IncomingRequest};
use super::issuer::{Issuer, TOKEN_TTL_SECONDS};
use super::routes::{route, RouteMatch, Routing};
use crate::runtime_api::HttpResponse;

/// API Gateway's payload limit for a request body.
const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// How the gateway is set up.
#[derive(Clone, Debug)]
pub struct GatewayConfig {
    /// Where `cargo lambda watch` listens (its `/2015-03-31/functions/{name}/invocations`).
    pub functions_url: String,
    /// `examples/web`, served at `/web/`.
    pub web_root: PathBuf,
    /// Given to the kit (`/web/config.js`): Persona's client `customHost`, e.g. `localhost:9000`, so its
    /// iframe loads the fake's stand-in flow.
    pub persona_custom_host: Option<String>,
    /// Sub-second for tests; minutes while `cargo lambda watch` builds a function on its first call.
    pub invoke_timeout: Duration,
}

struct AppState {
    config: GatewayConfig,
    issuer: Issuer,
    authorizer: Authorizer,
    client: reqwest::Client,
    requests: AtomicU64,
}

/// The gateway's router.
pub fn app(config: GatewayConfig, issuer: Issuer) -> Result<Router, String> {
    let identity = issuer.identity().clone();
    let authorizer = Authorizer::from_jwks(issuer.jwks(), &identity.issuer, std::slice::from_ref(&identity.audience))?;
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(config.invoke_timeout)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    let web = ServeDir::new(&config.web_root).append_index_html_on_directories(true);
    let state = Arc::new(AppState { config, issuer, authorizer, client, requests: AtomicU64::new(0) });
    Ok(Router::new()
        .route("/.well-known/jwks.json", get(jwks))
        .route("/dev/token", post(token))
        .route("/web/config.js", get(kit_config))
        .route("/", get(|| async { Redirect::temporary("/web/") }))
        .nest_service("/web", web)
        .fallback(api)
        .with_state(state))
}

/// Serves `app` on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, app: Router) -> std::io::Result<()> {
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await
}

async fn jwks(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(state.issuer.jwks().clone())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    sub: String,
}

/// Dev only: a token for any demo user, as a sign-in would give (no password: this is the local issuer).
async fn token(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let request: TokenRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(_) => return message(StatusCode::BAD_REQUEST, "send {\"sub\": \"alice\"}"),
    };
    if let Err(why) = valid_subject(&request.sub) {
        return message(StatusCode::BAD_REQUEST, why);
    }
    match state.issuer.token(&request.sub, now_seconds(), TOKEN_TTL_SECONDS) {
        Ok(token) => {
            let mut response =
                Json(json!({"token": token, "token_type": "Bearer", "expires_in": TOKEN_TTL_SECONDS})).into_response();
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(e) => {
            eprintln!("gateway: {e}");
            message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
    }
}

/// A subject a demo sign-in accepts: 1–64 letters, digits, `-`, `_`, `.`, `@`.
pub fn valid_subject(sub: &str) -> Result<(), &'static str> {
    let ok = !sub.is_empty()
        && sub.len() <= 64
        && sub.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'));
    if ok {
        Ok(())
    } else {
        Err("sub must be 1-64 letters, digits, '-', '_', '.' or '@'")
    }
}

async fn kit_config(State(state): State<Arc<AppState>>) -> Response {
    let config = json!({
        "apiBase": "",
        "devTokenEndpoint": "/dev/token",
        "personaCustomHost": state.config.persona_custom_host,
    });
    let script = format!(
        "// Served by the dev gateway (make dev). In production, write your own: apiBase = your API's URL,\n\
         // no devTokenEndpoint (your sign-in gives the token), no personaCustomHost.\n\
         window.PERSONA_RESUME_CONFIG = {config};\n"
    );
    let mut response = script.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The API: route, authorize, invoke, answer — in API Gateway's order.
async fn api(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let uri = request.uri().clone();
    let source_ip = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "127.0.0.1".into());
    let (response, note) = match route(method.as_str(), uri.path()) {
        Routing::NotFound => (message(StatusCode::NOT_FOUND, "Not Found"), "no route".to_owned()),
        Routing::MethodNotAllowed => {
            let mut response = message(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
            response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
            (response, "method not allowed".to_owned())
        }
        Routing::Invoke(matched) => {
            let headers = request.headers().clone();
            let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
            match state.authorizer.authorize(authorization, now_seconds()) {
                Err(refusal) => (message(StatusCode::UNAUTHORIZED, "Unauthorized"), refusal.to_string()),
                Ok(claims) => {
                    let body = match axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES).await {
                        Ok(b) => b,
                        Err(_) => {
                            let response = message(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
                            log(&method, &uri, &response, "body too large", started);
                            return response;
                        }
                    };
                    let seq = state.requests.fetch_add(1, Ordering::Relaxed) + 1;
                    let incoming = IncomingRequest {
                        method: method.as_str(),
                        raw_path: uri.path(),
                        raw_query: uri.query().unwrap_or(""),
                        headers: header_pairs(&headers),
                        body: &body,
                        source_ip,
                        request_id: format!("dev-{seq:08}"),
                        time_epoch_ms: now_seconds() * 1000,
                    };
                    let event = http_api_event(&incoming, &matched, claims_for_event(&claims), scopes(&claims));
                    invoke(&state, &matched, &event).await
                }
            }
        }
    };
    log(&method, &uri, &response, &note, started);
    response
}

/// Invokes the function through `cargo lambda watch` and turns its proxy response into HTTP.
async fn invoke(state: &AppState, matched: &RouteMatch, event: &Value) -> (Response, String) {
    let name = matched.function.name();
    let url = format!("{}/2015-03-31/functions/{name}/invocations", state.config.functions_url.trim_end_matches('/'));
    let answer = match state
        .client
        .post(&url)
        .header(header::CONTENT_TYPE, "application/json")
        .body(event.to_string())
        .send()
        .await
    {
        Ok(a) => a,
        // API Gateway's own answers when the integration does not answer in time, or not at all.
        Err(e) if e.is_timeout() => {
            return (
                message(StatusCode::GATEWAY_TIMEOUT, "Endpoint request timed out"),
                format!("{name}: no answer from cargo lambda watch within {:?}", state.config.invoke_timeout),
            );
        }
        Err(_) => {
            return (
                message(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable"),
                format!("{name}: cargo lambda watch unreachable at {url}"),
            );
        }
    };
    let status = answer.status();
    let payload: Option<Value> = answer.bytes().await.ok().and_then(|b| serde_json::from_slice::<Value>(&b).ok());
    match payload.as_ref().map(HttpResponse::from_proxy_response) {
        Some(Ok(proxy)) if status.is_success() => (to_response(proxy), name.to_owned()),
        // A function error or a payload that is not a proxy response: API Gateway says 500.
        _ => (
            message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
            format!("{name}: invocation failed (watch answered {status})"),
        ),
    }
}

fn to_response(proxy: HttpResponse) -> Response {
    let mut response = Response::new(Body::from(proxy.body));
    *response.status_mut() = StatusCode::from_u16(proxy.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    for (name, values) in proxy.headers {
        let Ok(name) = header::HeaderName::from_bytes(name.as_bytes()) else { continue };
        for value in values {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.append(name.clone(), value);
            }
        }
    }
    for cookie in proxy.cookies {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            headers.append(header::SET_COOKIE, value);
        }
    }
    response
}

fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter_map(|(name, value)| value.to_str().ok().map(|v| (name.as_str().to_owned(), v.to_owned())))
        .collect()
}

/// API Gateway's own answers: `{"message": "..."}`.
fn message(status: StatusCode, text: &str) -> Response {
    (status, Json(json!({"message": text}))).into_response()
}

/// One line per API request; never a header value (tokens) or a body (links, tokens).
fn log(method: &Method, uri: &Uri, response: &Response, note: &str, started: Instant) {
    eprintln!(
        "gateway: {method} {} -> {} ({note}, {} ms)",
        uri.path(),
        response.status().as_u16(),
        started.elapsed().as_millis()
    );
}

fn now_seconds() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::valid_subject;

    #[test]
    fn demo_subjects() {
        for ok in ["alice", "bob", "demo-user-pending", "a.b@c_d"] {
            assert!(valid_subject(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a b", "a/b", "ä", &"x".repeat(65)] {
            assert!(valid_subject(bad).is_err(), "{bad:?}");
        }
    }
}
