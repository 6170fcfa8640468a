//! The fake Persona over real HTTP (reqwest against the in-process server): Persona's transitions and
//! shapes, auth, idempotency, rate limits, faults, the control API, and the response contract check.

use std::time::{Duration, Instant};

use integration_tests::fake_persona::{
    ContractChecker, Endpoint, FakeConfig, FakePersona, Fault, FaultKind, NewTemplate, SeedAccount, SeedInquiry,
    SpecVersion,
};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

struct Reply {
    status: u16,
    headers: HeaderMap,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

struct Api {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Api {
    fn new(fake: &FakePersona) -> Api {
        Api {
            http: reqwest::Client::builder().timeout(Duration::from_secs(20)).build().expect("client"),
            base: fake.base_url(),
            key: fake.api_key(),
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Result<Reply, reqwest::Error> {
        let mut req = self.http.request(method, format!("{}{path}", self.base)).header("Persona-Version", "2025-12-08");
        if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("authorization")) {
            req = req.bearer_auth(&self.key);
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(body) = body {
            req = req.header("content-type", "application/json").body(body.to_owned());
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await?;
        Ok(Reply { status, headers, text })
    }

    async fn get(&self, path: &str) -> Reply {
        self.send(reqwest::Method::GET, path, None, &[]).await.expect("GET answered")
    }

    async fn post(&self, path: &str, body: Option<&str>) -> Reply {
        self.send(reqwest::Method::POST, path, body, &[]).await.expect("POST answered")
    }

    async fn post_with_key(&self, path: &str, body: Option<&str>, key: &str) -> Result<Reply, reqwest::Error> {
        self.send(reqwest::Method::POST, path, body, &[("Idempotency-Key", key)]).await
    }
}

fn fake_with_demo() -> (FakePersona, integration_tests::fake_persona::DemoSeed) {
    let fake = FakePersona::start(FakeConfig::default());
    let seed = fake.seed_demo();
    (fake, seed)
}

/// The object of `kind` and `id` in a document's `included`.
fn included<'d>(doc: &'d Value, kind: &str, id: &str) -> Option<&'d Value> {
    doc["included"].as_array()?.iter().find(|o| o["type"] == kind && o["id"] == id)
}

fn create_body(template: &str, reference: &str) -> String {
    json!({"data": {"attributes": {"inquiry-template-id": template, "reference-id": reference}},
           "meta": {"auto-create-inquiry-session": true}})
    .to_string()
}

#[tokio::test]
async fn get_includes_the_template_with_its_latest_published_version() {
    let (fake, seed) = fake_with_demo();
    let api = Api::new(&fake);

    let r = api.get(&format!("/inquiries/{}?include=inquiry-template", seed.outdated.id)).await;
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert_eq!(doc["data"]["id"], seed.outdated.id.as_str());
    assert_eq!(doc["data"]["attributes"]["status"], "pending");
    assert_eq!(doc["data"]["relationships"]["inquiry-template-version"]["data"]["id"], seed.old_version_id.as_str());
    let template = included(&doc, "inquiry-template", &seed.template_id).expect("our template is included");
    assert_eq!(template["relationships"]["latest-published-version"]["data"]["id"], seed.latest_version_id.as_str());
    // The example's extra objects stay: its inquiry session; our template took its template's place.
    assert!(included(&doc, "inquiry-session", "iqse_ABC123").is_some(), "{doc}");
    assert!(included(&doc, "inquiry-template", "itmpl_ABC123").is_none(), "{doc}");
    // Every required attribute is present, null where unknown.
    let attributes = doc["data"]["attributes"].as_object().expect("attributes");
    for key in ["reference-id", "note", "behaviors", "reviewer-comment", "completed-at", "redacted-at", "fields"] {
        assert!(attributes.contains_key(key), "{key} missing");
    }

    // Publishing a new version makes the current inquiry outdated too.
    let v3 = fake.publish_version(&seed.template_id).expect("publish");
    let doc = api.get(&format!("/inquiries/{}?include=inquiry-template", seed.pending.id)).await.json();
    let template = included(&doc, "inquiry-template", &seed.template_id).expect("template");
    assert_eq!(template["relationships"]["latest-published-version"]["data"]["id"], v3.as_str());
    assert_eq!(fake.is_outdated(&seed.pending.id), Some(true));

    // Sandbox-like: not our template in `included` (the example's own, foreign template stays).
    fake.update_settings(|s| s.hide_templates = true);
    let doc = api.get(&format!("/inquiries/{}?include=inquiry-template", seed.pending.id)).await.json();
    assert!(included(&doc, "inquiry-template", &seed.template_id).is_none(), "{doc}");
    assert!(included(&doc, "inquiry-template", "itmpl_ABC123").is_some(), "{doc}");

    let r = api.get("/inquiries/inq_DoesNotExist").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["errors"][0]["title"], "Record not found");
    assert_eq!(api.get(&format!("/inquiries/{}?include=nonsense", seed.pending.id)).await.status, 400);
    // Persona's base path works too.
    assert_eq!(api.get(&format!("/api/v1/inquiries/{}", seed.pending.id)).await.status, 200);
    fake.assert_no_violations();
}

#[tokio::test]
async fn authenticated_answers_carry_request_id_and_rate_limit_headers() {
    let (fake, seed) = fake_with_demo();
    let api = Api::new(&fake);
    let r = api.get(&format!("/inquiries/{}", seed.pending.id)).await;
    assert!(r.header("request-id").expect("request-id").starts_with("req_"));
    assert_eq!(r.header("ratelimit-limit"), Some("300"));
    assert_eq!(r.header("ratelimit-remaining"), Some("299"));
    assert!(r.header("ratelimit-reset").is_some());
    let not_found = api.get("/inquiries/inq_Nope").await;
    assert!(not_found.header("request-id").is_some());
    let log = fake.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].persona_version.as_deref(), Some("2025-12-08"));
    assert_eq!(log[0].endpoint, Some(Endpoint::Get));
    assert_eq!(log[0].status, Some(200));
    assert_eq!(log[0].request_id.as_deref(), r.header("request-id"));
    fake.assert_no_violations();
}

#[tokio::test]
async fn unauthorized_answers_401_without_request_id_and_keys_rotate() {
    let (fake, seed) = fake_with_demo();
    let api = Api::new(&fake);
    let path = format!("/inquiries/{}", seed.pending.id);
    for auth in [None, Some("Bearer wrong"), Some("Basic abc")] {
        let headers: Vec<(&str, &str)> = auth.map(|a| vec![("Authorization", a)]).unwrap_or_default();
        let mut req = api.http.get(format!("{}{path}", api.base));
        for (n, v) in &headers {
            req = req.header(*n, *v);
        }
        let resp = req.send().await.expect("answered");
        assert_eq!(resp.status().as_u16(), 401);
        assert!(resp.headers().get("request-id").is_none());
        assert!(resp.headers().get("ratelimit-limit").is_none());
        let body: Value = serde_json::from_str(&resp.text().await.expect("body")).expect("json");
        assert_eq!(body, json!({"errors": [{"title": "Must be authenticated to access this endpoint"}]}));
    }
    // Rotation: the old key stops working, the new one works.
    fake.set_api_keys(["persona_sandbox_rotated"]);
    assert_eq!(api.get(&path).await.status, 401);
    let rotated = Api { key: "persona_sandbox_rotated".into(), ..Api::new(&fake) };
    assert_eq!(rotated.get(&path).await.status, 200);
    assert!(fake.requests().iter().filter(|r| r.status == Some(401)).all(|r| !r.authorized));
    fake.assert_no_violations();
}

