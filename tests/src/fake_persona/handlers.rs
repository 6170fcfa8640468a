//! Persona's inquiry endpoints as functions of (state, request) -> answer. Auth, rate limits, faults,
//! idempotency and the contract check wrap these in `server.rs`.

use std::collections::HashMap;

use serde_json::{json, Map, Value};
use url::form_urlencoded;

use super::documents::{apply_sparse_fieldsets, error_doc, inquiry_resource, template_resource, unprocessable_doc};
use super::model::{
    fields_to_response_form, is_open_status, new_session, Endpoint, Inquiry, SessionKind, Settings, Store,
    SESSION_TTL_MS,
};
use super::util::{now_ms, parse_iso8601, Millis, DAY_MS};

/// A routed Persona request.
#[derive(Debug)]
pub struct ApiRequest<'a> {
    pub endpoint: Endpoint,
    pub inquiry_id: Option<&'a str>,
    /// Decoded query pairs, in order.
    pub query: &'a [(String, String)],
    pub body: &'a [u8],
}

/// A JSON answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    fn ok(body: Value) -> Answer {
        Answer { status: 200, body }
    }
    fn bad_request(details: &str) -> Answer {
        Answer { status: 400, body: error_doc("Bad Request", Some(details)) }
    }
    fn not_found() -> Answer {
        Answer { status: 404, body: error_doc("Record not found", None) }
    }
    fn conflict(details: &str) -> Answer {
        Answer { status: 409, body: error_doc("Conflict", Some(details)) }
    }
    fn unprocessable(details: &str, pointer: &str) -> Answer {
        Answer { status: 422, body: unprocessable_doc(details, pointer) }
    }
}

/// Handles one request against the state.
pub fn handle(store: &mut Store, settings: &Settings, req: &ApiRequest<'_>) -> Answer {
    let result = match req.endpoint {
        Endpoint::List => list(store, req),
        Endpoint::Create => create(store, settings, req),
        Endpoint::Get | Endpoint::Resume | Endpoint::Link | Endpoint::Expire => {
            let Some(id) = req.inquiry_id else {
                return Answer::not_found();
            };
            match req.endpoint {
                Endpoint::Get => get(store, settings, req, id),
                Endpoint::Resume => resume(store, settings, req, id),
                Endpoint::Link => link(store, settings, req, id),
                _ => expire(store, settings, req, id),
            }
        }
    };
    result.unwrap_or_else(|answer| answer)
}

type Handled = Result<Answer, Answer>;

/// Relationship paths an inquiry can `include`.
const INCLUDABLE: &[&str] = &[
    "account",
    "documents",
    "template",
    "inquiry-template",
    "inquiry-template-version",
    "reports",
    "transaction",
    "reviewer",
    "selfies",
    "sessions",
    "verifications",
];

/// `include` and `fields[...]` of a request.
#[derive(Debug, Default)]
struct Serialization {
    /// `None`: no `include` parameter (Persona then includes related objects by default).
    include: Option<Vec<String>>,
    fieldsets: HashMap<String, Vec<String>>,
}

fn split_list(value: &str) -> Vec<String> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// `name[inner]` -> `inner` when `key` has that shape.
fn bracketed<'k>(key: &'k str, name: &str) -> Option<&'k str> {
    key.strip_prefix(name)?.strip_prefix('[')?.strip_suffix(']')
}

fn serialization(query: &[(String, String)]) -> Result<Serialization, Answer> {
    let mut ser = Serialization::default();
    for (key, value) in query {
        if key == "include" {
            let include = split_list(value);
            if let Some(bad) = include.iter().find(|i| !INCLUDABLE.contains(&i.as_str())) {
                return Err(Answer::bad_request(&format!("include contains an invalid relationship path: {bad}")));
            }
            ser.include = Some(include);
        } else if let Some(kind) = bracketed(key, "fields") {
            ser.fieldsets.insert(kind.to_owned(), split_list(value));
        } else if key == "fields" {
            return Err(Answer::bad_request("fields must be given per type, e.g. fields[inquiry]=status"));
        }
    }
    Ok(ser)
}

