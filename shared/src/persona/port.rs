//! What the service needs from Persona, as a port, next to the documents it is spelled in: the real
//! `PersonaClient` implements it, and the service's unit tests use a small in-memory double, so the orchestration
//! is tested without HTTP.

use crate::domain::ids::{AccountId, InquiryId};
use crate::persona::calls::Invocation;
use crate::persona::idempotency::KeySequence;
use crate::persona::model::{
    AccountDocument, AccountList, CreateInquiry, CreatedDocument, ExpiredDocument, InquiryDocument, InquiryList,
    OneTimeLinkDocument, ResumeDocument,
};
use crate::persona::error::UpstreamError;
use crate::persona::list_filter::ListFilter;

/// Persona's inquiry and account endpoints, as the service uses them.
// The service is generic over the port and runs on one current-thread runtime: the futures need no `Send` bound.
#[allow(async_fn_in_trait)]
pub trait PersonaPort {
    async fn get_inquiry(&self, inv: &mut Invocation, id: &InquiryId) -> Result<InquiryDocument, UpstreamError>;
    async fn get_account(&self, inv: &mut Invocation, id: &AccountId) -> Result<AccountDocument, UpstreamError>;
    async fn list_inquiries(&self, inv: &mut Invocation, filter: &ListFilter<'_>)
        -> Result<InquiryList, UpstreamError>;
    async fn list_accounts(&self, inv: &mut Invocation, reference_id: &str) -> Result<AccountList, UpstreamError>;
    async fn create_inquiry(
        &self,
        inv: &mut Invocation,
        body: &CreateInquiry,
        keys: KeySequence,
    ) -> Result<CreatedDocument, UpstreamError>;
    async fn resume(
        &self,
        inv: &mut Invocation,
        id: &InquiryId,
        keys: KeySequence,
    ) -> Result<ResumeDocument, UpstreamError>;
    async fn generate_one_time_link(
        &self,
        inv: &mut Invocation,
        id: &InquiryId,
        expires_in_seconds: Option<u32>,
        keys: KeySequence,
    ) -> Result<OneTimeLinkDocument, UpstreamError>;
    async fn expire_inquiry(
        &self,
        inv: &mut Invocation,
        id: &InquiryId,
        keys: KeySequence,
    ) -> Result<ExpiredDocument, UpstreamError>;
}
