//! A minimal stand-in for Persona's hosted and embedded flow pages, so the whole front-end journey can be
//! walked offline (`make dev`, the browser test). Not Persona's flow: it only says whether Persona would let
//! the visitor in.
//!
//! - `GET /verify?code=…`: a one-time link the fake handed out (its links point here when
//!   `Settings::link_base_url` does). Accepted once; a second visit says the link was used.
//! - `GET /verify?inquiry-id=…&session-token=…`: the hosted flow URL our API answers with; accepted when the
//!   token is a valid session of that inquiry. Without a token, only a `created` inquiry opens (Persona loads
//!   a not-yet-started inquiry by its id; our API answers `session_token: null` for one it would not resume).
//! - `GET /widget?…`: what Persona's JS client (`persona` on npm) loads in its iframe when constructed with
//!   `customHost` pointing at the fake; same check as above, and it posts the client's `load` and `ready`
//!   messages to the parent page so the real client opens it.
//!
//! Every page has `<main data-outcome="…" data-inquiry-id="…">` for tests to read.

use http::{header, HeaderValue, Method, Response};

use super::model::{Inquiry, SessionKind, Store};
use super::server::Body;
use super::state::Shared;
use super::util::now_ms;

/// The answer to a flow page request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Let in with a one-time link (now used up).
    LinkAccepted {
        inquiry_id: String,
        reference_id: Option<String>,
    },
    /// Let in with a session token.
    TokenAccepted {
        inquiry_id: String,
        reference_id: Option<String>,
    },
    /// Let in by inquiry id alone (a created inquiry).
    IdAccepted {
        inquiry_id: String,
        reference_id: Option<String>,
    },
    LinkUsed,
    LinkExpired,
    LinkUnknown,
    /// No such inquiry, or the token is not a valid session of it.
    TokenRefused,
    /// Neither a code nor an inquiry id with a session token.
    BadRequest,
}

impl Outcome {
    fn status(&self) -> u16 {
        match self {
            Outcome::LinkAccepted { .. } | Outcome::TokenAccepted { .. } | Outcome::IdAccepted { .. } => 200,
            Outcome::LinkUsed | Outcome::LinkExpired => 410,
            Outcome::LinkUnknown => 404,
            Outcome::TokenRefused => 403,
            Outcome::BadRequest => 400,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Outcome::LinkAccepted { .. } => "link-accepted",
            Outcome::TokenAccepted { .. } => "token-accepted",
            Outcome::IdAccepted { .. } => "id-accepted",
            Outcome::LinkUsed => "link-used",
            Outcome::LinkExpired => "link-expired",
            Outcome::LinkUnknown => "link-unknown",
            Outcome::TokenRefused => "token-refused",
            Outcome::BadRequest => "bad-request",
        }
    }
}

/// Serves the flow pages; `None` for any other request (the Persona API pipeline handles it).
pub fn handle(shared: &Shared, method: &Method, path: &str, query: Option<&str>) -> Option<Response<Body>> {
    let page = match path.trim_end_matches('/') {
        "/verify" => Page::Hosted,
        "/widget" => Page::Widget,
        _ => return None,
    };
    if method != Method::GET && method != Method::HEAD {
        return Some(html(405, "Method not allowed", "<p>This page only answers GET.</p>", "bad-request", None));
    }
    let params: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or("").as_bytes()).into_owned().collect();
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty());
    let outcome = {
        let mut state = shared.lock();
        let store = &mut state.store;
        match (page, param("code"), param("inquiry-id"), param("session-token")) {
            (Page::Hosted, Some(code), _, _) => open_link(store, code, now_ms()),
            (_, None, Some(id), Some(token)) => open_with_token(store, id, token, now_ms()),
            (_, None, Some(id), None) => open_by_id(store, id),
            _ => Outcome::BadRequest,
        }
    };
    Some(render(page, &outcome, param("container-id")))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Page {
    Hosted,
    Widget,
}

/// The code of a link (`…?code=us1-…`).
fn code_of(link: &str) -> Option<String> {
    let query = link.split_once('?')?.1;
    url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "code").map(|(_, v)| v.into_owned())
}

/// Opens a one-time link: the first visit uses it up.
pub fn open_link(store: &mut Store, code: &str, now: u64) -> Outcome {
    for inquiry in store.inquiries.values_mut() {
        let (inquiry_id, reference_id) = (inquiry.id.clone(), inquiry.reference_id.clone());
        let matches = |link: &Option<String>| link.as_deref().and_then(code_of).as_deref() == Some(code);
        let found = inquiry
            .sessions
            .iter_mut()
            .find(|s| s.kind == SessionKind::Link && (matches(&s.one_time_link) || matches(&s.one_time_link_short)));
        if let Some(session) = found {
            if session.used {
                return Outcome::LinkUsed;
            }
            if !session.is_valid(now) {
                return Outcome::LinkExpired;
            }
            session.used = true;
            // Persona's one-time links are single-use: a used one no longer counts as a valid link, so the
            // next generate-one-time-link hands out a fresh one.
            session.invalidated = true;
            return Outcome::LinkAccepted { inquiry_id, reference_id };
        }
    }
    Outcome::LinkUnknown
}