/// `{"data": inquiry, "included": [...]}` (before any `meta`).
fn inquiry_document(store: &Store, settings: &Settings, inquiry: &Inquiry, ser: &Serialization) -> Map<String, Value> {
    let wants = |path: &str| ser.include.as_ref().is_none_or(|list| list.iter().any(|i| i == path));
    let mut included = Vec::new();
    if !settings.hide_templates {
        if let Some(template) = inquiry.template_id.as_ref().and_then(|id| store.templates.get(id)) {
            if wants("inquiry-template") {
                included.push(template_resource(template));
            }
        }
        if let Some(template) = inquiry.legacy_template_id.as_ref().and_then(|id| store.templates.get(id)) {
            if wants("template") {
                included.push(template_resource(template));
            }
        }
    }
    let mut data = inquiry_resource(inquiry);
    apply_sparse_fieldsets(&mut data, &ser.fieldsets);
    for item in &mut included {
        apply_sparse_fieldsets(item, &ser.fieldsets);
    }
    let mut doc = Map::new();
    doc.insert("data".into(), data);
    doc.insert("included".into(), Value::Array(included));
    doc
}

/// Refuses any request body (resume and expire define none).
fn no_body(body: &[u8]) -> Result<(), Answer> {
    if body.is_empty() {
        Ok(())
    } else {
        Err(Answer::bad_request("This endpoint does not accept a request body"))
    }
}

fn get(store: &mut Store, settings: &Settings, req: &ApiRequest<'_>, id: &str) -> Handled {
    let ser = serialization(req.query)?;
    let inquiry = store.inquiries.get(id).ok_or_else(Answer::not_found)?;
    Ok(Answer::ok(Value::Object(inquiry_document(store, settings, inquiry, &ser))))
}

// ---------------------------------------------------------------------------------------------- list

#[derive(Default)]
struct ListFilter {
    inquiry_ids: Option<Vec<String>>,
    account_ids: Option<Vec<String>>,
    reference_id: Option<String>,
    template_ids: Option<Vec<String>>,
    legacy_template_ids: Option<Vec<String>>,
    statuses: Option<Vec<String>>,
    note: Option<String>,
    created_start: Option<Millis>,
    created_end: Option<Millis>,
}

impl ListFilter {
    fn matches(&self, i: &Inquiry) -> bool {
        let in_list = |list: &Option<Vec<String>>, value: Option<&String>| {
            list.as_ref().is_none_or(|l| value.is_some_and(|v| l.contains(v)))
        };
        in_list(&self.inquiry_ids, Some(&i.id))
            && in_list(&self.account_ids, i.account_id.as_ref())
            && self.reference_id.as_ref().is_none_or(|r| i.reference_id.as_ref() == Some(r))
            && in_list(&self.template_ids, i.template_id.as_ref())
            && in_list(&self.legacy_template_ids, i.legacy_template_id.as_ref())
            && in_list(&self.statuses, Some(&i.status))
            && self.note.as_ref().is_none_or(|n| i.note.as_ref() == Some(n))
            && self.created_start.is_none_or(|t| i.created_at >= t)
            && self.created_end.is_none_or(|t| i.created_at <= t)
    }
}

/// `/api/v1/inquiries?…` with the request's other parameters and a new cursor.
fn page_link(query: &[(String, String)], cursor_key: &str, cursor: &str) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in query {
        if k != "page[after]" && k != "page[before]" {
            ser.append_pair(k, v);
        }
    }
    ser.append_pair(cursor_key, cursor);
    format!("/api/v1/inquiries?{}", ser.finish())
}

