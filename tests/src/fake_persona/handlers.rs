//! Persona's inquiry endpoints as functions of (state, request) -> answer. Auth, rate limits, faults,
//! idempotency and the contract check wrap these in `server.rs`.

use std::collections::HashMap;

use serde_json::{json, Map, Value};
use url::form_urlencoded;

use super::api_2026;
use super::documents::{
    account_resource_from, apply_sparse_fieldsets, error_doc, inquiry_resource_from, template_resource_from,
    unprocessable_doc,
};
use super::examples::Examples;
use super::model::{
    fields_to_response_form, is_open_status, new_session, reference_matches, Account, Endpoint, Inquiry, SessionKind,
    Settings, Store, SESSION_CAP_DETAILS, SESSION_TTL_MS,
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
    /// The request's `Persona-Version` header.
    pub persona_version: Option<&'a str>,
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

/// What a handler works with: the data, the switches, and the spec's examples its documents start from.
pub struct Context<'a> {
    pub store: &'a mut Store,
    pub settings: &'a Settings,
    pub examples: &'a Examples,
}

/// Handles one request against the state.
pub fn handle(store: &mut Store, settings: &Settings, examples: &Examples, req: &ApiRequest<'_>) -> Answer {
    let mut cx = Context { store, settings, examples };
    let result = match req.endpoint {
        Endpoint::List => list(&cx, req),
        Endpoint::Create => create(&mut cx, req),
        Endpoint::AccountList => list_accounts(&cx, req),
        Endpoint::AccountGet => match req.inquiry_id {
            Some(id) => get_account(&cx, req, id),
            None => Err(Answer::not_found()),
        },
        Endpoint::Get | Endpoint::Resume | Endpoint::Link | Endpoint::Expire => {
            let Some(id) = req.inquiry_id else {
                return Answer::not_found();
            };
            match req.endpoint {
                Endpoint::Get => get(&cx, req, id),
                Endpoint::Resume => resume(&mut cx, req, id),
                Endpoint::Link => link(&mut cx, req, id),
                _ => expire(&mut cx, req, id),
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
    /// Answer in API 2026-09-29's shapes (template versions in `included`).
    api_2026: bool,
}

fn split_list(value: &str) -> Vec<String> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// `name[inner]` -> `inner` when `key` has that shape.
fn bracketed<'k>(key: &'k str, name: &str) -> Option<&'k str> {
    key.strip_prefix(name)?.strip_prefix('[')?.strip_suffix(']')
}

fn serialization(req: &ApiRequest<'_>) -> Result<Serialization, Answer> {
    let nested = api_2026::wants(req.persona_version);
    let mut ser = serialization_with(req.query, |path| {
        INCLUDABLE.contains(&path) || (nested && api_2026::NESTED_INCLUDES.contains(&path))
    })?;
    ser.api_2026 = nested;
    Ok(ser)
}

/// `include` (each path checked by `includable`) and `fields[type]` of a request.
fn serialization_with(query: &[(String, String)], includable: impl Fn(&str) -> bool) -> Result<Serialization, Answer> {
    let mut ser = Serialization::default();
    for (key, value) in query {
        if key == "include" {
            let include = split_list(value);
            if let Some(bad) = include.iter().find(|i| !includable(i.as_str())) {
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

impl Serialization {
    /// Whether `path` is to be included: asked for (a nested path includes its intermediate objects too, as
    /// JSON:API requires), or (no `include` parameter) one Persona includes by default — everything but the
    /// account, which must be asked for explicitly.
    fn wants(&self, path: &str) -> bool {
        match &self.include {
            Some(list) => {
                list.iter().any(|i| i == path || i.strip_prefix(path).is_some_and(|rest| rest.starts_with('.')))
            }
            None => path != "account",
        }
    }
}

/// Puts `object` in place of the first included object of its type (the example's stand-in), or appends it.
fn replace_or_push(included: &mut Vec<Value>, object: Value) {
    let kind = object.get("type").cloned();
    match included.iter_mut().find(|o| o.get("type") == kind.as_ref()) {
        Some(slot) => *slot = object,
        None => included.push(object),
    }
}

/// `{"data": inquiry, "included": [...]}` (before any `meta`), built on the example of `endpoint`: its
/// extra `included` objects stay; our template (and account, when asked) replace or join them.
fn inquiry_document(
    cx: &Context<'_>,
    endpoint: Endpoint,
    inquiry: &Inquiry,
    ser: &Serialization,
) -> Map<String, Value> {
    let (store, examples) = (&*cx.store, cx.examples);
    let mut included: Vec<Value> = examples.included(endpoint).to_vec();
    if !cx.settings.hide_templates {
        let dynamic = inquiry.template_id.as_ref().filter(|_| ser.wants("inquiry-template"));
        let legacy = inquiry.legacy_template_id.as_ref().filter(|_| ser.wants("template"));
        for id in dynamic.into_iter().chain(legacy) {
            if let Some(template) = store.templates.get(id) {
                replace_or_push(&mut included, template_resource_from(Some(examples), template));
            }
        }
    }
    if ser.api_2026 && !cx.settings.hide_templates {
        for version in versions_to_include(store, inquiry, ser) {
            included.push(version);
        }
    }
    if ser.wants("account") {
        if let Some(account) = inquiry.account_id.as_ref().and_then(|id| store.accounts.get(id)) {
            replace_or_push(&mut included, account_resource_from(examples.account(), account));
        }
    }
    let mut data = inquiry_resource_from(examples.resource(endpoint), inquiry);
    apply_sparse_fieldsets(&mut data, &ser.fieldsets);
    for item in &mut included {
        apply_sparse_fieldsets(item, &ser.fieldsets);
    }
    let mut doc = Map::new();
    doc.insert("data".into(), data);
    if examples.has_included(endpoint) || !included.is_empty() {
        doc.insert("included".into(), Value::Array(included));
    }
    doc
}

/// API 2026-09-29: the inquiry's own version (`inquiry-template-version`, included by default) and its template's
/// latest published one (`inquiry-template.latest-published-version`, asked for), each once.
fn versions_to_include(store: &Store, inquiry: &Inquiry, ser: &Serialization) -> Vec<Value> {
    let Some(template) = inquiry.template_id.as_ref().and_then(|id| store.templates.get(id)) else {
        return Vec::new();
    };
    let own = inquiry.template_version_id.as_deref().filter(|_| ser.wants("inquiry-template-version"));
    let latest = template
        .latest_published_version()
        .filter(|_| ser.include.as_ref().is_some_and(|list| list.iter().any(|i| i == api_2026::NESTED_INCLUDES[0])));
    let mut ids: Vec<&str> = own.into_iter().chain(latest).collect();
    ids.dedup();
    ids.into_iter().map(|id| api_2026::template_version_resource(template, id)).collect()
}

/// Refuses any request body (resume and expire define none).
fn no_body(body: &[u8]) -> Result<(), Answer> {
    if body.is_empty() {
        Ok(())
    } else {
        Err(Answer::bad_request("This endpoint does not accept a request body"))
    }
}

fn get(cx: &Context<'_>, req: &ApiRequest<'_>, id: &str) -> Handled {
    let ser = serialization(req)?;
    let inquiry = cx.store.inquiries.get(id).ok_or_else(Answer::not_found)?;
    Ok(Answer::ok(Value::Object(inquiry_document(cx, Endpoint::Get, inquiry, &ser))))
}

// ---------------------------------------------------------------------------------------------- list

#[derive(Default)]
struct ListFilter {
    inquiry_ids: Option<Vec<String>>,
    account_ids: Option<Vec<String>>,
    /// One value, or (loose reference ids) the comma-split values.
    reference_ids: Option<Vec<String>>,
    template_ids: Option<Vec<String>>,
    legacy_template_ids: Option<Vec<String>>,
    statuses: Option<Vec<String>>,
    note: Option<String>,
    created_start: Option<Millis>,
    created_end: Option<Millis>,
    /// Case-insensitive reference ids.
    loose: bool,
}

impl ListFilter {
    fn matches(&self, i: &Inquiry) -> bool {
        let in_list = |list: &Option<Vec<String>>, value: Option<&String>| {
            list.as_ref().is_none_or(|l| value.is_some_and(|v| l.contains(v)))
        };
        let reference = |wanted: &Vec<String>| {
            i.reference_id.as_deref().is_some_and(|r| wanted.iter().any(|w| reference_matches(r, w, self.loose)))
        };
        in_list(&self.inquiry_ids, Some(&i.id))
            && in_list(&self.account_ids, i.account_id.as_ref())
            && self.reference_ids.as_ref().is_none_or(reference)
            && in_list(&self.template_ids, i.template_id.as_ref())
            && in_list(&self.legacy_template_ids, i.legacy_template_id.as_ref())
            && in_list(&self.statuses, Some(&i.status))
            && self.note.as_ref().is_none_or(|n| i.note.as_ref() == Some(n))
            && self.created_start.is_none_or(|t| i.created_at >= t)
            && self.created_end.is_none_or(|t| i.created_at <= t)
    }
}

/// `/api/v1/{collection}?…` with the request's other parameters and a new cursor.
fn page_link(collection: &str, query: &[(String, String)], cursor_key: &str, cursor: &str) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in query {
        if k != "page[after]" && k != "page[before]" {
            ser.append_pair(k, v);
        }
    }
    ser.append_pair(cursor_key, cursor);
    format!("/api/v1/{collection}?{}", ser.finish())
}

/// `page[size]`, `page[after]`, `page[before]` of a list request.
#[derive(Clone, Copy)]
struct Paging<'q> {
    size: usize,
    after: Option<&'q str>,
    before: Option<&'q str>,
}

impl<'q> Paging<'q> {
    /// Reads one `page[name]` parameter.
    fn read(&mut self, name: &str, value: &'q str) -> Result<(), Answer> {
        match name {
            "size" => {
                self.size = value
                    .trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=100).contains(n))
                    .ok_or_else(|| Answer::bad_request("page[size] must be an integer from 1 to 100"))?;
            }
            "after" => self.after = Some(value),
            "before" => self.before = Some(value),
            other => return Err(Answer::bad_request(&format!("page[{other}] is not a supported parameter"))),
        }
        Ok(())
    }

    /// One page of `ordered` (newest first) among the items `keep` selects, with its `links`.
    fn page<'s, T>(
        self,
        collection: &str,
        query: &[(String, String)],
        ordered: &[&'s T],
        id: impl Fn(&T) -> &str,
        keep: impl Fn(&T) -> bool,
    ) -> Result<(Vec<&'s T>, Value), Answer> {
        if self.after.is_some() && self.before.is_some() {
            return Err(Answer::bad_request("page[after] and page[before] cannot be combined"));
        }
        let position = |cursor: &str| {
            ordered
                .iter()
                .position(|i| id(i) == cursor)
                .ok_or_else(|| Answer::bad_request(&format!("{cursor} is not a valid page cursor")))
        };
        let matching: Vec<(usize, &'s T)> =
            ordered.iter().enumerate().filter(|(_, i)| keep(i)).map(|(n, i)| (n, *i)).collect();
        let page: Vec<(usize, &'s T)> = if let Some(cursor) = self.after {
            let at = position(cursor)?;
            matching.iter().filter(|(n, _)| *n > at).take(self.size).copied().collect()
        } else if let Some(cursor) = self.before {
            let at = position(cursor)?;
            let newer: Vec<(usize, &T)> = matching.iter().filter(|(n, _)| *n < at).copied().collect();
            newer[newer.len().saturating_sub(self.size)..].to_vec()
        } else {
            matching.iter().take(self.size).copied().collect()
        };
        let next = page.last().and_then(|(last_pos, last)| {
            matching.iter().any(|(n, _)| n > last_pos).then(|| page_link(collection, query, "page[after]", id(last)))
        });
        let prev = page.first().and_then(|(first_pos, first)| {
            matching.iter().any(|(n, _)| n < first_pos).then(|| page_link(collection, query, "page[before]", id(first)))
        });
        Ok((page.into_iter().map(|(_, i)| i).collect(), json!({"prev": prev, "next": next})))
    }
}

impl Default for Paging<'_> {
    fn default() -> Self {
        Paging { size: 10, after: None, before: None }
    }
}

/// Reads a list endpoint's query: `page[...]` into the paging, each `filter[name]=value` handed to `filter`;
/// `include` and unbracketed `filter`/`page` are refused.
fn list_query<'q>(
    query: &'q [(String, String)],
    mut filter: impl FnMut(&str, &'q String) -> Result<(), Answer>,
) -> Result<Paging<'q>, Answer> {
    let mut paging = Paging::default();
    for (key, value) in query {
        if key == "include" {
            return Err(Answer::bad_request("include is not supported on list endpoints"));
        }
        if let Some(name) = bracketed(key, "filter") {
            filter(name, value)?;
        } else if let Some(name) = bracketed(key, "page") {
            paging.read(name, value)?;
        } else if key == "filter" || key == "page" {
            return Err(Answer::bad_request(&format!("{key} must be given as {key}[name]=value")));
        }
    }
    Ok(paging)
}

