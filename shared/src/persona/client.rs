//! The Persona client: Persona's endpoints as the service's port, over the [`Transport`] (`transport.rs`), which
//! versions, authenticates, retries within the invocation's deadline and records every call. I/O and nothing else.

use reqwest::Method;

use crate::domain::ids::{AccountId, InquiryId};
use crate::persona::calls::Invocation;
use crate::persona::error::UpstreamError;
use crate::persona::idempotency::KeySequence;
use crate::persona::list_filter::ListFilter;
use crate::persona::model::{
    AccountDocument, AccountList, CreateInquiry, CreatedDocument, ExpiredDocument, InquiryDocument, InquiryList,
    OneTimeLinkDocument, OneTimeLinkRequest, OneTimeLinkRequestMeta, ResumeDocument,
};
use crate::persona::operation::Operation;
use crate::persona::port::PersonaPort;
use crate::persona::transport::{parse, Transport};

/// Every account read asks for the reference id only: the functions never receive a user's personal fields.
const ACCOUNT_FIELDS: (&str, &str) = ("fields[account]", "reference-id");

/// Page size of account lookups: a company's user has one account, rarely a few.
const ACCOUNT_PAGE_SIZE: u8 = 10;

pub struct PersonaClient {
    transport: Transport,
}

impl PersonaClient {
    pub fn new(transport: Transport) -> Self {
        Self { transport }
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
        let mut url = self.transport.url(&["inquiries", inquiry_id.as_str()]);
        url.query_pairs_mut()
            .append_pair("include", "inquiry-template,account")
            .append_pair(ACCOUNT_FIELDS.0, ACCOUNT_FIELDS.1);
        let answer = self.transport.send(inv, Operation::GetInquiry, Method::GET, url, None, None).await?;
        parse(Operation::GetInquiry, answer)
    }

    /// `GET /inquiries` with filters, newest first (one page).
    async fn list_inquiries(
        &self,
        inv: &mut Invocation,
        filter: &ListFilter<'_>,
    ) -> Result<InquiryList, UpstreamError> {
        let mut url = self.transport.url(&["inquiries"]);
        filter.append_to(&mut url);
        let answer = self.transport.send(inv, Operation::ListInquiries, Method::GET, url, None, None).await?;
        parse(Operation::ListInquiries, answer)
    }

    /// `GET /accounts?filter[reference-id]=…&fields[account]=reference-id` (one page).
    async fn list_accounts(
        &self,
        inv: &mut Invocation,
        reference_id: &str,
    ) -> Result<AccountList, UpstreamError> {
        let mut url = self.transport.url(&["accounts"]);
        url.query_pairs_mut()
            .append_pair("filter[reference-id]", reference_id)
            .append_pair(ACCOUNT_FIELDS.0, ACCOUNT_FIELDS.1)
            .append_pair("page[size]", &ACCOUNT_PAGE_SIZE.to_string());
        let answer = self.transport.send(inv, Operation::ListAccounts, Method::GET, url, None, None).await?;
        parse(Operation::ListAccounts, answer)
    }

    /// `GET /accounts/{id}?fields[account]=reference-id`
    async fn get_account(
        &self,
        inv: &mut Invocation,
        account_id: &AccountId,
    ) -> Result<AccountDocument, UpstreamError> {
        let mut url = self.transport.url(&["accounts", account_id.as_str()]);
        url.query_pairs_mut().append_pair(ACCOUNT_FIELDS.0, ACCOUNT_FIELDS.1);
        let answer = self.transport.send(inv, Operation::GetAccount, Method::GET, url, None, None).await?;
        parse(Operation::GetAccount, answer)
    }

    /// `POST /inquiries/{id}/resume` — no request body (the spec defines none).
    async fn resume(
        &self,
        inv: &mut Invocation,
        inquiry_id: &InquiryId,
        keys: KeySequence,
    ) -> Result<ResumeDocument, UpstreamError> {
        let url = self.transport.url(&["inquiries", inquiry_id.as_str(), "resume"]);
        let answer = self.transport.send(inv, Operation::Resume, Method::POST, url, None, Some(keys)).await?;
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
        let url = self.transport.url(&["inquiries", inquiry_id.as_str(), "generate-one-time-link"]);
        let body = expires_in_seconds
            .map(|seconds| OneTimeLinkRequest { meta: OneTimeLinkRequestMeta { expires_in_seconds: seconds } });
        let body = body.map(|b| serde_json::to_vec(&b).expect("plain struct serializes"));
        let answer = self.transport.send(inv, Operation::GenerateOneTimeLink, Method::POST, url, body, Some(keys)).await?;
        parse(Operation::GenerateOneTimeLink, answer)
    }

    /// `POST /inquiries?include=inquiry-template`: the template's latest published version comes with the new
    /// inquiry, so what creation gave can be told from what is published.
    async fn create_inquiry(
        &self,
        inv: &mut Invocation,
        body: &CreateInquiry,
        keys: KeySequence,
    ) -> Result<CreatedDocument, UpstreamError> {
        let mut url = self.transport.url(&["inquiries"]);
        url.query_pairs_mut().append_pair("include", "inquiry-template");
        let body = body.to_json();
        let answer = self.transport.send(inv, Operation::CreateInquiry, Method::POST, url, Some(body), Some(keys)).await?;
        parse(Operation::CreateInquiry, answer)
    }

    /// `POST /inquiries/{id}/expire`
    async fn expire_inquiry(
        &self,
        inv: &mut Invocation,
        inquiry_id: &InquiryId,
        keys: KeySequence,
    ) -> Result<ExpiredDocument, UpstreamError> {
        let url = self.transport.url(&["inquiries", inquiry_id.as_str(), "expire"]);
        let answer = self.transport.send(inv, Operation::Expire, Method::POST, url, None, Some(keys)).await?;
        parse(Operation::Expire, answer)
    }
}