fn list(store: &Store, req: &ApiRequest<'_>) -> Handled {
    let mut filter = ListFilter::default();
    let mut size: usize = 10;
    let mut after: Option<&str> = None;
    let mut before: Option<&str> = None;
    for (key, value) in req.query {
        if key == "include" {
            return Err(Answer::bad_request("include is not supported on list endpoints"));
        }
        if let Some(name) = bracketed(key, "filter") {
            match name {
                "inquiry-id" => filter.inquiry_ids = Some(split_list(value)),
                "account-id" => filter.account_ids = Some(split_list(value)),
                "reference-id" => filter.reference_id = Some(value.clone()),
                "inquiry-template-id" => filter.template_ids = Some(split_list(value)),
                "template-id" => filter.legacy_template_ids = Some(split_list(value)),
                "status" => filter.statuses = Some(split_list(value)),
                "note" => filter.note = Some(value.clone()),
                "created-at-start" | "created-at-end" => {
                    let t = parse_iso8601(value)
                        .ok_or_else(|| Answer::bad_request(&format!("filter[{name}] must be an ISO 8601 date-time")))?;
                    if name == "created-at-start" {
                        filter.created_start = Some(t);
                    } else {
                        filter.created_end = Some(t);
                    }
                }
                other => return Err(Answer::bad_request(&format!("filter[{other}] is not a supported filter"))),
            }
        } else if let Some(name) = bracketed(key, "page") {
            match name {
                "size" => {
                    size = value
                        .trim()
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=100).contains(n))
                        .ok_or_else(|| Answer::bad_request("page[size] must be an integer from 1 to 100"))?;
                }
                "after" => after = Some(value.as_str()),
                "before" => before = Some(value.as_str()),
                other => return Err(Answer::bad_request(&format!("page[{other}] is not a supported parameter"))),
            }
        } else if key == "filter" || key == "page" {
            return Err(Answer::bad_request(&format!("{key} must be given as {key}[name]=value")));
        }
    }
    if filter.note.is_some()
        && (filter.inquiry_ids.is_some()
            || filter.account_ids.is_some()
            || filter.reference_id.is_some()
            || filter.template_ids.is_some()
            || filter.legacy_template_ids.is_some()
            || filter.statuses.is_some())
    {
        return Err(Answer::bad_request("filter[note] must be the only filter"));
    }
    if after.is_some() && before.is_some() {
        return Err(Answer::bad_request("page[after] and page[before] cannot be combined"));
    }
    let ser = serialization(req.query)?;
    let ordered = store.newest_first();
    let position = |cursor: &str| {
        ordered
            .iter()
            .position(|i| i.id == cursor)
            .ok_or_else(|| Answer::bad_request(&format!("{cursor} is not a valid page cursor")))
    };
    let matching: Vec<(usize, &Inquiry)> =
        ordered.iter().enumerate().filter(|(_, i)| filter.matches(i)).map(|(n, i)| (n, *i)).collect();
    let page: Vec<(usize, &Inquiry)> = if let Some(cursor) = after {
        let at = position(cursor)?;
        matching.iter().filter(|(n, _)| *n > at).take(size).copied().collect()
    } else if let Some(cursor) = before {
        let at = position(cursor)?;
        let newer: Vec<(usize, &Inquiry)> = matching.iter().filter(|(n, _)| *n < at).copied().collect();
        newer[newer.len().saturating_sub(size)..].to_vec()
    } else {
        matching.iter().take(size).copied().collect()
    };
    let next = page.last().and_then(|(last_pos, last)| {
        matching.iter().any(|(n, _)| n > last_pos).then(|| page_link(req.query, "page[after]", &last.id))
    });
    let prev = page.first().and_then(|(first_pos, first)| {
        (matching.iter().any(|(n, _)| n < first_pos)).then(|| page_link(req.query, "page[before]", &first.id))
    });
    let data: Vec<Value> = page
        .iter()
        .map(|(_, i)| {
            let mut resource = inquiry_resource(i);
            apply_sparse_fieldsets(&mut resource, &ser.fieldsets);
            resource
        })
        .collect();
    Ok(Answer::ok(json!({"data": data, "links": {"prev": prev, "next": next}})))
}

// -------------------------------------------------------------------------------------------- create

fn parse_json_object(body: &[u8]) -> Result<Map<String, Value>, Answer> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| Answer::bad_request(&format!("Request body is not valid JSON: {e}")))?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(Answer::bad_request("Request body must be a JSON object")),
    }
}