/// Opens an inquiry with a session token (not single-use, as at Persona).
pub fn open_with_token(store: &mut Store, inquiry_id: &str, token: &str, now: u64) -> Outcome {
    let Some(inquiry) = store.inquiries.get_mut(inquiry_id) else {
        return Outcome::TokenRefused;
    };
    let reference_id = inquiry.reference_id.clone();
    match valid_token_session(inquiry, token, now) {
        Some(index) => {
            // The user opened the flow with it: like Persona, a later resume hands out a new token.
            inquiry.sessions[index].used = true;
            Outcome::TokenAccepted { inquiry_id: inquiry.id.clone(), reference_id }
        }
        None => Outcome::TokenRefused,
    }
}

/// Opens an inquiry by id alone: only one not started yet (`created`), as Persona loads those without a token.
pub fn open_by_id(store: &Store, inquiry_id: &str) -> Outcome {
    match store.inquiries.get(inquiry_id) {
        Some(inquiry) if inquiry.status == "created" && !inquiry.is_redacted() => {
            Outcome::IdAccepted { inquiry_id: inquiry.id.clone(), reference_id: inquiry.reference_id.clone() }
        }
        _ => Outcome::TokenRefused,
    }
}

fn valid_token_session(inquiry: &Inquiry, token: &str, now: u64) -> Option<usize> {
    if inquiry.is_redacted() {
        return None;
    }
    inquiry.sessions.iter().position(|s| s.kind == SessionKind::Token && s.token == token && s.is_valid(now))
}

fn render(page: Page, outcome: &Outcome, container_id: Option<&str>) -> Response<Body> {
    let (title, text, inquiry_id) = match outcome {
        Outcome::LinkAccepted { inquiry_id, reference_id } => (
            "Verification resumed",
            format!(
                "<p>One-time link accepted: inquiry <code>{}</code>{}.</p><p>Opening this link again will not work: \
                 it was for one visit.</p>",
                escape(inquiry_id),
                owner(reference_id)
            ),
            Some(inquiry_id.as_str()),
        ),
        Outcome::TokenAccepted { inquiry_id, reference_id } => (
            "Verification resumed",
            format!(
                "<p>Session token accepted: inquiry <code>{}</code>{}.</p>",
                escape(inquiry_id),
                owner(reference_id)
            ),
            Some(inquiry_id.as_str()),
        ),
        Outcome::IdAccepted { inquiry_id, reference_id } => (
            "Verification started",
            format!(
                "<p>Inquiry <code>{}</code>{} opened by its id (not started yet).</p>",
                escape(inquiry_id),
                owner(reference_id)
            ),
            Some(inquiry_id.as_str()),
        ),
        Outcome::LinkUsed => {
            ("Link already used", "<p>This one-time link was already used. Ask for a new one.</p>".to_owned(), None)
        }
        Outcome::LinkExpired => {
            ("Link expired", "<p>This one-time link has expired. Ask for a new one.</p>".into(), None)
        }
        Outcome::LinkUnknown => ("Link not valid", "<p>This link is not a one-time link we know.</p>".into(), None),
        Outcome::TokenRefused => {
            ("Session not valid", "<p>This session token is not valid for this inquiry.</p>".into(), None)
        }
        Outcome::BadRequest => (
            "Nothing to open",
            "<p>Open a one-time link (<code>?code=…</code>) or an inquiry with its session token \
             (<code>?inquiry-id=…&amp;session-token=…</code>).</p>"
                .into(),
            None,
        ),
    };
    let mut body = text;
    if page == Page::Widget {
        body.push_str(&widget_script(outcome, container_id));
    }
    html(outcome.status(), title, &body, outcome.name(), inquiry_id)
}

fn owner(reference_id: &Option<String>) -> String {
    reference_id.as_deref().map(|r| format!(" (reference-id <code>{}</code>)", escape(r))).unwrap_or_default()
}

/// Posts the messages Persona's client waits for (`load`, then `ready`; `error` when refused) and offers
/// the `exit` a user's "close" sends.
fn widget_script(outcome: &Outcome, container_id: Option<&str>) -> String {
    let container = serde_json::to_string(container_id.unwrap_or("")).unwrap_or_else(|_| "\"\"".into());
    let accepted = matches!(outcome, Outcome::TokenAccepted { .. } | Outcome::IdAccepted { .. });
    format!(
        r#"<p><button type="button" id="close">Close</button></p>
<script>
  const containerId = {container};
  const send = (name, extra) => window.parent.postMessage(Object.assign({{ name, containerId, metadata: {{}} }}, extra || {{}}), "*");
  send("load");
  {ready}
  document.getElementById("close").addEventListener("click", () => send("exit", {{ metadata: {{}} }}));
</script>"#,
        ready = if accepted {
            r#"send("ready");"#
        } else {
            r#"send("ready"); send("error", { error: { code: "session_not_valid" } });"#
        }
    )
}

