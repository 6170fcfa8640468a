//! `issue-link`: POST /inquiries/{inquiry_id}/one-time-link and POST /me/one-time-link.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    persona_resume::serve(persona_resume::Function::IssueLink).await
}