fn only_keys(map: &Map<String, Value>, allowed: &[&str], pointer: &str) -> Result<(), Answer> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(unknown) => {
            Err(Answer::unprocessable(&format!("{unknown} is not a permitted key"), &format!("{pointer}/{unknown}")))
        }
        None => Ok(()),
    }
}

fn as_object<'v>(value: &'v Value, name: &str) -> Result<&'v Map<String, Value>, Answer> {
    value.as_object().ok_or_else(|| Answer::bad_request(&format!("{name} must be an object")))
}

const CREATE_ATTRIBUTES: &[&str] = &[
    "template-id",
    "inquiry-template-id",
    "inquiry-template-version-id",
    "reference-id",
    "account-id",
    "creator-email-address",
    "theme-id",
    "theme-set-id",
    "redirect-uri",
    "note",
    "fields",
    "tags",
    "initial-step-name",
];

/// Field keys whose request value the spec types as string-or-null.
const STRING_FIELDS: &[&str] = &[
    "birthdate",
    "name-first",
    "name-middle",
    "name-last",
    "phone-number",
    "email-address",
    "address-street-1",
    "address-street-2",
    "address-city",
    "address-subdivision",
    "address-postal-code",
    "address-country-code",
];

fn create(store: &mut Store, settings: &Settings, req: &ApiRequest<'_>) -> Handled {
    let ser = serialization(req.query)?;
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Err(Answer::bad_request("data is missing"));
    }
    let top = parse_json_object(req.body)?;
    only_keys(&top, &["data", "meta"], "")?;
    let data = as_object(top.get("data").ok_or_else(|| Answer::bad_request("data is missing"))?, "data")?;
    only_keys(data, &["attributes"], "/data")?;
    let attrs = as_object(
        data.get("attributes").ok_or_else(|| Answer::bad_request("data.attributes is missing"))?,
        "data.attributes",
    )?;
    only_keys(attrs, CREATE_ATTRIBUTES, "/data/attributes")?;
    let mut strings: HashMap<&str, Option<String>> = HashMap::new();
    for (key, value) in attrs {
        match (key.as_str(), value) {
            ("fields", Value::Object(_) | Value::Null) => {}
            ("fields", _) => return Err(Answer::bad_request("data.attributes.fields must be an object")),
            ("tags", Value::Null) => {}
            ("tags", Value::Array(items)) if items.iter().all(Value::is_string) => {}
            ("tags", _) => return Err(Answer::bad_request("data.attributes.tags must be an array of strings")),
            (_, Value::String(s)) => {
                strings.insert(key.as_str(), Some(s.clone()));
            }
            (_, Value::Null) => {
                strings.insert(key.as_str(), None);
            }
            (_, _) => return Err(Answer::bad_request(&format!("data.attributes.{key} must be a string"))),
        }
    }
    let string = |k: &str| strings.get(k).cloned().flatten();

    let meta = match top.get("meta") {
        None | Some(Value::Null) => Map::new(),
        Some(m) => as_object(m, "meta")?.clone(),
    };
    only_keys(
        &meta,
        &[
            "auto-create-account",
            "auto-create-account-type-id",
            "auto-create-account-reference-id",
            "auto-create-inquiry-session",
            "auto-create-one-time-link",
            "expiration-after-create-interval-seconds",
            "expiration-after-start-interval-seconds",
            "expiration-after-resume-interval-seconds",
            "one-time-link-expiration-seconds",
        ],
        "/meta",
    )?;
    for (key, value) in &meta {
        let ok = match key.as_str() {
            "auto-create-account" | "auto-create-inquiry-session" | "auto-create-one-time-link" => value.is_boolean(),
            "auto-create-account-type-id" | "auto-create-account-reference-id" => value.is_string(),
            _ => value.is_null() || value.is_i64() || value.is_u64(),
        };
        if !ok {
            return Err(Answer::bad_request(&format!("meta.{key} has the wrong type")));
        }
    }
    let flag = |k: &str| meta.get(k).and_then(Value::as_bool).unwrap_or(false);

    let fields = match attrs.get("fields") {
        Some(Value::Object(f)) => {
            if let Some((key, _)) =
                f.iter().find(|(k, v)| STRING_FIELDS.contains(&k.as_str()) && !(v.is_string() || v.is_null()))
            {
                return Err(Answer::unprocessable(
                    &format!("fields.{key} must be a string"),
                    &format!("/data/attributes/fields/{key}"),
                ));
            }
            fields_to_response_form(f)
        }
        _ => Map::new(),
    };

    let given: Vec<&str> = ["inquiry-template-id", "inquiry-template-version-id", "template-id"]
        .into_iter()
        .filter(|k| string(k).is_some())
        .collect();
    if given.len() != 1 {
        return Err(Answer::unprocessable(
            "Must pass exactly one of inquiry-template-id, inquiry-template-version-id or template-id",
            "/data/attributes",
        ));
    }
    let (template, version) = match given[0] {
        "inquiry-template-id" => {
            let id = string("inquiry-template-id").unwrap_or_default();
            let template = store.templates.get(&id).filter(|t| !t.legacy).ok_or_else(|| Answer {
                status: 404,
                body: error_doc("Record not found", Some(&format!("inquiry template {id} was not found"))),
            })?;
            let version = template.latest_published_version().map(str::to_owned).ok_or_else(|| {
                Answer::unprocessable(
                    "Inquiry template has no published version",
                    "/data/attributes/inquiry-template-id",
                )
            })?;
            (template.clone(), Some(version))
        }
        "inquiry-template-version-id" => {
            let version = string("inquiry-template-version-id").unwrap_or_default();
            let template = store.versions.get(&version).and_then(|t| store.templates.get(t)).ok_or_else(|| Answer {
                status: 404,
                body: error_doc("Record not found", Some(&format!("inquiry template version {version} was not found"))),
            })?;
            (template.clone(), Some(version))
        }
        _ => {
            let id = string("template-id").unwrap_or_default();
            let template = store.templates.get(&id).filter(|t| t.legacy).ok_or_else(|| Answer {
                status: 404,
                body: error_doc("Record not found", Some(&format!("template {id} was not found"))),
            })?;
            (template.clone(), None)
        }
    };

    let now = now_ms();
    let mut inquiry = store.new_inquiry(&template, version, now);
    inquiry.reference_id = string("reference-id");
    inquiry.account_id = string("account-id");
    inquiry.redirect_uri = string("redirect-uri");
    inquiry.note = string("note");
    if let Some(creator) = string("creator-email-address") {
        inquiry.creator = creator;
    }
    inquiry.fields = fields;
    if let Some(Value::Array(tags)) = attrs.get("tags") {
        inquiry.tags = tags.iter().filter_map(Value::as_str).map(str::to_owned).collect();
    }
    if let Some(secs) = meta.get("expiration-after-create-interval-seconds").and_then(Value::as_u64) {
        inquiry.expires_at = Some(now.saturating_add(secs.saturating_mul(1000)));
    }
    let mut session_token = Value::Null;
    let mut link = Value::Null;
    let mut link_short = Value::Null;
    if flag("auto-create-inquiry-session") {
        let session = new_session(&inquiry.id, SessionKind::Token, settings, now, SESSION_TTL_MS);
        session_token = json!(session.token);
        inquiry.sessions.push(session);
    }
    if flag("auto-create-one-time-link") {
        let session = new_session(&inquiry.id, SessionKind::Link, settings, now, DAY_MS);
        link = json!(session.one_time_link);
        link_short = json!(session.one_time_link_short);
        inquiry.sessions.push(session);
    }
    let mut doc = inquiry_document(store, settings, &inquiry, &ser);
    doc.insert(
        "meta".into(),
        json!({"session-token": session_token, "one-time-link": link, "one-time-link-short": link_short}),
    );
    store.insert(inquiry);
    Ok(Answer { status: 201, body: Value::Object(doc) })
}