fn list(cx: &Context<'_>, req: &ApiRequest<'_>) -> Handled {
    let loose = cx.settings.loose_reference_ids;
    let mut filter = ListFilter { loose, ..ListFilter::default() };
    let paging = list_query(req.query, |name, value| {
        match name {
            "inquiry-id" => filter.inquiry_ids = Some(split_list(value)),
            "account-id" => filter.account_ids = Some(split_list(value)),
            "reference-id" if loose => filter.reference_ids = Some(split_list(value)),
            "reference-id" => filter.reference_ids = Some(vec![value.clone()]),
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
        Ok(())
    })?;
    if filter.note.is_some()
        && (filter.inquiry_ids.is_some()
            || filter.account_ids.is_some()
            || filter.reference_ids.is_some()
            || filter.template_ids.is_some()
            || filter.legacy_template_ids.is_some()
            || filter.statuses.is_some())
    {
        return Err(Answer::bad_request("filter[note] must be the only filter"));
    }
    let ser = serialization(req)?;
    let ordered = cx.store.newest_first();
    let lax = cx.settings.lax_filters;
    let (page, links) =
        paging.page("inquiries", req.query, &ordered, |i| i.id.as_str(), |i| lax || filter.matches(i))?;
    let example = cx.examples.resource(Endpoint::List);
    let data: Vec<Value> = page
        .iter()
        .map(|i| {
            let mut resource = inquiry_resource_from(example, i);
            apply_sparse_fieldsets(&mut resource, &ser.fieldsets);
            resource
        })
        .collect();
    Ok(Answer::ok(json!({"data": data, "links": links})))
}

// ------------------------------------------------------------------------------------------ accounts

/// An account document's `data` (or list item), built on the operation's example, sparse fields applied.
fn account_object(cx: &Context<'_>, endpoint: Endpoint, account: &Account, ser: &Serialization) -> Value {
    let mut resource = account_resource_from(cx.examples.resource(endpoint), account);
    apply_sparse_fieldsets(&mut resource, &ser.fieldsets);
    resource
}

/// `GET /accounts`: `filter[reference-id]` is a comma-separated list (any of them, exact match; loose:
/// case-insensitive), newest first, paginated like the inquiry list.
fn list_accounts(cx: &Context<'_>, req: &ApiRequest<'_>) -> Handled {
    let mut references: Option<Vec<String>> = None;
    let paging = list_query(req.query, |name, value| match name {
        "reference-id" => {
            references = Some(split_list(value));
            Ok(())
        }
        other => Err(Answer::bad_request(&format!("filter[{other}] is not a supported filter"))),
    })?;
    let ser = serialization(req)?;
    let (lax, loose) = (cx.settings.lax_filters, cx.settings.loose_reference_ids);
    let keep =
        |a: &Account| lax || references.as_ref().is_none_or(|wanted| wanted.iter().any(|w| a.has_reference(w, loose)));
    let ordered = cx.store.accounts_newest_first();
    let (page, links) = paging.page("accounts", req.query, &ordered, |a| a.id.as_str(), keep)?;
    let data: Vec<Value> = page.iter().map(|a| account_object(cx, Endpoint::AccountList, a, &ser)).collect();
    Ok(Answer::ok(json!({"data": data, "links": links})))
}

/// `GET /accounts/{id}`; `include` is accepted and adds nothing (the fake models no account relations).
fn get_account(cx: &Context<'_>, req: &ApiRequest<'_>, id: &str) -> Handled {
    let ser = serialization_with(req.query, |_| true)?;
    let account = cx.store.accounts.get(id).ok_or_else(Answer::not_found)?;
    Ok(Answer::ok(json!({"data": account_object(cx, Endpoint::AccountGet, account, &ser)})))
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

fn create(cx: &mut Context<'_>, req: &ApiRequest<'_>) -> Handled {
    let settings = cx.settings;
    let ser = serialization(req)?;
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
            let template = cx.store.templates.get(&id).filter(|t| !t.legacy).ok_or_else(|| Answer {
                status: 404,
                body: error_doc("Record not found", Some(&format!("inquiry template {id} was not found"))),
            })?;
            let version = template.creation_version().map(str::to_owned).ok_or_else(|| {
                Answer::unprocessable(
                    "Inquiry template has no published version",
                    "/data/attributes/inquiry-template-id",
                )
            })?;
            (template.clone(), Some(version))
        }
        "inquiry-template-version-id" => {
            let version = string("inquiry-template-version-id").unwrap_or_default();
            let template =
                cx.store.versions.get(&version).and_then(|t| cx.store.templates.get(t)).ok_or_else(|| Answer {
                    status: 404,
                    body: error_doc(
                        "Record not found",
                        Some(&format!("inquiry template version {version} was not found")),
                    ),
                })?;
            (template.clone(), Some(version))
        }
        _ => {
            let id = string("template-id").unwrap_or_default();
            let template = cx.store.templates.get(&id).filter(|t| t.legacy).ok_or_else(|| Answer {
                status: 404,
                body: error_doc("Record not found", Some(&format!("template {id} was not found"))),
            })?;
            (template.clone(), None)
        }
    };

    let now = now_ms();
    let account_id = match string("account-id") {
        Some(id) if !cx.store.accounts.contains_key(&id) => {
            return Err(Answer {
                status: 404,
                body: error_doc("Record not found", Some(&format!("account {id} was not found"))),
            })
        }
        Some(id) => Some(id),
        None => {
            // The meta field decides the account when given; the deprecated attribute otherwise.
            let auto_create = meta.get("auto-create-account").and_then(Value::as_bool).unwrap_or(true);
            let reference = meta
                .get("auto-create-account-reference-id")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| string("reference-id"))
                .filter(|r| !r.is_empty());
            reference.and_then(|r| cx.store.join_account_if(&r, auto_create, now))
        }
    };
    let mut inquiry = cx.store.new_inquiry(&template, version, now);
    // Only the deprecated attribute fills the inquiry's own reference id; the meta field leaves it null.
    inquiry.reference_id = string("reference-id");
    inquiry.account_id = account_id;
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
    let mut doc = inquiry_document(cx, Endpoint::Create, &inquiry, &ser);
    doc.insert(
        "meta".into(),
        json!({"session-token": session_token, "one-time-link": link, "one-time-link-short": link_short}),
    );
    cx.store.insert(inquiry);
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

