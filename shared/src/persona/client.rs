//! The Persona HTTP client: I/O and nothing else. One `reqwest` client (keep-alive, rustls) built at cold start;
//! every call is versioned, authenticated, retried within the invocation's deadline, and recorded.

use std::time::Duration;

use reqwest::header::HeaderValue;
use reqwest::Method;
use url::Url;

use crate::app::port::PersonaPort;
use crate::domain::ids::{AccountId, InquiryId};
use crate::ops::secrets::KeyStore;
use crate::persona::calls::Invocation;
use crate::persona::error::UpstreamError;
use crate::persona::idempotency::KeySequence;
use crate::persona::model::{
    AccountDocument, AccountList, CreateInquiry, CreatedDocument, ExpiredDocument, InquiryDocument, InquiryList,
    OneTimeLinkDocument, OneTimeLinkRequest, OneTimeLinkRequestMeta, ResumeDocument,
};
use crate::persona::operation::Operation;
use crate::persona::retry::RetryPolicy;
use crate::persona::transport::parse;

const USER_AGENT: &str = concat!("persona-resume/", env!("CARGO_PKG_VERSION"));

/// Filters of `GET /inquiries`. Persona's filters are a convenience, never a check: every item that comes back is
/// checked for ownership before it is used or named (docs/design.md, "Who owns an inquiry").
#[derive(Debug, Clone, Default)]
pub struct ListFilter<'a> {
    pub reference_id: Option<&'a str>,
    /// Inquiries of any of these accounts (`filter[account-id]` takes a comma-separated list).
    pub account_ids: Vec<&'a AccountId>,
    pub inquiry_template_id: Option<&'a str>,
    /// Comma-separated statuses, e.g. `created,pending,expired`; `None` for all.
    pub statuses: Option<&'a str>,
    pub page_size: u8,
}

/// Every account read asks for the reference id only: the functions never receive a user's personal fields.
const ACCOUNT_FIELDS: (&str, &str) = ("fields[account]", "reference-id");

/// Page size of account lookups: a company's user has one account, rarely a few.
const ACCOUNT_PAGE_SIZE: u8 = 10;

/// The transport (`send`, in `transport.rs`) reads these fields too.
pub struct PersonaClient {
    pub(super) http: reqwest::Client,
    /// Always ends with `/`, so joining keeps its path (`…/api/v1/` + `inquiries`).
    base_url: Url,
    pub(super) persona_version: HeaderValue,
    pub(super) keys: KeyStore,
    pub(super) retry: RetryPolicy,
}

impl PersonaClient {
    pub fn new(base_url: &Url, persona_version: &str, keys: KeyStore, retry: RetryPolicy) -> Result<Self, String> {
        Self::with_http(Self::http_client()?, base_url, persona_version, keys, retry)
    }

    /// The HTTP client alone: the costly part of [`PersonaClient::new`] (it reads and parses the platform's root
    /// certificates), and blocking, so a cold start can build it on a blocking thread while the secret is read.
    pub fn http_client() -> Result<reqwest::Client, String> {
        reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(Duration::from_secs(3))
            // Persona closes idle connections; Lambda may freeze us for longer. A stale connection shows up as a
            // connection error, which is retried with the same idempotency key.
            .pool_idle_timeout(Duration::from_secs(50))
            .tcp_nodelay(true)
            // Never follow a redirect with our bearer key.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("could not build the HTTP client: {e}"))
    }

    /// A client around an HTTP client from [`PersonaClient::http_client`].
    pub fn with_http(
        http: reqwest::Client,
        base_url: &Url,
        persona_version: &str,
        keys: KeyStore,
        retry: RetryPolicy,
    ) -> Result<Self, String> {
        let mut base_url = base_url.clone();
        if !base_url.path().ends_with('/') {
            let path = format!("{}/", base_url.path());
            base_url.set_path(&path);
        }
        let persona_version =
            HeaderValue::from_str(persona_version).map_err(|_| "PERSONA_VERSION is not a valid header value")?;
        Ok(Self { http, base_url, persona_version, keys, retry })
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base_url.clone();
        url.path_segments_mut().expect("validated http(s) base URL").pop_if_empty().extend(segments);
        url
    }
}

/// The endpoints, as the service's port: the only way in, so the service and its tests' double see one API.
impl PersonaPort for PersonaClient {
    /// `GET /inquiries/{id}?include=inquiry-template,account&fields[account]=reference-id`: the template (for the
    /// latest published version) and the account's reference id (for ownership) in the same call.
    async fn get_inquiry(
        &self,
        inv: &mut Invocation,
        inquiry_id: &InquiryId,
    ) -> Result<InquiryDocument, UpstreamError> {
        let mut url = self.url(&["inquiries", inquiry_id.as_str()]);
        url.query_pairs_mut()
            .append_pair("include", "inquiry-template,account")
            .append_pair(ACCOUNT_FIELDS.0, ACCOUNT_FIELDS.1);
        let answer = self.send(inv, Operation::GetInquiry, Method::GET, url, None, None).await?;
        parse(Operation::GetInquiry, answer)
    }