// ------------------------------------------------------------------------------ resume, link, expire

fn open_inquiry<'s>(store: &'s mut Store, id: &str) -> Result<&'s mut Inquiry, Answer> {
    let inquiry = store.inquiries.get_mut(id).ok_or_else(Answer::not_found)?;
    if inquiry.is_redacted() {
        return Err(Answer::conflict("Inquiry already redacted"));
    }
    Ok(inquiry)
}

fn resume(store: &mut Store, settings: &Settings, req: &ApiRequest<'_>, id: &str) -> Handled {
    no_body(req.body)?;
    let ser = serialization(req.query)?;
    let now = now_ms();
    let inquiry = open_inquiry(store, id)?;
    match inquiry.status.as_str() {
        "pending" => {}
        "expired" => {
            inquiry.set_status("pending", now);
            inquiry.expires_at = Some(now + DAY_MS);
        }
        "created" if !settings.resume_created_conflict => {}
        "created" => return Err(Answer::conflict("Inquiry has not been started and cannot be resumed")),
        other => return Err(Answer::conflict(&format!("Inquiry with status {other} cannot be resumed"))),
    }
    let reusable = inquiry.sessions.iter().position(|s| s.kind == SessionKind::Token && !s.used && s.is_valid(now));
    let token = match reusable {
        Some(n) => inquiry.sessions[n].token.clone(),
        None => {
            let session = new_session(&inquiry.id, SessionKind::Token, settings, now, SESSION_TTL_MS);
            let token = session.token.clone();
            inquiry.sessions.push(session);
            inquiry.updated_at = now;
            token
        }
    };
    let inquiry = inquiry.clone();
    let mut doc = inquiry_document(store, settings, &inquiry, &ser);
    doc.insert("meta".into(), json!({"session-token": token}));
    Ok(Answer::ok(Value::Object(doc)))
}