/// Persona's cap on an inquiry's sessions: every session counts (token or link, used, expired or not).
fn refuse_past_session_cap(inquiry: &Inquiry, settings: &Settings) -> Result<(), Answer> {
    let cap = settings.sessions_per_inquiry;
    if cap > 0 && inquiry.sessions.len() >= cap as usize {
        return Err(Answer { status: 422, body: error_doc("Unprocessable entity", Some(SESSION_CAP_DETAILS)) });
    }
    Ok(())
}

fn resume(cx: &mut Context<'_>, req: &ApiRequest<'_>, id: &str) -> Handled {
    no_body(req.body)?;
    let ser = serialization(req)?;
    let now = now_ms();
    let settings = cx.settings;
    let inquiry = open_inquiry(cx.store, id)?;
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
            refuse_past_session_cap(inquiry, settings)?;
            let session = new_session(&inquiry.id, SessionKind::Token, settings, now, SESSION_TTL_MS);
            let token = session.token.clone();
            inquiry.sessions.push(session);
            inquiry.updated_at = now;
            token
        }
    };
    let inquiry = inquiry.clone();
    let mut doc = inquiry_document(cx, Endpoint::Resume, &inquiry, &ser);
    doc.insert("meta".into(), json!({"session-token": token}));
    Ok(Answer::ok(Value::Object(doc)))
}