    /// `GET /inquiries` with filters, newest first (one page).
    async fn list_inquiries(
        &self,
        inv: &mut Invocation,
        filter: &ListFilter<'_>,
    ) -> Result<InquiryList, UpstreamError> {
        let mut url = self.url(&["inquiries"]);
        {
            let mut query = url.query_pairs_mut();
            if let Some(reference_id) = filter.reference_id {
                query.append_pair("filter[reference-id]", reference_id);
            }
            if !filter.account_ids.is_empty() {
                let ids: Vec<&str> = filter.account_ids.iter().map(|id| id.as_str()).collect();
                query.append_pair("filter[account-id]", &ids.join(","));
            }
            if let Some(template_id) = filter.inquiry_template_id {
                query.append_pair("filter[inquiry-template-id]", template_id);
            }
            if let Some(statuses) = filter.statuses {
                query.append_pair("filter[status]", statuses);
            }
            query.append_pair("page[size]", &filter.page_size.clamp(1, 100).to_string());
        }
        let answer = self.send(inv, Operation::ListInquiries, Method::GET, url, None, None).await?;
        parse(Operation::ListInquiries, answer)
    }

    /// `GET /accounts?filter[reference-id]=…&fields[account]=reference-id` (one page).
    async fn list_accounts(
        &self,
        inv: &mut Invocation,
        reference_id: &str,
    ) -> Result<AccountList, UpstreamError> {
        let mut url = self.url(&["accounts"]);
        url.query_pairs_mut()
            .append_pair("filter[reference-id]", reference_id)
            .append_pair(ACCOUNT_FIELDS.0, ACCOUNT_FIELDS.1)
            .append_pair("page[size]", &ACCOUNT_PAGE_SIZE.to_string());
        let answer = self.send(inv, Operation::ListAccounts, Method::GET, url, None, None).await?;
        parse(Operation::ListAccounts, answer)
    }

    /// `GET /accounts/{id}?fields[account]=reference-id`
    async fn get_account(
        &self,
        inv: &mut Invocation,
        account_id: &AccountId,
    ) -> Result<AccountDocument, UpstreamError> {
        let mut url = self.url(&["accounts", account_id.as_str()]);
        url.query_pairs_mut().append_pair(ACCOUNT_FIELDS.0, ACCOUNT_FIELDS.1);
        let answer = self.send(inv, Operation::GetAccount, Method::GET, url, None, None).await?;
        parse(Operation::GetAccount, answer)
    }

    /// `POST /inquiries/{id}/resume` — no request body (the spec defines none).
    async fn resume(
        &self,
        inv: &mut Invocation,
        inquiry_id: &InquiryId,
        keys: KeySequence,
    ) -> Result<ResumeDocument, UpstreamError> {
        let url = self.url(&["inquiries", inquiry_id.as_str(), "resume"]);
        let answer = self.send(inv, Operation::Resume, Method::POST, url, None, Some(keys)).await?;
        parse(Operation::Resume, answer)
    }

    /// `POST /inquiries/{id}/generate-one-time-link`, with a body only when an expiry is chosen.
    async fn generate_one_time_link(
        &self,
        inv: &mut Invocation,
        inquiry_id: &InquiryId,
        expires_in_seconds: Option<u32>,
        keys: KeySequence,
    ) -> Result<OneTimeLinkDocument, UpstreamError> {
        let url = self.url(&["inquiries", inquiry_id.as_str(), "generate-one-time-link"]);
        let body = expires_in_seconds
            .map(|seconds| OneTimeLinkRequest { meta: OneTimeLinkRequestMeta { expires_in_seconds: seconds } });
        let body = body.map(|b| serde_json::to_vec(&b).expect("plain struct serializes"));
        let answer = self.send(inv, Operation::GenerateOneTimeLink, Method::POST, url, body, Some(keys)).await?;
        parse(Operation::GenerateOneTimeLink, answer)
    }

    /// `POST /inquiries`
    async fn create_inquiry(
        &self,
        inv: &mut Invocation,
        body: &CreateInquiry,
        keys: KeySequence,
    ) -> Result<CreatedDocument, UpstreamError> {
        let url = self.url(&["inquiries"]);
        let body = body.to_json();
        let answer = self.send(inv, Operation::CreateInquiry, Method::POST, url, Some(body), Some(keys)).await?;
        parse(Operation::CreateInquiry, answer)
    }

    /// `POST /inquiries/{id}/expire`
    async fn expire_inquiry(
        &self,
        inv: &mut Invocation,
        inquiry_id: &InquiryId,
        keys: KeySequence,
    ) -> Result<ExpiredDocument, UpstreamError> {
        let url = self.url(&["inquiries", inquiry_id.as_str(), "expire"]);
        let answer = self.send(inv, Operation::Expire, Method::POST, url, None, Some(keys)).await?;
        parse(Operation::Expire, answer)
    }
}
