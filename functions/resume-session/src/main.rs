//! `resume-session`: POST /inquiries/{inquiry_id}/session and POST /me/session.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    persona_resume::serve(persona_resume::Function::ResumeSession).await
}