fn html(status: u16, title: &str, body: &str, outcome: &str, inquiry_id: Option<&str>) -> Response<Body> {
    let page = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} — fake Persona</title>\
         <style>body{{font-family:system-ui,sans-serif;margin:2rem;color:#1c2333}}code{{background:#eef;padding:0 .2em}}\
         .banner{{color:#666;font-size:.85rem}}</style></head>\
         <body><p class=\"banner\">Fake Persona — a local stand-in for the verification flow (no data is collected here).</p>\
         <main data-outcome=\"{outcome}\" data-inquiry-id=\"{inquiry}\"><h1>{title}</h1>{body}</main></body></html>\n",
        title = escape(title),
        inquiry = escape(inquiry_id.unwrap_or("")),
    );
    let mut response = Response::new(Body::from(page));
    *response.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::BAD_REQUEST);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake_persona::model::{new_session, NewTemplate, SeedInquiry, Settings};

    fn store_with_sessions() -> (Store, String, String, String) {
        let mut store = Store::default();
        store.create_template(NewTemplate { id: Some("itmpl_T1".into()), ..NewTemplate::default() }).unwrap();
        let inquiry = store
            .seed_inquiry(SeedInquiry {
                id: Some("inq_Alice1".into()),
                template_id: "itmpl_T1".into(),
                status: Some("pending".into()),
                reference_id: Some("alice".into()),
                ..SeedInquiry::default()
            })
            .unwrap();
        let settings = Settings { link_base_url: "http://localhost:1/verify".into(), ..Settings::default() };
        let now = now_ms();
        let link = new_session(&inquiry.id, SessionKind::Link, &settings, now, 60_000);
        let token = new_session(&inquiry.id, SessionKind::Token, &settings, now, 60_000);
        let code = code_of(link.one_time_link.as_deref().unwrap()).unwrap();
        let token_text = token.token.clone();
        let stored = store.inquiries.get_mut("inq_Alice1").unwrap();
        stored.sessions.push(link);
        stored.sessions.push(token);
        (store, inquiry.id, code, token_text)
    }

    #[test]
    fn a_link_opens_once() {
        let (mut store, id, code, _) = store_with_sessions();
        let now = now_ms();
        let accepted = Outcome::LinkAccepted { inquiry_id: id, reference_id: Some("alice".into()) };
        assert_eq!(open_link(&mut store, &code, now), accepted);
        assert_eq!(open_link(&mut store, &code, now), Outcome::LinkUsed);
        assert_eq!(open_link(&mut store, "us1-nope", now), Outcome::LinkUnknown);
    }

    #[test]
    fn an_expired_link_is_refused() {
        let (mut store, _, code, _) = store_with_sessions();
        assert_eq!(open_link(&mut store, &code, now_ms() + 120_000), Outcome::LinkExpired);
    }

    #[test]
    fn a_token_opens_its_own_inquiry_only() {
        let (mut store, id, _, token) = store_with_sessions();
        let now = now_ms();
        let accepted = Outcome::TokenAccepted { inquiry_id: id.clone(), reference_id: Some("alice".into()) };
        assert_eq!(open_with_token(&mut store, &id, &token, now), accepted);
        assert_eq!(open_with_token(&mut store, &id, &token, now), accepted, "a session token is not single-use");
        assert_eq!(open_with_token(&mut store, "inq_Other1", &token, now), Outcome::TokenRefused);
        assert_eq!(open_with_token(&mut store, &id, "not-a-token", now), Outcome::TokenRefused);
        assert_eq!(open_with_token(&mut store, &id, &token, now + 120_000), Outcome::TokenRefused, "expired");
    }

    #[test]
    fn only_a_created_inquiry_opens_without_a_token() {
        let (mut store, id, _, _) = store_with_sessions();
        assert_eq!(open_by_id(&store, &id), Outcome::TokenRefused, "a pending inquiry needs its token");
        store.inquiries.get_mut(&id).unwrap().status = "created".into();
        let accepted = Outcome::IdAccepted { inquiry_id: id.clone(), reference_id: Some("alice".into()) };
        assert_eq!(open_by_id(&store, &id), accepted);
        assert_eq!(open_by_id(&store, "inq_Other1"), Outcome::TokenRefused);
    }

    #[test]
    fn pages_escape_and_mark_the_outcome() {
        let response =
            render(Page::Hosted, &Outcome::TokenAccepted { inquiry_id: "inq_<x>".into(), reference_id: None }, None);
        assert_eq!(response.status(), 200);
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let bytes = runtime.block_on(http_body_util::BodyExt::collect(response.into_body())).unwrap().to_bytes();
        let body = String::from_utf8(bytes.to_vec()).unwrap();
        assert!(body.contains("data-outcome=\"token-accepted\" data-inquiry-id=\"inq_&lt;x&gt;\""), "{body}");
        assert!(!body.contains("<x>"));
        assert_eq!(render(Page::Widget, &Outcome::BadRequest, Some("c1")).status(), 400);
    }
}
