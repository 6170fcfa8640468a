//! The API's routes, as template.yaml declares them (JWT mode): four `POST` routes, two functions.

/// The function behind a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Function {
    IssueLink,
    ResumeSession,
}

impl Function {
    /// The binary (and `cargo lambda watch` function) name.
    pub fn name(self) -> &'static str {
        match self {
            Function::IssueLink => "issue-link",
            Function::ResumeSession => "resume-session",
        }
    }
}

/// A matched route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteMatch {
    pub function: Function,
    /// `POST /inquiries/{inquiry_id}/session` and the like (payload 2.0's `routeKey`).
    pub route_key: &'static str,
    /// `inquiry_id`, when the route has it.
    pub inquiry_id: Option<String>,
}

/// What the gateway does with a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Routing {
    Invoke(RouteMatch),
    /// A known path with another method: 405, `Allow: POST`.
    MethodNotAllowed,
    NotFound,
}

/// Matches a method and a raw (still percent-encoded) path. A path parameter is one segment, as in API
/// Gateway: an encoded slash (`%2F`) stays inside it and is the function's to refuse.
pub fn route(method: &str, path: &str) -> Routing {
    let segments: Vec<&str> = match path.strip_prefix('/') {
        Some(rest) => rest.split('/').collect(),
        None => return Routing::NotFound,
    };
    let matched = match segments.as_slice() {
        ["inquiries", id, "one-time-link"] if !id.is_empty() => {
            Some((Function::IssueLink, "POST /inquiries/{inquiry_id}/one-time-link", Some(*id)))
        }
        ["inquiries", id, "session"] if !id.is_empty() => {
            Some((Function::ResumeSession, "POST /inquiries/{inquiry_id}/session", Some(*id)))
        }
        ["me", "one-time-link"] => Some((Function::IssueLink, "POST /me/one-time-link", None)),
        ["me", "session"] => Some((Function::ResumeSession, "POST /me/session", None)),
        _ => None,
    };
    match matched {
        None => Routing::NotFound,
        Some(_) if method != "POST" => Routing::MethodNotAllowed,
        Some((function, route_key, id)) => Routing::Invoke(RouteMatch {
            function,
            route_key,
            // API Gateway hands the function the decoded path parameter.
            inquiry_id: id.map(percent_decode),
        }),
    }
}

fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invoke(function: Function, route_key: &'static str, id: Option<&str>) -> Routing {
        Routing::Invoke(RouteMatch { function, route_key, inquiry_id: id.map(str::to_owned) })
    }

    #[test]
    fn routes_like_the_template() {
        use Function::*;
        let cases = [
            (
                "POST",
                "/inquiries/inq_A1/one-time-link",
                invoke(IssueLink, "POST /inquiries/{inquiry_id}/one-time-link", Some("inq_A1")),
            ),
            (
                "POST",
                "/inquiries/inq_A1/session",
                invoke(ResumeSession, "POST /inquiries/{inquiry_id}/session", Some("inq_A1")),
            ),
            ("POST", "/me/one-time-link", invoke(IssueLink, "POST /me/one-time-link", None)),
            ("POST", "/me/session", invoke(ResumeSession, "POST /me/session", None)),
            (
                "POST",
                "/inquiries/a%2Fb/session",
                invoke(ResumeSession, "POST /inquiries/{inquiry_id}/session", Some("a/b")),
            ),
            (
                "POST",
                "/inquiries/a+b/session",
                invoke(ResumeSession, "POST /inquiries/{inquiry_id}/session", Some("a+b")),
            ),
            ("GET", "/me/session", Routing::MethodNotAllowed),
            ("PUT", "/inquiries/inq_A1/one-time-link", Routing::MethodNotAllowed),
            ("OPTIONS", "/inquiries/inq_A1/session", Routing::MethodNotAllowed),
            ("POST", "/inquiries//session", Routing::NotFound),
            ("POST", "/inquiries/a/b/session", Routing::NotFound),
            ("POST", "/me", Routing::NotFound),
            ("POST", "/me/session/", Routing::NotFound),
            ("POST", "/issue-link", Routing::NotFound),
            ("POST", "/2015-03-31/functions/issue-link/invocations", Routing::NotFound),
            ("GET", "/", Routing::NotFound),
            ("POST", "", Routing::NotFound),
        ];
        for (method, path, expected) in cases {
            assert_eq!(route(method, path), expected, "{method} {path}");
        }
    }
}