fn link(cx: &mut Context<'_>, req: &ApiRequest<'_>, id: &str) -> Handled {
    let settings = cx.settings;
    let ser = serialization(req)?;
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
    let inquiry = open_inquiry(cx.store, id)?;
    match inquiry.status.as_str() {
        "created" | "pending" => {}
        "expired" => return Err(Answer::conflict("Cannot generate a one-time link for an expired inquiry")),
        other => {
            return Err(Answer::conflict(&format!(
                "Cannot generate a one-time link for an inquiry with status {other}"
            )))
        }
    }
    refuse_past_session_cap(inquiry, settings)?;
    let session = new_session(&inquiry.id, SessionKind::Link, settings, now, ttl);
    let meta = json!({"one-time-link": session.one_time_link, "one-time-link-short": session.one_time_link_short});
    inquiry.sessions.push(session);
    inquiry.updated_at = now;
    let inquiry = inquiry.clone();
    let mut doc = inquiry_document(cx, Endpoint::Link, &inquiry, &ser);
    doc.insert("meta".into(), meta);
    Ok(Answer::ok(Value::Object(doc)))
}

fn expire(cx: &mut Context<'_>, req: &ApiRequest<'_>, id: &str) -> Handled {
    no_body(req.body)?;
    let ser = serialization(req)?;
    let now = now_ms();
    let inquiry = open_inquiry(cx.store, id)?;
    if !is_open_status(&inquiry.status) {
        return Err(Answer::conflict(&format!("Inquiry with status {} cannot be expired", inquiry.status)));
    }
    if inquiry.status != "expired" {
        inquiry.set_status("expired", now);
    }
    let inquiry = inquiry.clone();
    Ok(Answer::ok(Value::Object(inquiry_document(cx, Endpoint::Expire, &inquiry, &ser))))
}
