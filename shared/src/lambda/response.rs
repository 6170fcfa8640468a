//! Success answers: `200`, JSON, `Cache-Control: no-store` (the body carries a credential).

use lambda_http::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Serialize;
use url::Url;

use crate::app::service::{Access, Resolution};
use crate::domain::policy::TemplateCheck;

#[derive(Serialize)]
struct LinkAnswer<'a> {
    inquiry_id: &'a str,
    one_time_link: &'a str,
    one_time_link_short: Option<&'a str>,
    outcome: &'static str,
    previous_inquiry_id: Option<&'a str>,
    template_check: TemplateCheck,
}

#[derive(Serialize)]
struct SessionAnswer<'a> {
    inquiry_id: &'a str,
    session_token: Option<&'a str>,
    hosted_flow_url: String,
    outcome: &'static str,
    previous_inquiry_id: Option<&'a str>,
    template_check: TemplateCheck,
}

/// The hosted flow URL: the configured base with `inquiry-id` (and `session-token` when there is one) appended as
/// encoded query parameters, keeping any query the base already has.
pub fn hosted_flow_url(base: &Url, inquiry_id: &str, session_token: Option<&str>) -> Url {
    let mut url = base.clone();
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("inquiry-id", inquiry_id);
        if let Some(token) = session_token {
            query.append_pair("session-token", token);
        }
    }
    url
}

pub fn success_response(resolution: &Resolution, hosted_flow_base: &Url) -> Response<Body> {
    let body = match &resolution.access {
        Access::OneTimeLink { link, short } => serde_json::to_string(&LinkAnswer {
            inquiry_id: &resolution.inquiry_id,
            one_time_link: link,
            one_time_link_short: short.as_deref(),
            outcome: resolution.outcome.as_str(),
            previous_inquiry_id: resolution.outcome.previous_inquiry_id().map(|id| id.as_str()),
            template_check: resolution.template_check,
        }),
        Access::Session { token } => serde_json::to_string(&SessionAnswer {
            inquiry_id: &resolution.inquiry_id,
            session_token: token.as_deref(),
            hosted_flow_url: hosted_flow_url(hosted_flow_base, &resolution.inquiry_id, token.as_deref()).into(),
            outcome: resolution.outcome.as_str(),
            previous_inquiry_id: resolution.outcome.previous_inquiry_id().map(|id| id.as_str()),
            template_check: resolution.template_check,
        }),
    }
    .expect("plain structs serialize");
    Response::builder()
        .status(StatusCode::OK)
        .header(CONTENT_TYPE, "application/json")
        .header(CACHE_CONTROL, "no-store")
        .body(Body::Text(body))
        .expect("static headers are valid")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::service::Outcome;
    use crate::domain::ids::InquiryId;
    use serde_json::json;

    #[test]
    fn hosted_flow_url_encodes_values_and_keeps_the_base_query() {
        let base = Url::parse("https://inquiry.withpersona.com/verify").unwrap();
        assert_eq!(
            hosted_flow_url(&base, "inq_1", Some("a.b+c/d=")).as_str(),
            "https://inquiry.withpersona.com/verify?inquiry-id=inq_1&session-token=a.b%2Bc%2Fd%3D"
        );
        assert_eq!(
            hosted_flow_url(&base, "inq_1", None).as_str(),
            "https://inquiry.withpersona.com/verify?inquiry-id=inq_1"
        );
        let with_query = Url::parse("https://verify.example.com/start?theme=dark&lang=en").unwrap();
        assert_eq!(
            hosted_flow_url(&with_query, "inq_1", Some("t")).as_str(),
            "https://verify.example.com/start?theme=dark&lang=en&inquiry-id=inq_1&session-token=t"
        );
    }

    #[test]
    fn bodies_have_exactly_the_documented_members() {
        let base = Url::parse("https://inquiry.withpersona.com/verify").unwrap();
        let link = Resolution {
            inquiry_id: InquiryId::parse("inq_new").unwrap(),
            outcome: Outcome::Recreated { previous: InquiryId::parse("inq_old").unwrap(), superseded_expired: None },
            template_check: TemplateCheck::Outdated,
            access: Access::OneTimeLink { link: "https://l/1".into(), short: None },
        };
        let response = success_response(&link, &base);
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
        let json: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        assert_eq!(
            json,
            json!({"inquiry_id": "inq_new", "one_time_link": "https://l/1", "one_time_link_short": null,
                   "outcome": "recreated", "previous_inquiry_id": "inq_old", "template_check": "outdated"})
        );

        let session = Resolution {
            inquiry_id: InquiryId::parse("inq_1").unwrap(),
            outcome: Outcome::Resumed,
            template_check: TemplateCheck::Current,
            access: Access::Session { token: None },
        };
        let json: serde_json::Value =
            serde_json::from_slice(success_response(&session, &base).body().as_ref()).unwrap();
        assert_eq!(
            json,
            json!({"inquiry_id": "inq_1", "session_token": null,
                   "hosted_flow_url": "https://inquiry.withpersona.com/verify?inquiry-id=inq_1",
                   "outcome": "resumed", "previous_inquiry_id": null, "template_check": "current"})
        );
    }
}