fn link(store: &mut Store, settings: &Settings, req: &ApiRequest<'_>, id: &str) -> Handled {
    let ser = serialization(req.query)?;
    let mut ttl = DAY_MS;
    if !req.body.iter().all(u8::is_ascii_whitespace) {
        let top = parse_json_object(req.body)?;
        only_keys(&top, &["meta"], "")?;
        if let Some(meta) = top.get("meta") {
            let meta = as_object(meta, "meta")?;
            only_keys(meta, &["expires-in-seconds"], "/meta")?;
            if let Some(value) = meta.get("expires-in-seconds") {
                let secs = value.as_i64().filter(|n| *n > 0 && *n <= i64::from(i32::MAX)).ok_or_else(|| {
                    Answer::unprocessable(
                        "expires-in-seconds must be an integer greater than 0",
                        "/meta/expires-in-seconds",
                    )
                })?;
                ttl = secs.unsigned_abs() * 1000;
            }
        }
    }
    let now = now_ms();
    let inquiry = open_inquiry(store, id)?;
    match inquiry.status.as_str() {
        "created" | "pending" => {}
        "expired" => return Err(Answer::conflict("Cannot generate a one-time link for an expired inquiry")),
        other => {
            return Err(Answer::conflict(&format!(
                "Cannot generate a one-time link for an inquiry with status {other}"
            )))
        }
    }
    let session = new_session(&inquiry.id, SessionKind::Link, settings, now, ttl);
    let meta = json!({"one-time-link": session.one_time_link, "one-time-link-short": session.one_time_link_short});
    inquiry.sessions.push(session);
    inquiry.updated_at = now;
    let inquiry = inquiry.clone();
    let mut doc = inquiry_document(store, settings, &inquiry, &ser);
    doc.insert("meta".into(), meta);
    Ok(Answer::ok(Value::Object(doc)))
}

fn expire(store: &mut Store, settings: &Settings, req: &ApiRequest<'_>, id: &str) -> Handled {
    no_body(req.body)?;
    let ser = serialization(req.query)?;
    let now = now_ms();
    let inquiry = open_inquiry(store, id)?;
    if !is_open_status(&inquiry.status) {
        return Err(Answer::conflict(&format!("Inquiry with status {} cannot be expired", inquiry.status)));
    }
    if inquiry.status != "expired" {
        inquiry.set_status("expired", now);
    }
    let inquiry = inquiry.clone();
    Ok(Answer::ok(Value::Object(inquiry_document(store, settings, &inquiry, &ser))))
}