#[tokio::test]
async fn create_pins_the_latest_version_and_hands_out_access() {
    let (fake, seed) = fake_with_demo();
    let api = Api::new(&fake);
    fake.seed_account(SeedAccount { id: Some("act_42".into()), ..SeedAccount::default() }).expect("account");
    let body = json!({
        "data": {"attributes": {
            "inquiry-template-id": seed.template_id, "reference-id": "user-42", "account-id": "act_42",
            "redirect-uri": "https://example.com/done", "note": "hi", "tags": ["a"],
            "fields": {"name-first": "Jane", "birthdate": "1990-01-02"}
        }},
        "meta": {"auto-create-inquiry-session": true, "auto-create-one-time-link": true}
    });
    let r = api.post("/inquiries?include=inquiry-template", Some(&body.to_string())).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let doc = r.json();
    assert_eq!(doc["data"]["attributes"]["status"], "created");
    assert_eq!(doc["data"]["attributes"]["reference-id"], "user-42");
    assert_eq!(doc["data"]["attributes"]["fields"]["name-first"], json!({"type": "string", "value": "Jane"}));
    assert_eq!(doc["data"]["relationships"]["account"]["data"]["id"], "act_42");
    assert_eq!(doc["data"]["relationships"]["inquiry-template-version"]["data"]["id"], seed.latest_version_id.as_str());
    assert!(doc["meta"]["session-token"].as_str().is_some_and(|t| t.split('.').count() == 3));
    assert!(doc["meta"]["one-time-link"].as_str().is_some_and(|l| l.starts_with("https://")));
    assert!(doc["meta"]["one-time-link-short"].is_string());

    // Without the flags, the meta members are present and null.
    let r = api
        .post(
            "/inquiries",
            Some(&json!({"data": {"attributes": {"inquiry-template-id": seed.template_id}}}).to_string()),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["meta"], json!({"session-token": null, "one-time-link": null, "one-time-link-short": null}));

    // By version id: pinned to that (old) version.
    let r = api
        .post(
            "/inquiries",
            Some(&json!({"data": {"attributes": {"inquiry-template-version-id": seed.old_version_id}}}).to_string()),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(
        r.json()["data"]["relationships"]["inquiry-template-version"]["data"]["id"],
        seed.old_version_id.as_str()
    );

    // Bad requests.
    let unknown = json!({"data": {"attributes": {"inquiry-template-id": seed.template_id, "colour": "red"}}});
    let r = api.post("/inquiries", Some(&unknown.to_string())).await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["errors"][0]["source"]["pointer"], "/data/attributes/colour");
    let two = json!({"data": {"attributes": {"inquiry-template-id": seed.template_id, "template-id": "tmpl_x"}}});
    assert_eq!(api.post("/inquiries", Some(&two.to_string())).await.status, 422);
    let none = json!({"data": {"attributes": {"reference-id": "x"}}});
    assert_eq!(api.post("/inquiries", Some(&none.to_string())).await.status, 422);
    let missing = json!({"data": {"attributes": {"inquiry-template-id": "itmpl_Missing"}}});
    assert_eq!(api.post("/inquiries", Some(&missing.to_string())).await.status, 404);
    assert_eq!(api.post("/inquiries", Some("{not json")).await.status, 400);
    assert_eq!(api.post("/inquiries", Some("[1]")).await.status, 400);
    assert_eq!(api.post("/inquiries", None).await.status, 400);
    let bad_meta = json!({"data": {"attributes": {"inquiry-template-id": seed.template_id}}, "meta": {"x": 1}});
    assert_eq!(api.post("/inquiries", Some(&bad_meta.to_string())).await.status, 422);
    let bad_type = json!({"data": {"attributes": {"inquiry-template-id": 5}}});
    assert_eq!(api.post("/inquiries", Some(&bad_type.to_string())).await.status, 400);

    // Legacy templates: `template` relationship, no version.
    let r = api
        .post(
            "/inquiries",
            Some(&json!({"data": {"attributes": {"template-id": seed.legacy_template_id}}}).to_string()),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["data"]["relationships"]["template"]["data"]["id"], seed.legacy_template_id.as_str());
    fake.assert_no_violations();
}

