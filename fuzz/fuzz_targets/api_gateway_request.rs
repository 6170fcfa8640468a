//! An API Gateway event (REST payload 1.0 or HTTP API payload 2.0), as the Lambda runtime hands it over, through
//! everything that runs before the first Persona call: `event::parse_event`, lambda_http's conversion into an HTTP
//! request, `http::request::parse_request` for both functions and both auth modes, and the problem answer.
//! Nothing may panic; a request that passes must carry a valid inquiry id or be a `/me` request.
#![no_main]

use libfuzzer_sys::fuzz_target;
use persona_resume::app::error::Failure;
use persona_resume::app::service::{Action, Target};
use persona_resume::domain::ids::InquiryId;
use persona_resume::domain::owner::Caller;
use persona_resume::lambda::problem::problem_response;
use persona_resume::lambda::request::parse_request;
use persona_resume::ops::config::AuthMode;
use persona_resume::Function;

fuzz_target!(|data: &[u8]| {
    let Ok(payload) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let Ok(event) = persona_resume::lambda::event::parse_event(payload) else {
        return;
    };
    let request: lambda_http::Request = event.into();
    for endpoint in [Function::IssueLink, Function::ResumeSession] {
        for (auth_mode, claim) in [(AuthMode::Jwt, "sub"), (AuthMode::Jwt, "custom:user_id"), (AuthMode::Iam, "sub")] {
            match parse_request(&request, endpoint, auth_mode, claim) {
                Ok(parsed) => {
                    if let Target::Inquiry(id) = &parsed.target {
                        assert!(InquiryId::parse(id.as_str()).is_ok(), "an invalid id passed: {id:?}");
                    }
                    match (&parsed.caller, auth_mode) {
                        (Caller::User(owner), AuthMode::Jwt) => assert!(!owner.as_str().is_empty()),
                        (Caller::Trusted, AuthMode::Iam) => {}
                        (caller, mode) => panic!("{caller:?} in {mode:?} mode"),
                    }
                    if endpoint == Function::ResumeSession {
                        assert_eq!(parsed.action, Action::Session);
                    }
                }
                Err(error) => {
                    let response = problem_response(&Failure::from(error));
                    assert!(response.status().is_client_error(), "{:?} is not a 4xx", response.status());
                }
            }
        }
    }
});