#[tokio::test]
async fn resume_follows_personas_rules() {
    let (fake, seed) = fake_with_demo();
    let api = Api::new(&fake);
    let resume = |id: &str| format!("/inquiries/{id}/resume");

    // expired -> pending, with a token.
    let r = api.post(&resume(&seed.expired.id), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let doc = r.json();
    assert_eq!(doc["data"]["attributes"]["status"], "pending");
    let token = doc["meta"]["session-token"].as_str().expect("token").to_owned();
    assert_eq!(fake.inquiry(&seed.expired.id).expect("inquiry").status, "pending");

    // An unused valid token is reused; once used, a new one is made.
    let again = api.post(&resume(&seed.expired.id), None).await.json();
    assert_eq!(again["meta"]["session-token"].as_str(), Some(token.as_str()));
    fake.mark_sessions_used(&seed.expired.id).expect("mark");
    let fresh = api.post(&resume(&seed.expired.id), None).await.json();
    assert_ne!(fresh["meta"]["session-token"].as_str(), Some(token.as_str()));

    // pending works; finished and redacted answer 409.
    assert_eq!(api.post(&resume(&seed.pending.id), None).await.status, 200);
    let done = api.post(&resume(&seed.completed.id), None).await;
    assert_eq!(done.status, 409);
    assert_eq!(done.json()["errors"][0]["title"], "Conflict");
    assert_eq!(api.post(&resume(&seed.redacted.id), None).await.status, 409);
    for status in ["failed", "approved", "declined", "needs_review"] {
        fake.set_inquiry_status(&seed.outdated.id, status).expect("status");
        assert_eq!(api.post(&resume(&seed.outdated.id), None).await.status, 409, "{status}");
    }

    // created: 200 by default, 409 when configured.
    assert_eq!(api.post(&resume(&seed.created.id), None).await.status, 200);
    fake.update_settings(|s| s.resume_created_conflict = true);
    assert_eq!(api.post(&resume(&seed.created.id), None).await.status, 409);

    // No body allowed; unknown inquiry 404.
    assert_eq!(api.post(&resume(&seed.pending.id), Some("{}")).await.status, 400);
    assert_eq!(api.post(&resume("inq_Nope"), None).await.status, 404);
    fake.assert_no_violations();
}

#[tokio::test]
async fn one_time_links_are_unique_and_refused_for_expired_or_finished_inquiries() {
    let (fake, seed) = fake_with_demo();
    let api = Api::new(&fake);
    let link = |id: &str| format!("/inquiries/{id}/generate-one-time-link");

    let first = api.post(&link(&seed.pending.id), None).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let second = api.post(&link(&seed.pending.id), Some(r#"{"meta": {"expires-in-seconds": 3600}}"#)).await;
    assert_eq!(second.status, 200);
    let (a, b) = (first.json(), second.json());
    assert_ne!(a["meta"]["one-time-link"], b["meta"]["one-time-link"]);
    assert_ne!(a["meta"]["one-time-link-short"], b["meta"]["one-time-link-short"]);
    let inquiry = fake.inquiry(&seed.pending.id).expect("inquiry");
    assert_eq!(inquiry.sessions.len(), 2, "each call creates a session");
    let ttl = inquiry.sessions[1].expires_at - inquiry.sessions[1].created_at;
    assert_eq!(ttl, 3_600_000);
    assert_eq!(api.post(&link(&seed.created.id), Some("")).await.status, 200);

    // Bodies other than {"meta": {"expires-in-seconds": N>0}} are refused.
    for (body, status) in [
        (r#"{"meta": {"expires-in-seconds": 0}}"#, 422),
        (r#"{"meta": {"expires-in-seconds": 1.5}}"#, 422),
        (r#"{"meta": {"expires-in-seconds": "60"}}"#, 422),
        (r#"{"meta": {"expires-in-seconds": 60, "x": 1}}"#, 422),
        (r#"{"expires_in_seconds": 60}"#, 422),
        (r#"{"meta": []}"#, 400),
        ("nope", 400),
        ("[]", 400),
    ] {
        assert_eq!(api.post(&link(&seed.pending.id), Some(body)).await.status, status, "{body}");
    }

    for id in [&seed.expired.id, &seed.completed.id, &seed.redacted.id] {
        assert_eq!(api.post(&link(id), None).await.status, 409, "{id}");
    }
    assert_eq!(api.post(&link("inq_Nope"), None).await.status, 404);
    fake.assert_no_violations();
}

#[tokio::test]
async fn expire_invalidates_sessions_and_links_and_resume_revives() {
    let (fake, seed) = fake_with_demo();
    let api = Api::new(&fake);
    let id = &seed.pending.id;
    let token = api.post(&format!("/inquiries/{id}/resume"), None).await.json()["meta"]["session-token"]
        .as_str()
        .expect("token")
        .to_owned();
    api.post(&format!("/inquiries/{id}/generate-one-time-link"), None).await;

    let r = api.post(&format!("/inquiries/{id}/expire"), None).await;
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert_eq!(doc["data"]["attributes"]["status"], "expired");
    assert!(doc["data"]["attributes"]["expired-at"].is_string());
    let inquiry = fake.inquiry(id).expect("inquiry");
    assert!(inquiry.sessions.iter().all(|s| s.invalidated));
    assert_eq!(inquiry.valid_links(u64::MAX / 2).count(), 0);

    // Expiring again is fine; links are refused; resume revives with a new token.
    assert_eq!(api.post(&format!("/inquiries/{id}/expire"), None).await.status, 200);
    assert_eq!(api.post(&format!("/inquiries/{id}/generate-one-time-link"), None).await.status, 409);
    let revived = api.post(&format!("/inquiries/{id}/resume"), None).await.json();
    assert_eq!(revived["data"]["attributes"]["status"], "pending");
    assert_ne!(revived["meta"]["session-token"].as_str(), Some(token.as_str()));

    assert_eq!(api.post(&format!("/inquiries/{}/expire", seed.completed.id), None).await.status, 409);
    assert_eq!(api.post(&format!("/inquiries/{}/expire", seed.redacted.id), None).await.status, 409);
    assert_eq!(api.post(&format!("/inquiries/{id}/expire"), Some("{}")).await.status, 400);
    fake.assert_no_violations();
}

#[tokio::test]
async fn list_filters_and_paginates_newest_first() {
    let fake = FakePersona::start(FakeConfig::default());
    let template = fake.create_template(NewTemplate { versions: Some(2), ..NewTemplate::default() }).expect("template");
    let other = fake.create_template(NewTemplate::default()).expect("template");
    let base = 1_700_000_000_000u64;
    let mut ids = Vec::new();
    for n in 0..25u64 {
        let inquiry = fake
            .seed_inquiry(SeedInquiry {
                template_id: if n % 5 == 0 { other.id.clone() } else { template.id.clone() },
                status: Some(["created", "pending", "expired", "completed"][(n % 4) as usize].into()),
                reference_id: Some(if n % 2 == 0 { "alice" } else { "bob" }.into()),
                account_id: Some(format!("act_{}", n % 3)),
                created_at: Some(base + n * 1000),
                ..SeedInquiry::default()
            })
            .expect("seed");
        ids.push(inquiry.id);
    }
    ids.reverse(); // newest first
    let api = Api::new(&fake);

    // Default page: 10 newest, next link, no prev.
    let doc = api.get("/inquiries").await.json();
    let page: Vec<&str> =
        doc["data"].as_array().expect("data").iter().map(|d| d["id"].as_str().unwrap_or("")).collect();
    assert_eq!(page, ids[..10].iter().map(String::as_str).collect::<Vec<_>>());
    assert!(doc["links"]["prev"].is_null());

    // Walk all pages by following links.next (Persona's /api/v1 paths).
    let mut seen = Vec::new();
    let mut next = Some("/inquiries?page%5Bsize%5D=7".to_owned());
    let mut pages = 0;
    while let Some(path) = next {
        let doc = api.get(&path).await.json();
        seen.extend(doc["data"].as_array().expect("data").iter().map(|d| d["id"].as_str().unwrap_or("").to_owned()));
        if pages > 0 {
            assert!(doc["links"]["prev"].is_string());
        }
        next = doc["links"]["next"].as_str().map(str::to_owned);
        pages += 1;
        assert!(pages < 10);
    }
    assert_eq!(pages, 4);
    assert_eq!(seen, ids);

    // Going back with prev gives the previous page.
    let second = api.get(&format!("/inquiries?page[size]=5&page[after]={}", ids[4])).await.json();
    let prev = second["links"]["prev"].as_str().expect("prev").to_owned();
    let back = api.get(&prev).await.json();
    let back_ids: Vec<&str> =
        back["data"].as_array().expect("data").iter().map(|d| d["id"].as_str().unwrap_or("")).collect();
    assert_eq!(back_ids, ids[..5].iter().map(String::as_str).collect::<Vec<_>>());

    // Filters.
    let count = |doc: &Value| doc["data"].as_array().map_or(0, Vec::len);
    let all = "page%5Bsize%5D=100";
    let alice = api.get(&format!("/inquiries?{all}&filter%5Breference-id%5D=alice")).await.json();
    assert_eq!(count(&alice), 13);
    assert!(alice["data"].as_array().expect("data").iter().all(|d| d["attributes"]["reference-id"] == "alice"));
    let open = api.get(&format!("/inquiries?{all}&filter[status]=created,pending")).await.json();
    assert!(open["data"].as_array().expect("data").iter().all(|d| {
        let s = &d["attributes"]["status"];
        s == "created" || s == "pending"
    }));
    assert_eq!(count(&open), 13);
    let on_other = api.get(&format!("/inquiries?{all}&filter[inquiry-template-id]={}", other.id)).await.json();
    assert_eq!(count(&on_other), 5);
    let acct = api.get(&format!("/inquiries?{all}&filter[account-id]=act_0,act_1")).await.json();
    assert_eq!(count(&acct), 17);
    let recipe = api
        .get(&format!(
            "/inquiries?filter[reference-id]=bob&filter[inquiry-template-id]={}&filter[status]=created,pending,expired&page[size]=1",
            template.id
        ))
        .await
        .json();
    assert_eq!(count(&recipe), 1);
    // Newest bob on `template` in an open status: n = 21 (23 is completed), i.e. ids[3].
    assert_eq!(recipe["data"][0]["id"], ids[3].as_str(), "newest matching first");
    let since = api.get("/inquiries?page[size]=100&filter[created-at-start]=2023-11-14T22:13:40.000Z").await.json();
    assert_eq!(count(&since), 5);

    // Refusals.
    for bad in [
        "/inquiries?include=inquiry-template",
        "/inquiries?page[size]=0",
        "/inquiries?page[size]=101",
        "/inquiries?page[size]=ten",
        "/inquiries?filter[colour]=red",
        "/inquiries?page[after]=inq_Unknown",
        "/inquiries?filter[created-at-start]=yesterday",
    ] {
        assert_eq!(api.get(bad).await.status, 400, "{bad}");
    }
    fake.assert_no_violations();
}

#[tokio::test]
async fn idempotency_keys_replay_answers_including_5xx_and_refuse_reuse() {
    let (fake, seed) = fake_with_demo();
    let api = Api::new(&fake);
    let before = fake.inquiries().len();
    let body = create_body(&seed.template_id, "user-idem");

    let first = api.post_with_key("/inquiries", Some(&body), "k1").await.expect("answered");
    assert_eq!(first.status, 201);
    let again = api.post_with_key("/inquiries", Some(&body), "k1").await.expect("answered");
    assert_eq!(again.status, 201);
    assert_eq!(first.json(), again.json(), "the stored answer is replayed");
    assert_ne!(first.header("request-id"), again.header("request-id"));
    assert_eq!(fake.inquiries().len(), before + 1, "no duplicate");
    assert!(fake.requests().last().expect("record").replayed);

    // Same key, other parameters: refused.
    let other = create_body(&seed.template_id, "someone-else");
    let reuse = api.post_with_key("/inquiries", Some(&other), "k1").await.expect("answered");
    assert_eq!(reuse.status, 409);
    assert!(reuse.json()["errors"][0]["details"].as_str().unwrap_or("").contains("Idempotency-Key"));
    let other_path =
        api.post_with_key(&format!("/inquiries/{}/resume", seed.pending.id), None, "k1").await.expect("answered");
    assert_eq!(other_path.status, 409);

    // A 5xx answer is stored and replayed, even after the fault is gone.
    fake.add_fault(Fault::new(Endpoint::Create, FaultKind::Status { status: 500 }));
    let failed = api.post_with_key("/inquiries", Some(&body), "k2").await.expect("answered");
    assert_eq!(failed.status, 500);
    assert!(failed.json()["errors"][0]["title"].is_string());
    let replayed = api.post_with_key("/inquiries", Some(&body), "k2").await.expect("answered");
    assert_eq!(replayed.status, 500);
    assert_eq!(replayed.text, failed.text);
    let next_key = api.post_with_key("/inquiries", Some(&body), "k2:2").await.expect("answered");
    assert_eq!(next_key.status, 201);

    // 4xx answers are stored too (Persona caches acknowledged requests).
    let bad = r#"{"data": {"attributes": {"colour": "red"}}}"#;
    assert_eq!(api.post_with_key("/inquiries", Some(bad), "k3").await.expect("answered").status, 422);
    assert_eq!(api.post_with_key("/inquiries", Some(bad), "k3").await.expect("answered").status, 422);

    // Resume with a key replays the same token.
    let path = format!("/inquiries/{}/resume", seed.expired.id);
    let r1 = api.post_with_key(&path, None, "resume-1").await.expect("answered").json();
    fake.mark_sessions_used(&seed.expired.id).expect("mark");
    let r2 = api.post_with_key(&path, None, "resume-1").await.expect("answered").json();
    assert_eq!(r1["meta"], r2["meta"]);
    fake.assert_no_violations();
}

#[tokio::test]
async fn unauthorized_and_rate_limited_answers_are_never_stored() {
    let (fake, seed) = fake_with_demo();
    let api = Api::new(&fake);
    let body = create_body(&seed.template_id, "user-401");
    let unauth = api
        .send(
            reqwest::Method::POST,
            "/inquiries",
            Some(&body),
            &[("Authorization", "Bearer nope"), ("Idempotency-Key", "same")],
        )
        .await
        .expect("answered");
    assert_eq!(unauth.status, 401);
    fake.set_rate_limit(1, Duration::from_secs(60));
    assert_eq!(api.get(&format!("/inquiries/{}", seed.pending.id)).await.status, 200);
    let limited = api.post_with_key("/inquiries", Some(&body), "same").await.expect("answered");
    assert_eq!(limited.status, 429);
    fake.disable_rate_limit();
    let ok = api.post_with_key("/inquiries", Some(&body), "same").await.expect("answered");
    assert_eq!(ok.status, 201, "the key was still fresh");
    fake.assert_no_violations();
}

#[tokio::test]
async fn rate_limit_answers_429_with_headers_and_resets_with_the_window() {
    let (fake, seed) = fake_with_demo();
    let api = Api::new(&fake);
    fake.set_rate_limit(3, Duration::from_millis(1500));
    let path = format!("/inquiries/{}", seed.pending.id);
    for remaining in ["2", "1", "0"] {
        let r = api.get(&path).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("ratelimit-remaining"), Some(remaining));
        assert_eq!(r.header("ratelimit-limit"), Some("3"));
    }
    let limited = api.get(&path).await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.json()["errors"][0]["title"], "Rate limit exceeded");
    assert!(limited.header("request-id").is_some());
    assert_eq!(limited.header("ratelimit-remaining"), Some("0"));
    let reset: u64 = limited.header("ratelimit-reset").and_then(|v| v.parse().ok()).expect("reset");
    assert!((1..=2).contains(&reset), "reset {reset}");
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(api.get(&path).await.status, 200);
    fake.assert_no_violations();
}

#[tokio::test]
async fn status_delay_and_malformed_faults() {
    let (fake, seed) = fake_with_demo();
    let api = Api::new(&fake);
    let path = format!("/inquiries/{}", seed.pending.id);

    fake.add_fault(Fault::new(Endpoint::Get, FaultKind::Status { status: 503 }).times(2));
    for _ in 0..2 {
        let r = api.get(&path).await;
        assert_eq!(r.status, 503);
        assert!(r.json()["errors"][0]["title"].is_string());
        assert!(r.header("request-id").is_some());
    }
    assert_eq!(api.get(&path).await.status, 200, "the fault is used up");

    // A fault aimed at another endpoint leaves this one alone.
    fake.add_fault(Fault::new(Endpoint::Expire, FaultKind::Status { status: 502 }));
    assert_eq!(api.get(&path).await.status, 200);
    fake.clear_faults();

    fake.add_fault(Fault::new(Endpoint::Get, FaultKind::Delay { delay_ms: 300 }));
    let started = Instant::now();
    assert_eq!(api.get(&path).await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    let record = fake.requests().last().cloned().expect("record");
    assert!(record.duration_us >= 300_000, "{}", record.duration_us);
    assert_eq!(record.fault.as_deref(), Some("delay"));

    fake.add_fault(Fault::new(Endpoint::Resume, FaultKind::Malformed { body: None }));
    let r = api.post(&format!("/inquiries/{}/resume", seed.pending.id), None).await;
    assert_eq!(r.status, 200);
    assert!(serde_json::from_str::<Value>(&r.text).is_err(), "malformed: {}", r.text);

    // Fault answers are exempt from the contract check.
    fake.assert_no_violations();
}

#[tokio::test]
async fn drop_closes_the_connection_before_the_work() {
    let (fake, seed) = fake_with_demo();
    let api = Api::new(&fake);
    let before = fake.inquiries().len();
    fake.add_fault(Fault::new(Endpoint::Create, FaultKind::Drop));
    let body = create_body(&seed.template_id, "user-drop");
    let err = match api.post_with_key("/inquiries", Some(&body), "drop-1").await {
        Ok(r) => panic!("expected a connection error, got {} {}", r.status, r.text),
        Err(e) => e,
    };
    assert!(!err.is_timeout() && err.status().is_none(), "{err:?}");
    assert_eq!(fake.inquiries().len(), before, "nothing was created");
    let record = fake.requests().last().cloned().expect("record");
    assert_eq!(record.status, None);
    assert_eq!(record.fault.as_deref(), Some("drop"));
    // The same key retried is processed fresh.
    let retry = api.post_with_key("/inquiries", Some(&body), "drop-1").await.expect("answered");
    assert_eq!(retry.status, 201);
    assert_eq!(fake.inquiries().len(), before + 1);
    fake.assert_no_violations();
}

#[tokio::test]
async fn drop_after_commit_loses_the_answer_but_keeps_the_work() {
    let (fake, seed) = fake_with_demo();
    let api = Api::new(&fake);
    let before = fake.inquiries().len();
    fake.add_fault(Fault::new(Endpoint::Create, FaultKind::DropAfterCommit));
    let body = create_body(&seed.template_id, "user-lost");
    let err = api.post_with_key("/inquiries", Some(&body), "lost-1").await.err().expect("connection error");
    assert!(err.status().is_none(), "{err:?}");
    assert_eq!(fake.inquiries().len(), before + 1, "the inquiry was created");
    let created = fake.inquiries()[0].id.clone();
    // Retrying the same key replays the stored 201: still one inquiry.
    let retry = api.post_with_key("/inquiries", Some(&body), "lost-1").await.expect("answered");
    assert_eq!(retry.status, 201);
    assert_eq!(retry.json()["data"]["id"], created.as_str());
    assert_eq!(fake.inquiries().len(), before + 1);
    let users: Vec<_> =
        fake.inquiries().into_iter().filter(|i| i.reference_id.as_deref() == Some("user-lost")).collect();
    assert_eq!(users.len(), 1);
    fake.assert_no_violations();
}

#[tokio::test]
async fn the_contract_check_flags_a_planted_bad_response() {
    let (fake, seed) = fake_with_demo();
    let api = Api::new(&fake);
    fake.add_fault(Fault::new(Endpoint::Resume, FaultKind::BreakContract));
    let r = api.post(&format!("/inquiries/{}/resume", seed.pending.id), None).await;
    assert_eq!(r.status, 200);
    assert!(r.json()["meta"].get("session-token").is_none(), "planted: {}", r.text);
    let violations = fake.violations();
    assert_eq!(violations.len(), 1, "{violations:#?}");
    assert_eq!(violations[0].operation, Endpoint::Resume);
    assert!(violations[0].errors.iter().any(|e| e.contains("session-token")), "{violations:#?}");
    assert_eq!(violations[0].request_id.as_deref(), r.header("request-id"));
}

#[tokio::test]
async fn sparse_fieldsets_are_honoured_and_flagged_by_the_contract_check() {
    let (fake, seed) = fake_with_demo();
    let api = Api::new(&fake);
    let doc = api.get(&format!("/inquiries/{}?fields[inquiry]=status", seed.pending.id)).await.json();
    assert_eq!(doc["data"]["attributes"], json!({"status": "pending"}));
    assert_eq!(fake.violations().len(), 1, "a sparse inquiry breaks the required attributes");
}

#[test]
fn the_validator_accepts_good_documents_and_rejects_bad_ones() {
    let checker = ContractChecker::shared().expect("spec loads");
    let (fake, seed) = fake_with_demo();
    let inquiry = fake.inquiry(&seed.pending.id).expect("inquiry");
    let data = integration_tests::fake_persona::documents::inquiry_resource(&inquiry);

    assert_eq!(checker.check(Endpoint::Resume, 200, &json!({"data": data, "meta": {"session-token": "t"}})), Ok(()));
    let errors = checker
        .check(Endpoint::Resume, 200, &json!({"data": data, "meta": {}}))
        .expect_err("meta without session-token breaks the contract");
    assert!(errors.iter().any(|e| e.contains("session-token")), "{errors:?}");
    assert!(checker
        .check(Endpoint::Resume, 200, &json!({"data": data, "meta": {"session-token": "t", "x": 1}}))
        .is_err());
    let mut no_status = data.clone();
    no_status["attributes"].as_object_mut().expect("attrs").remove("status");
    assert!(checker.check(Endpoint::Get, 200, &json!({"data": no_status})).is_err());
    assert!(checker.check(Endpoint::Create, 201, &json!({"data": data, "meta": {"session-token": null}})).is_err());
    assert!(checker.check(Endpoint::List, 200, &json!({"data": [data]})).is_err(), "links required");
    assert!(checker.check(Endpoint::Get, 500, &json!({"errors": []})).is_err(), "undocumented status");
    assert_eq!(checker.check(Endpoint::Link, 409, &json!({"errors": [{"title": "Conflict", "details": "x"}]})), Ok(()));
    assert!(checker.check(Endpoint::Link, 401, &json!({"errors": [{"title": "x", "details": "y"}]})).is_err());
}

#[tokio::test]
async fn control_api_drives_the_fake_over_http() {
    let fake = FakePersona::start(FakeConfig::default());
    let http = reqwest::Client::new();
    let base = fake.base_url();
    let call = |method: reqwest::Method, path: &str, body: Option<Value>| control(&http, &base, method, path, body);
    use reqwest::Method;

    let (s, seeded) = call(Method::POST, "/reset", Some(json!({"seed_demo": true}))).await;
    assert_eq!(s, 200);
    assert_eq!(seeded["seed"]["pending"]["id"], "inq_DemoPending0001");

    let (s, template) = call(Method::POST, "/templates", Some(json!({"name": "T", "versions": 2}))).await;
    assert_eq!(s, 201);
    let template_id = template["id"].as_str().expect("id").to_owned();
    assert_eq!(template["versions"].as_array().map(Vec::len), Some(2));

    let (s, inquiry) = call(
        Method::POST,
        "/inquiries",
        Some(json!({"template_id": template_id, "status": "pending", "reference_id": "u1", "account_id": "act_1"})),
    )
    .await;
    assert_eq!(s, 201, "{inquiry}");
    assert_eq!(inquiry["outdated"], false);
    let inquiry_id = inquiry["id"].as_str().expect("id").to_owned();

    let (s, published) = call(Method::POST, &format!("/templates/{template_id}/versions"), None).await;
    assert_eq!(s, 201);
    assert!(published["version_id"].as_str().is_some_and(|v| v.starts_with("itmplv_")));
    let (_, view) = call(Method::GET, &format!("/inquiries/{inquiry_id}"), None).await;
    assert_eq!(view["outdated"], true);

    let (_, view) =
        call(Method::POST, &format!("/inquiries/{inquiry_id}/status"), Some(json!({"status": "approved"}))).await;
    assert_eq!(view["status"], "approved");
    let (_, view) = call(Method::POST, &format!("/inquiries/{inquiry_id}/redact"), None).await;
    assert!(view["redacted_at"].is_u64());

    let (_, all) = call(Method::GET, "/inquiries?reference_id=u1", None).await;
    assert_eq!(all.as_array().map(Vec::len), Some(1));

    let (s, settings) = call(
        Method::PUT,
        "/settings",
        Some(json!({"hide_templates": true, "rate_limit": {"enabled": true, "limit": 50, "window_ms": 2000}})),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(settings["hide_templates"], true);
    assert_eq!(settings["rate_limit"]["limit"], 50);
    assert_eq!(settings["resume_created_conflict"], false);
    assert!(fake.settings().hide_templates);
    let (s, _) = call(Method::PUT, "/settings", Some(json!({"bogus": 1}))).await;
    assert_eq!(s, 400);

    let (s, faults) = call(
        Method::POST,
        "/faults",
        Some(json!([{"endpoint": "get", "kind": "status", "status": 502, "count": 2}, {"kind": "drop"}])),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(faults.as_array().map(Vec::len), Some(2));
    let (s, _) = call(Method::POST, "/faults", Some(json!({"kind": "explode"}))).await;
    assert_eq!(s, 400);
    let (_, faults) = call(Method::DELETE, "/faults", None).await;
    assert_eq!(faults, json!([]));

    let api = Api::new(&fake);
    api.get("/inquiries/inq_DemoPending0001").await;
    let (_, log) = call(Method::GET, "/requests", None).await;
    let log = log.as_array().expect("log");
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["path"], "/inquiries/inq_DemoPending0001");
    assert_eq!(log[0]["status"], 200);
    assert!(log[0]["duration_us"].is_u64());
    let (_, violations) = call(Method::GET, "/violations", None).await;
    assert_eq!(violations, json!([]));
    let (s, _) = call(Method::GET, "/nothing-here", None).await;
    assert_eq!(s, 404);
}

#[test]
fn shutdown_closes_the_port() {
    let fake = FakePersona::start(FakeConfig::default());
    let addr = fake.addr();
    assert!(std::net::TcpStream::connect(addr).is_ok());
    fake.shutdown();
    assert!(std::net::TcpStream::connect(addr).is_err());
}

#[test]
fn standalone_binary_prints_its_address_and_serves_seed_data() {
    use std::io::{BufRead, BufReader, Read, Write};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fake-persona"))
        .args(["--port", "0", "--seed", "--api-key", "persona_sandbox_bin"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("spawn fake-persona");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().expect("a line").expect("utf-8");
    let addr = first.strip_prefix("listening on http://").expect("first line").to_owned();
    let rest: Vec<String> = lines.by_ref().take(9).map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l.contains("inq_DemoPending0001")), "{rest:?}");

    let mut stream = std::net::TcpStream::connect(&addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    write!(
        stream,
        "GET /inquiries/inq_DemoExpired0001 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer persona_sandbox_bin\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(r#""status":"expired""#), "{answer}");
    let _ = child.kill();
    let _ = child.wait();
}

// ------------------------------------------------------------------------ documented shapes, versions

fn fake_on(version: SpecVersion) -> (FakePersona, integration_tests::fake_persona::DemoSeed) {
    let fake = FakePersona::start(FakeConfig { spec_version: Some(version), ..FakeConfig::default() });
    let seed = fake.seed_demo();
    (fake, seed)
}

/// The attribute names of the example resource an operation's documents start from.
fn example_attribute_names(fake: &FakePersona, endpoint: Endpoint) -> Vec<String> {
    let mut names: Vec<String> =
        fake.examples().resource(endpoint)["attributes"].as_object().expect("attributes").keys().cloned().collect();
    names.sort();
    names
}

fn attribute_names(resource: &Value) -> Vec<String> {
    let mut names: Vec<String> = resource["attributes"].as_object().expect("attributes").keys().cloned().collect();
    names.sort();
    names
}

/// What every inquiry the fake answers shares with Persona's examples.
fn assert_documented_inquiry_shape(fake: &FakePersona, endpoint: Endpoint, inquiry: &Value) {
    let example = fake.examples().resource(endpoint).clone();
    assert_eq!(attribute_names(inquiry), example_attribute_names(fake, endpoint), "full attribute set: {inquiry}");
    let relationships = &inquiry["relationships"];
    assert_eq!(relationships["reviewer"], json!({"data": {}}), "{inquiry}");
    assert_eq!(relationships["verifications"], example["relationships"]["verifications"], "kept as the example");
    assert_eq!(inquiry["attributes"]["behaviors"], example["attributes"]["behaviors"]);
    for name in example["relationships"].as_object().expect("relationships").keys() {
        assert!(relationships.get(name).is_some(), "relationship {name} of the example kept: {inquiry}");
    }
}

#[tokio::test]
async fn documents_start_from_the_spec_examples_on_both_versions() {
    for version in SpecVersion::ALL {
        let (fake, seed) = fake_on(version);
        assert_eq!(fake.spec_version(), Some(version));
        let api = Api::new(&fake);

        // GET: template `{"data": {}}` on a dynamic inquiry, the example's extra included objects.
        let doc = api.get(&format!("/inquiries/{}", seed.pending.id)).await.json();
        let data = &doc["data"];
        assert_documented_inquiry_shape(&fake, Endpoint::Get, data);
        assert_eq!(data["relationships"]["template"], json!({"data": {}}), "{version}: {data}");
        assert_eq!(data["relationships"]["account"]["data"]["id"], "act_DemoPending0001");
        assert_eq!(data["attributes"]["reference-id"], "demo-user-pending");
        assert!(included(&doc, "inquiry-session", "iqse_ABC123").is_some(), "{version}: {doc}");
        assert!(included(&doc, "inquiry-template", &seed.template_id).is_some(), "{version}: {doc}");
        assert!(included(&doc, "account", "act_DemoPending0001").is_none(), "account only when asked");

        // Legacy: the template is named, the dynamic-flow relationships are empty identifier objects.
        let doc = api.get(&format!("/inquiries/{}", seed.legacy.id)).await.json();
        let relationships = &doc["data"]["relationships"];
        assert_eq!(relationships["template"]["data"]["id"], seed.legacy_template_id.as_str());
        assert_eq!(relationships["inquiry-template"], json!({"data": {}}));
        assert_eq!(relationships["inquiry-template-version"], json!({"data": {}}));

        // Create, resume, link, expire and list items: each from its own example.
        let created = api.post("/inquiries", Some(&create_body(&seed.template_id, "shape-user"))).await;
        assert_eq!(created.status, 201, "{}", created.text);
        let created = created.json();
        assert_documented_inquiry_shape(&fake, Endpoint::Create, &created["data"]);
        let id = created["data"]["id"].as_str().expect("id").to_owned();
        let resumed = api.post(&format!("/inquiries/{id}/resume"), None).await.json();
        assert_documented_inquiry_shape(&fake, Endpoint::Resume, &resumed["data"]);
        assert_eq!(resumed["data"]["relationships"]["sessions"]["data"][0]["type"], "inquiry-session");
        let linked = api.post(&format!("/inquiries/{id}/generate-one-time-link"), None).await.json();
        assert_documented_inquiry_shape(&fake, Endpoint::Link, &linked["data"]);
        let expired = api.post(&format!("/inquiries/{id}/expire"), None).await.json();
        assert_documented_inquiry_shape(&fake, Endpoint::Expire, &expired["data"]);
        assert_eq!(expired["data"]["attributes"]["status"], "expired");
        let list = api.get("/inquiries?page[size]=3").await.json();
        assert_eq!(list["data"].as_array().map(Vec::len), Some(3));
        for item in list["data"].as_array().expect("items") {
            assert_documented_inquiry_shape(&fake, Endpoint::List, item);
        }

        // Accounts: the example's account type and attribute set, our id and reference id.
        let account = api.get("/accounts/act_DemoPending0001").await.json();
        assert_eq!(attribute_names(&account["data"]), example_attribute_names(&fake, Endpoint::AccountGet));
        assert_eq!(account["data"]["attributes"]["reference-id"], "demo-user-pending");
        assert_eq!(
            account["data"]["relationships"],
            fake.examples().resource(Endpoint::AccountGet)["relationships"],
            "{version}"
        );
        let accounts = api.get("/accounts?filter[reference-id]=demo-user-pending").await.json();
        assert_eq!(accounts["data"][0]["id"], "act_DemoPending0001");
        assert!(accounts["links"].is_object());

        // The 2023-01-05 inquiry's flattened personal members follow our fields.
        if version == SpecVersion::V2023_01_05 {
            assert!(data["attributes"].get("name-first").is_some_and(Value::is_null), "{data}");
            let jane = &created["data"]["attributes"];
            assert_eq!(jane["name-first"], Value::Null, "create_body sends no name: {jane}");
        }
        fake.assert_no_violations();
    }
}

#[tokio::test]
async fn planted_bad_answers_are_caught_on_both_versions() {
    for version in SpecVersion::ALL {
        let (fake, seed) = fake_on(version);
        let api = Api::new(&fake);
        for (endpoint, path) in [
            (Endpoint::Get, format!("/inquiries/{}", seed.pending.id)),
            (Endpoint::List, "/inquiries".to_owned()),
            (Endpoint::AccountGet, "/accounts/act_DemoPending0001".to_owned()),
            (Endpoint::AccountList, "/accounts".to_owned()),
        ] {
            fake.clear_violations();
            fake.add_fault(Fault::new(endpoint, FaultKind::BreakContract));
            assert_eq!(api.get(&path).await.status, 200);
            let violations = fake.violations();
            assert_eq!(violations.len(), 1, "{version} {path}: {violations:#?}");
            assert_eq!(violations[0].operation, endpoint);
        }
    }
}

// ---------------------------------------------------------------------------------------- accounts

fn template_body(template: &str, attributes: Value, meta: Value) -> String {
    let mut attributes = attributes;
    attributes["inquiry-template-id"] = json!(template);
    json!({"data": {"attributes": attributes}, "meta": meta}).to_string()
}

#[tokio::test]
async fn create_joins_or_creates_accounts_by_reference_id() {
    let (fake, seed) = fake_with_demo();
    let api = Api::new(&fake);
    let create = |attributes: Value, meta: Value| {
        let body = template_body(&seed.template_id, attributes, meta);
        let api = &api;
        async move {
            let r = api.post("/inquiries", Some(&body)).await;
            (r.status, r.json())
        }
    };
    let account_of = |doc: &Value| doc["data"]["relationships"]["account"]["data"]["id"].as_str().map(str::to_owned);

    // The deprecated attribute: the inquiry keeps it AND joins (creates) the account with that reference id.
    let (status, first) = create(json!({"reference-id": "user-dep"}), json!({})).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["data"]["attributes"]["reference-id"], "user-dep");
    let account = fake.account(&account_of(&first).expect("an account")).expect("stored");
    assert_eq!(account.reference_id.as_deref(), Some("user-dep"));
    let (_, second) = create(json!({"reference-id": "user-dep"}), json!({})).await;
    assert_eq!(account_of(&second), Some(account.id.clone()), "same reference id, same account");

    // The meta field alone: joins that account, the inquiry's own reference id stays null.
    let (_, meta_only) = create(json!({}), json!({"auto-create-account-reference-id": "user-dep"})).await;
    assert_eq!(meta_only["data"]["attributes"]["reference-id"], Value::Null);
    assert_eq!(account_of(&meta_only), Some(account.id.clone()));
    let (_, fresh) = create(json!({}), json!({"auto-create-account-reference-id": "user-new"})).await;
    let fresh_account = fake.account(&account_of(&fresh).expect("created")).expect("stored");
    assert_eq!(fresh_account.reference_id.as_deref(), Some("user-new"));
    assert_eq!(fresh["data"]["attributes"]["reference-id"], Value::Null);

    // account-id joins that account; an unknown one is 404.
    let (_, by_id) = create(json!({"account-id": fresh_account.id}), json!({})).await;
    assert_eq!(account_of(&by_id), Some(fresh_account.id.clone()));
    let (status, _) = create(json!({"account-id": "act_Unknown"}), json!({})).await;
    assert_eq!(status, 404);

    // Both reference ids: the meta field decides the account, the attribute stays the inquiry's own.
    let (_, both) =
        create(json!({"reference-id": "user-attr"}), json!({"auto-create-account-reference-id": "user-new"})).await;
    assert_eq!(both["data"]["attributes"]["reference-id"], "user-attr");
    assert_eq!(account_of(&both), Some(fresh_account.id.clone()));

    // auto-create-account false: an unknown reference id joins nothing (an empty identifier object).
    let (_, none) =
        create(json!({}), json!({"auto-create-account": false, "auto-create-account-reference-id": "user-nobody"}))
            .await;
    assert_eq!(none["data"]["relationships"]["account"], json!({"data": {}}));
    assert_eq!(fake.accounts().iter().filter(|a| a.reference_id.as_deref() == Some("user-nobody")).count(), 0);
    fake.assert_no_violations();
}

#[tokio::test]
async fn accounts_are_listed_by_comma_lists_fetched_and_sparse_and_personal_data_is_counted() {
    let (fake, seed) = fake_with_demo();
    let api = Api::new(&fake);
    let a = fake.seed_account(SeedAccount { reference_id: Some("ref-a".into()), ..SeedAccount::default() }).unwrap();
    let b = fake.seed_account(SeedAccount { reference_id: Some("ref-b".into()), ..SeedAccount::default() }).unwrap();
    let upper =
        fake.seed_account(SeedAccount { reference_id: Some("REF-A".into()), ..SeedAccount::default() }).unwrap();
    let ids = |doc: &Value| -> Vec<String> {
        doc["data"].as_array().expect("list").iter().map(|o| o["id"].as_str().expect("id").to_owned()).collect()
    };

    // A comma list is OR; matching is exact (REF-A is someone else); newest first.
    let list = api.get("/accounts?filter[reference-id]=ref-a,ref-b&fields[account]=reference-id").await.json();
    assert_eq!(ids(&list), vec![b.id.clone(), a.id.clone()]);
    assert_eq!(list["data"][0]["attributes"], json!({"reference-id": "ref-b"}), "sparse fields honoured");
    assert_eq!(fake.personal_fields_served(), 0);
    let page = api.get("/accounts?filter[reference-id]=ref-a,ref-b&page[size]=1").await.json();
    assert_eq!(ids(&page), vec![b.id.clone()]);
    assert!(page["links"]["next"].as_str().is_some_and(|n| n.starts_with("/api/v1/accounts?")), "{page}");
    assert_eq!(fake.personal_fields_served(), 1, "a full account carries the user's personal data");
    assert!(page["data"][0]["attributes"]["fields"].as_object().is_some_and(|f| !f.is_empty()));

    // One account: full (personal data) or sparse (none).
    let full = api.get(&format!("/accounts/{}", upper.id)).await;
    assert_eq!(full.status, 200);
    assert_eq!(full.json()["data"]["attributes"]["reference-id"], "REF-A");
    assert_eq!(fake.personal_fields_served(), 2);
    let sparse = api.get(&format!("/accounts/{}?fields[account]=reference-id", a.id)).await.json();
    assert_eq!(sparse["data"]["attributes"], json!({"reference-id": "ref-a"}));
    assert_eq!(api.get("/accounts/act_Nobody").await.status, 404);
    assert_eq!(api.get("/accounts?filter[name]=x").await.status, 400);

    // include=account on an inquiry, sparse or not.
    let path = format!("/inquiries/{}?include=account&fields[account]=reference-id", seed.pending.id);
    let doc = api.get(&path).await.json();
    let account = included(&doc, "account", "act_DemoPending0001").expect("account included");
    assert_eq!(account["attributes"], json!({"reference-id": "demo-user-pending"}));
    assert_eq!(fake.personal_fields_served(), 2);
    let doc = api.get(&format!("/inquiries/{}?include=account,inquiry-template", seed.pending.id)).await.json();
    assert!(included(&doc, "account", "act_DemoPending0001").is_some());
    assert!(included(&doc, "inquiry-template", &seed.template_id).is_some());
    assert_eq!(fake.personal_fields_served(), 3);
    let log = fake.requests();
    assert!(log.last().is_some_and(|r| r.personal_data), "the log says which answer carried it");
    assert_eq!(log.iter().filter(|r| r.personal_data).count(), 3);
    assert_eq!(
        log[0].query_param("filter[reference-id]").as_deref(),
        Some("ref-a,ref-b"),
        "the log shows the query sent"
    );

    // An account seeded without personal data carries none.
    let plain = fake
        .seed_account(SeedAccount { fields: Some(serde_json::Map::new()), ..SeedAccount::default() })
        .expect("account");
    api.get(&format!("/accounts/{}", plain.id)).await;
    assert_eq!(fake.personal_fields_served(), 3);

    // filter[account-id] on the inquiry list is a comma list too.
    let list = api
        .get("/inquiries?filter[account-id]=act_DemoPending0001,act_DemoCreated0001&fields[inquiry]=status")
        .await
        .json();
    assert_eq!(ids(&list), vec!["inq_DemoPending0001".to_owned(), "inq_DemoCreated0001".to_owned()]);
    fake.clear_violations(); // sparse inquiries break the required attributes, on purpose
    api.get("/inquiries?filter[account-id]=act_DemoPending0001").await;
    fake.assert_no_violations();
}

#[tokio::test]
async fn lax_filters_ignore_every_filter_and_loose_reference_ids_fold() {
    let (fake, seed) = fake_with_demo();
    let api = Api::new(&fake);
    let ids = |doc: &Value| -> Vec<String> {
        doc["data"].as_array().expect("list").iter().map(|o| o["id"].as_str().expect("id").to_owned()).collect()
    };
    let query = "/inquiries?filter[reference-id]=demo-user-completed&filter[status]=completed&page[size]=2";
    assert_eq!(ids(&api.get(query).await.json()), vec![seed.completed.id.clone()]);

    // Lax: everything of that type, newest first, page size still applies.
    fake.set_lax_filters(true);
    let newest: Vec<String> = fake.inquiries().iter().take(2).map(|i| i.id.clone()).collect();
    assert_eq!(ids(&api.get(query).await.json()), newest);
    let accounts = api.get("/accounts?filter[reference-id]=demo-user-completed&page[size]=100").await.json();
    assert_eq!(ids(&accounts).len(), fake.accounts().len());
    assert_eq!(api.get("/inquiries?filter[bogus]=1").await.status, 400, "still a 400 for an unknown filter");

    // Over the control API too.
    let http = reqwest::Client::new();
    let settings = http
        .put(format!("{}/_control/settings", fake.base_url()))
        .body(json!({"lax_filters": false, "loose_reference_ids": true}).to_string())
        .send()
        .await
        .expect("control")
        .text()
        .await
        .expect("body");
    let settings: Value = serde_json::from_str(&settings).expect("json");
    assert_eq!(settings["lax_filters"], false);
    assert!(fake.settings().loose_reference_ids);

    // Loose: case folding, and comma splitting on the inquiry list.
    let folded = api.get("/inquiries?filter[reference-id]=DEMO-USER-PENDING").await.json();
    assert_eq!(ids(&folded), vec![seed.pending.id.clone()]);
    let split = api.get("/inquiries?filter[reference-id]=demo-user-pending,demo-user-expired").await.json();
    assert_eq!(ids(&split), vec![seed.pending.id.clone(), seed.expired.id.clone()]);
    let accounts = api.get("/accounts?filter[reference-id]=Demo-User-Pending").await.json();
    assert_eq!(ids(&accounts), vec!["act_DemoPending0001".to_owned()]);
    fake.set_loose_reference_ids(false);
    assert_eq!(ids(&api.get("/inquiries?filter[reference-id]=DEMO-USER-PENDING").await.json()), Vec::<String>::new());
    fake.assert_no_violations();
}

#[tokio::test]
async fn seeding_links_inquiries_to_accounts_and_the_demo_has_an_account_only_user() {
    let (fake, seed) = fake_with_demo();
    let api = Api::new(&fake);
    let only = &seed.account_only;
    assert!(!only.reference_id_on_inquiry);
    let doc = api.get(&format!("/inquiries/{}?include=account&fields[account]=reference-id", only.id)).await.json();
    assert_eq!(doc["data"]["attributes"]["reference-id"], Value::Null);
    let account_id = only.account_id.as_deref().expect("account");
    assert_eq!(
        included(&doc, "account", account_id).expect("account")["attributes"]["reference-id"],
        "demo-user-account-only"
    );

    let template = fake.create_template(NewTemplate::default()).expect("template");
    let seeded =
        |seed: SeedInquiry| fake.seed_inquiry(SeedInquiry { template_id: template.id.clone(), ..seed }).unwrap();
    // A reference id joins that account; an account reference id alone leaves the own one null.
    let a = seeded(SeedInquiry { reference_id: Some("seed-user".into()), ..SeedInquiry::default() });
    let b = seeded(SeedInquiry { account_reference_id: Some("seed-user".into()), ..SeedInquiry::default() });
    assert_eq!(a.account_id, b.account_id);
    assert!(a.account_id.is_some() && b.reference_id.is_none());
    assert_eq!(fake.account_of(&b.id).and_then(|acc| acc.reference_id).as_deref(), Some("seed-user"));
    let c = seeded(SeedInquiry { reference_id: Some("seed-user".into()), no_account: true, ..SeedInquiry::default() });
    assert_eq!(c.account_id, None);
    let d = seeded(SeedInquiry { account_id: Some("act_Named".into()), ..SeedInquiry::default() });
    assert_eq!(fake.account("act_Named").map(|acc| acc.id), d.account_id);
    fake.assert_no_violations();
}

#[tokio::test]
async fn an_incident_stores_500s_under_its_keys_and_the_next_key_succeeds() {
    let (fake, seed) = fake_with_demo();
    let api = Api::new(&fake);
    let body = create_body(&seed.template_id, "incident-user");
    let before = fake.inquiries().len();
    fake.start_incident(Endpoint::Create, 500, 4);
    for n in 1..=4 {
        let r = api.post_with_key("/inquiries", Some(&body), &format!("key-{n}")).await.expect("answered");
        assert_eq!(r.status, 500);
    }
    // The incident is over; its keys keep replaying it, the next key is served.
    for n in 1..=4 {
        let r = api.post_with_key("/inquiries", Some(&body), &format!("key-{n}")).await.expect("answered");
        assert_eq!(r.status, 500, "key-{n} replays its stored 500");
    }
    let r = api.post_with_key("/inquiries", Some(&body), "key-5").await.expect("answered");
    assert_eq!(r.status, 201);
    assert_eq!(fake.inquiries().len(), before + 1, "exactly one new inquiry");
    let stored = fake.stored_answers();
    assert_eq!(stored.iter().filter(|(_, s)| *s == 500).count(), 4);
    assert!(stored.contains(&("key-5".to_owned(), 201)));
    assert_eq!(fake.requests().iter().filter(|r| r.replayed).count(), 4);
    fake.assert_no_violations();
}

#[test]
fn spec_versions_parse_and_resolve_to_the_vendored_files() {
    assert_eq!("2023-01-05".parse::<SpecVersion>(), Ok(SpecVersion::V2023_01_05));
    assert_eq!(SpecVersion::default().as_str(), "2025-12-08");
    assert!("2024-01-01".parse::<SpecVersion>().is_err());
    for version in SpecVersion::ALL {
        assert!(version.vendored_path().is_file(), "{}", version.vendored_path().display());
        let checker = ContractChecker::for_version(version).expect("loads");
        assert_eq!(checker.spec().version(), Some(version));
    }
}

#[test]
fn standalone_binary_serves_the_2023_spec_when_asked() {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fake-persona"))
        .args(["--port", "0", "--seed", "--spec-version", "2023-01-05", "--lax-filters"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("spawn fake-persona");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = Vec::new();
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        let last = line.starts_with("response contract check");
        lines.push(line);
        if last {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(lines.iter().any(|l| l.starts_with("persona spec 2023-01-05")), "{lines:#?}");
    assert!(
        lines.iter().any(|l| l.contains("inq_DemoAccountOnly0001") && l.contains("reference-id null")),
        "{lines:#?}"
    );
}

#[tokio::test]
async fn control_api_seeds_accounts_and_reports_personal_data_and_stored_keys() {
    let fake = FakePersona::start(FakeConfig::default());
    let http = reqwest::Client::new();
    let base = fake.base_url();
    let call = |method: reqwest::Method, path: &str, body: Option<Value>| control(&http, &base, method, path, body);
    use reqwest::Method;
    let (s, account) =
        call(Method::POST, "/accounts", Some(json!({"id": "act_Control1", "reference_id": "ctl-user"}))).await;
    assert_eq!(s, 201, "{account}");
    assert_eq!(account["reference_id"], "ctl-user");
    assert_eq!(call(Method::POST, "/accounts", Some(json!({"id": "nope"}))).await.0, 400);
    let (s, _) = call(Method::GET, "/accounts/act_Control1", None).await;
    assert_eq!(s, 200);
    assert_eq!(call(Method::GET, "/accounts", None).await.1.as_array().map(Vec::len), Some(1));

    let api = Api::new(&fake);
    assert_eq!(api.get("/accounts/act_Control1").await.status, 200);
    assert_eq!(call(Method::GET, "/personal-fields", None).await.1, json!({"served": 1}));

    let (_, template) = call(Method::POST, "/templates", Some(json!({}))).await;
    let body = create_body(template["id"].as_str().expect("id"), "ctl-user");
    call(Method::POST, "/faults", Some(json!({"endpoint": "create", "kind": "status", "status": 500, "count": 1})))
        .await;
    assert_eq!(api.post_with_key("/inquiries", Some(&body), "k1").await.expect("answered").status, 500);
    assert_eq!(api.post_with_key("/inquiries", Some(&body), "k2").await.expect("answered").status, 201);
    let (_, keys) = call(Method::GET, "/idempotency", None).await;
    assert_eq!(keys, json!([{"key": "k1", "status": 500}, {"key": "k2", "status": 201}]));
    let (_, inquiry) = call(
        Method::POST,
        "/inquiries",
        Some(json!({"template_id": template["id"], "account_reference_id": "ctl-user"})),
    )
    .await;
    assert_eq!(inquiry["account_id"], "act_Control1", "joins the account with that reference id");
    assert_eq!(inquiry["reference_id"], Value::Null);
    fake.assert_no_violations();
}

/// One call of the fake's control API: its status and JSON body.
fn control(
    http: &reqwest::Client,
    base: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> impl std::future::Future<Output = (u16, Value)> {
    let mut req = http.request(method, format!("{base}/_control{path}"));
    if let Some(body) = body {
        req = req.body(body.to_string());
    }
    async move {
        let resp = req.send().await.expect("answered");
        let status = resp.status().as_u16();
        let body: Value = serde_json::from_str(&resp.text().await.expect("body")).expect("json");
        (status, body)
    }
}

// ------------------------------------------------------------- issue 19: 2026-09-29, deploy, tags, keys, caps

impl Api {
    /// A request that asks for another API version than the default 2025-12-08.
    async fn send_as(&self, version: &str, method: reqwest::Method, path: &str, body: Option<&str>) -> Reply {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("Persona-Version", version)
            .bearer_auth(&self.key);
        if let Some(body) = body {
            req = req.header("content-type", "application/json").body(body.to_owned());
        }
        let resp = req.send().await.expect("answered");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        Reply { status, headers, text: resp.text().await.expect("body") }
    }
}

/// A template with three published versions, oldest first.
fn three_versions(fake: &FakePersona) -> (String, [String; 3]) {
    let template = fake.create_template(NewTemplate { versions: Some(3), ..NewTemplate::default() }).unwrap();
    let [v1, v2, v3]: [String; 3] = template.versions.clone().try_into().unwrap();
    (template.id, [v1, v2, v3])
}

#[tokio::test]
async fn api_2026_answers_carry_template_versions_with_live_tag_and_deployments() {
    let fake = FakePersona::start(FakeConfig::default());
    let api = Api::new(&fake);
    let (template, [_, v2, v3]) = three_versions(&fake);
    fake.deploy_version(&template, Some(&v2)).unwrap();
    let inquiry = fake
        .seed_inquiry(SeedInquiry {
            template_id: template.clone(),
            template_version_id: Some(v2.clone()),
            reference_id: Some("user-2026".into()),
            ..SeedInquiry::default()
        })
        .unwrap();

    let path = format!("/inquiries/{}?include=inquiry-template,inquiry-template-version", inquiry.id);
    let doc = api.send_as("2026-09-29", reqwest::Method::GET, &path, None).await.json();
    let own = included(&doc, "inquiry-template-version", &v2).expect("the inquiry's version is included");
    assert_eq!(own["attributes"]["live"], true, "creates are routed to v2");
    assert_eq!(own["attributes"]["version-tag"]["name"], "v2");
    let rule = &own["attributes"]["deployments"][0]["rules"][0]["strategy"];
    assert_eq!((rule["type"].as_str(), rule["version"]["token"].as_str()), (Some("constant"), Some(v2.as_str())));
    assert!(included(&doc, "inquiry-template-version", &v3).is_none(), "not asked for: {doc}");

    // Nested include, one level deep: the latest published version, published but not deployed.
    let nested = format!("/inquiries/{}?include=inquiry-template.latest-published-version", inquiry.id);
    let doc = api.send_as("2026-09-29", reqwest::Method::GET, &nested, None).await.json();
    let latest = included(&doc, "inquiry-template-version", &v3).expect("the latest published version");
    assert_eq!(latest["attributes"]["live"], false);
    assert_eq!(latest["attributes"]["deployments"], json!([]));

    // The service's own types read it: the template still names v3 as latest, the included versions say v2 is live.
    let typed: persona_resume::persona::model::InquiryDocument = serde_json::from_value(doc).unwrap();
    assert_eq!(typed.latest_published_version_id().as_deref(), Some(v3.as_str()));
    let parsed = api.send_as("2026-09-29", reqwest::Method::GET, &path, None).await.json();
    let typed: persona_resume::persona::model::InquiryDocument = serde_json::from_value(parsed).unwrap();
    let live: Vec<String> = typed.template_versions().iter().filter(|v| v.is_live()).map(|v| v.id.clone()).collect();
    assert_eq!(live, std::slice::from_ref(&v2));

    // 2025-12-08 answers stay as they were: no version objects, no nested include.
    let doc = api.get(&path).await.json();
    assert!(included(&doc, "inquiry-template-version", &v2).is_none(), "{doc}");
    assert_eq!(api.get(&nested).await.status, 400);
    // The 2026 answers don't fit the 2025-12-08 schema (version-tag, deployments): exempt, not violations.
    fake.assert_no_violations();
}

#[tokio::test]
async fn creates_follow_the_deployed_version_not_the_latest_published_one() {
    let fake = FakePersona::start(FakeConfig::default());
    let api = Api::new(&fake);
    let (template, [v1, v2, v3]) = three_versions(&fake);
    let created_version = |doc: Value| {
        doc["data"]["relationships"]["inquiry-template-version"]["data"]["id"].as_str().unwrap().to_owned()
    };
    let body = create_body(&template, "deploy-user");
    let create = || api.post("/inquiries", Some(&body));
    assert_eq!(created_version(create().await.json()), v3, "no deployment: the latest published version");

    fake.deploy_version(&template, Some(&v2)).unwrap();
    let created = create().await;
    assert_eq!(created.status, 201);
    let id = created.json()["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(fake.inquiry(&id).unwrap().template_version_id.as_deref(), Some(v2.as_str()));
    assert_eq!(fake.is_outdated(&id), Some(true), "the template's latest published version is still v3");
    let v4 = fake.publish_version(&template).unwrap();
    assert_eq!(created_version(create().await.json()), v2, "publishing doesn't move a deployment");

    // The control API: deploy another version, then back to the latest.
    let http = reqwest::Client::new();
    let base = fake.base_url();
    let deploy = |version: Value| {
        control(
            &http,
            &base,
            reqwest::Method::POST,
            &format!("/templates/{template}/deploy"),
            Some(json!({"version_id": version})),
        )
    };
    let (status, body) = deploy(json!(v1)).await;
    assert_eq!((status, body["deployed_version"].as_str()), (200, Some(v1.as_str())));
    assert_eq!(created_version(create().await.json()), v1);
    assert_eq!(deploy(json!("itmplv_NotOfThisTemplate")).await.0, 400);
    assert_eq!(deploy(Value::Null).await.0, 200);
    assert_eq!(created_version(create().await.json()), v4);
    assert!(fake.deploy_version("itmpl_Missing", None).is_err());
    fake.assert_no_violations();
}

#[tokio::test]
async fn tags_given_on_create_are_stored_and_returned_and_lists_take_no_tag_filter() {
    let fake = FakePersona::start(FakeConfig::default());
    let api = Api::new(&fake);
    let (template, _) = three_versions(&fake);
    let body = template_body(&template, json!({"reference-id": "tag-user", "tags": ["persona-resume"]}), json!({}));
    let created = api.post("/inquiries", Some(&body)).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.json()["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created.json()["data"]["attributes"]["tags"], json!(["persona-resume"]));
    assert_eq!(
        api.get(&format!("/inquiries/{id}")).await.json()["data"]["attributes"]["tags"],
        json!(["persona-resume"])
    );
    let listed = api.get("/inquiries?filter[reference-id]=tag-user").await.json();
    assert_eq!(listed["data"][0]["attributes"]["tags"], json!(["persona-resume"]));
    // Persona's list documents no tag filter (2023-01-05 and 2025-12-08): refused like any unknown filter.
    assert_eq!(api.get("/inquiries?filter[tags]=persona-resume").await.status, 400);
    let bad = template_body(&template, json!({"tags": "persona-resume"}), json!({}));
    assert_eq!(api.post("/inquiries", Some(&bad)).await.status, 400);
    fake.assert_no_violations();
}

#[tokio::test]
async fn forgetting_every_idempotency_key_makes_a_known_key_create_again() {
    let fake = FakePersona::start(FakeConfig::default());
    let api = Api::new(&fake);
    let (template, _) = three_versions(&fake);
    let body = create_body(&template, "key-user");
    let id_of = |r: Reply| r.json()["data"]["id"].as_str().unwrap().to_owned();
    let first = id_of(api.post_with_key("/inquiries", Some(&body), "create:k1").await.unwrap());
    let replay = api.post_with_key("/inquiries", Some(&body), "create:k1").await.unwrap();
    assert_eq!(id_of(replay), first, "replayed within Persona's window");
    fake.forget_idempotency_keys();
    assert!(fake.stored_answers().is_empty());
    let fresh = id_of(api.post_with_key("/inquiries", Some(&body), "create:k1").await.unwrap());
    assert_ne!(fresh, first, "a forgotten key creates anew");

    let http = reqwest::Client::new();
    let (status, _) = control(&http, &fake.base_url(), reqwest::Method::DELETE, "/idempotency", None).await;
    assert_eq!(status, 200);
    let again = id_of(api.post_with_key("/inquiries", Some(&body), "create:k1").await.unwrap());
    assert!(again != fresh && again != first);
    assert_eq!(fake.inquiries().len(), 3);
    fake.assert_no_violations();
}

#[tokio::test]
async fn an_inquiry_has_at_most_its_cap_of_sessions_then_links_and_new_resumes_get_422() {
    let fake = FakePersona::start(FakeConfig::default());
    let api = Api::new(&fake);
    assert_eq!(fake.settings().sessions_per_inquiry, 25, "Persona's default");
    let (template, _) = three_versions(&fake);
    let inquiry = fake
        .seed_inquiry(SeedInquiry { template_id: template, status: Some("pending".into()), ..SeedInquiry::default() })
        .unwrap();
    fake.set_sessions_per_inquiry(3);
    let link = format!("/inquiries/{}/generate-one-time-link", inquiry.id);
    let resume = format!("/inquiries/{}/resume", inquiry.id);
    assert_eq!(api.post(&link, None).await.status, 200);
    assert_eq!(api.post(&resume, None).await.status, 200, "a new token session: 2 of 3");
    assert_eq!(api.post(&resume, None).await.status, 200, "the unused one is reused: still 2");
    assert_eq!(api.post(&link, None).await.status, 200, "3 of 3");
    let refused = api.post(&link, None).await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert_eq!(refused.json()["errors"][0]["details"], integration_tests::fake_persona::SESSION_CAP_DETAILS);
    assert_eq!(api.post(&resume, None).await.status, 200, "reusing the unused token makes no session");
    fake.mark_sessions_used(&inquiry.id).unwrap();
    assert_eq!(api.post(&resume, None).await.status, 422, "a resume that needs a new session is refused too");
    assert_eq!(fake.inquiry(&inquiry.id).unwrap().sessions.len(), 3);
    fake.set_sessions_per_inquiry(0);
    assert_eq!(api.post(&link, None).await.status, 200, "0 turns the cap off");
    // The 422 is within the spec's 422 schema of both operations.
    fake.assert_no_violations();
}

#[tokio::test]
async fn a_browser_planted_inquiry_takes_any_reference_id_joins_its_account_and_has_no_tag() {
    let fake = FakePersona::start(FakeConfig::default());
    let api = Api::new(&fake);
    let (template, [_, _, v3]) = three_versions(&fake);
    let victim =
        fake.seed_account(SeedAccount { reference_id: Some("victim".into()), ..SeedAccount::default() }).unwrap();
    let planted = fake
        .plant_browser_inquiry(integration_tests::fake_persona::BrowserInquiry {
            template_id: template.clone(),
            reference_id: "victim".into(),
            status: Some("approved".into()),
            created_at: None,
        })
        .unwrap();
    assert_eq!(planted.reference_id.as_deref(), Some("victim"));
    assert_eq!(planted.account_id.as_deref(), Some(victim.id.as_str()), "attached to the reference id's account");
    assert!(planted.tags.is_empty());
    assert_eq!(planted.template_version_id.as_deref(), Some(v3.as_str()));
    assert_ne!(planted.creator, "API");
    let listed = api.get(&format!("/inquiries?filter[account-id]={}", victim.id)).await.json();
    assert_eq!(listed["data"][0]["id"], planted.id.as_str());
    assert_eq!(listed["data"][0]["attributes"]["tags"], json!([]));

    // Over the control API, for a reference id nobody has yet: its account is created.
    let http = reqwest::Client::new();
    let body = json!({"template_id": template, "reference_id": "newcomer"});
    let (status, view) =
        control(&http, &fake.base_url(), reqwest::Method::POST, "/inquiries/from-browser", Some(body)).await;
    assert_eq!(status, 201, "{view}");
    assert_eq!((view["status"].as_str(), view["reference_id"].as_str()), (Some("created"), Some("newcomer")));
    let account = fake.account(view["account_id"].as_str().expect("an account")).unwrap();
    assert_eq!(account.reference_id.as_deref(), Some("newcomer"));
    let missing = json!({"template_id": "itmpl_Missing", "reference_id": "x"});
    assert_eq!(
        control(&http, &fake.base_url(), reqwest::Method::POST, "/inquiries/from-browser", Some(missing)).await.0,
        404
    );
    fake.assert_no_violations();
}
