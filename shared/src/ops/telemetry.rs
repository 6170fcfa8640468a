//! Structured JSON logs, one object per line (what Lambda's JSON log format expects). Never a key, token, link
//! or personal field: those types don't implement `Display`, and the invocation line lists ids and numbers only.
//!
//! Only our own crates log at the level asked for; every other crate logs at `info` at most, whatever
//! `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG` says (docs/design.md, "Security model"): at TRACE, lambda_runtime logs
//! each raw event (the caller's JWT included) and hyper/h2/rustls log headers.
//!
//! A line written during an invocation carries its span (`"span": {"lambda_request_id": …, "function": …}`).

use tracing_subscriber::filter::{Directive, LevelFilter};
use tracing_subscriber::EnvFilter;

/// Targets that may log below `info`: the library and the two binaries.
const OWN_TARGETS: [&str; 3] = ["persona_resume", "issue_link", "resume_session"];

/// The most any other crate may log.
const THIRD_PARTY_CAP: LevelFilter = LevelFilter::INFO;

/// Level from `AWS_LAMBDA_LOG_LEVEL` (set by Lambda's logging config) or `RUST_LOG`, default `info`.
fn filter() -> EnvFilter {
    let requested = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .filter(|value| !value.is_empty());
    filter_for(requested.as_deref())
}

/// The filter for a requested level or `RUST_LOG`-style list (`debug`, `persona_resume=trace,hyper=debug`):
/// our targets get what was asked; everything else gets it capped at [`THIRD_PARTY_CAP`]. What doesn't read
/// as a level or `target=level` is ignored (span and field filters included); nothing readable means `info`.
pub fn filter_for(requested: Option<&str>) -> EnvFilter {
    let mut default = LevelFilter::INFO;
    let mut targeted: Vec<(String, LevelFilter)> = Vec::new();
    for part in requested.unwrap_or_default().split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('=') {
            None => {
                if let Some(level) = level(part) {
                    default = level;
                }
            }
            Some((target, raw)) => {
                let well_formed = !target.is_empty()
                    && target.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
                if let (true, Some(level)) = (well_formed, level(raw)) {
                    targeted.push((target.to_owned(), level));
                }
            }
        }
    }
    let mut filter = EnvFilter::default().add_directive(Directive::from(default.min(THIRD_PARTY_CAP)));
    for own in OWN_TARGETS {
        filter = filter.add_directive(directive(own, default));
    }
    for (target, level) in targeted {
        let own = OWN_TARGETS.iter().any(|o| target == *o || target.starts_with(&format!("{o}::")));
        filter = filter.add_directive(directive(&target, if own { level } else { level.min(THIRD_PARTY_CAP) }));
    }
    filter
}

/// A level in any case; Lambda's `FATAL` is `error`.
fn level(raw: &str) -> Option<LevelFilter> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "fatal" => Some(LevelFilter::ERROR),
        other => other.parse().ok(),
    }
}

fn directive(target: &str, level: LevelFilter) -> Directive {
    format!("{target}={level}").parse().expect("a checked target and a level form a directive")
}

/// Installs the JSON subscriber writing to stdout. Call once, first thing in `main`.
pub fn init() {
    let _ = json_subscriber(std::io::stdout).try_init();
}

type JsonSubscriberBuilder<W> = tracing_subscriber::fmt::SubscriberBuilder<
    tracing_subscriber::fmt::format::JsonFields,
    tracing_subscriber::fmt::format::Format<tracing_subscriber::fmt::format::Json>,
    EnvFilter,
    W,
>;

/// The subscriber `init` installs, with any writer (tests capture it).
pub fn json_subscriber<W>(writer: W) -> JsonSubscriberBuilder<W>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    json_subscriber_with(writer, filter())
}

/// [`json_subscriber`] with an explicit filter (e.g. [`filter_for`]`(Some("TRACE"))`).
pub fn json_subscriber_with<W>(writer: W, filter: EnvFilter) -> JsonSubscriberBuilder<W>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_env_filter(filter)
        .with_writer(writer)
}

/// What a subscriber wrote, for the library's log tests.
#[cfg(test)]
#[derive(Clone, Default)]
pub(crate) struct Captured(pub(crate) std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

#[cfg(test)]
impl Captured {
    pub(crate) fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

#[cfg(test)]
impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What one event of each target and level writes under the filter for `requested`.
    fn logged(requested: &str) -> String {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = json_subscriber_with(move || writer.clone(), filter_for(Some(requested))).finish();
        tracing::subscriber::with_default(subscriber, || {
            macro_rules! each_level {
                ($target:literal) => {
                    tracing::trace!(target: $target, "{} trace", $target);
                    tracing::debug!(target: $target, "{} debug", $target);
                    tracing::info!(target: $target, "{} info", $target);
                    tracing::warn!(target: $target, "{} warn", $target);
                };
            }
            each_level!("persona_resume::lambda::handler");
            each_level!("resume_session");
            each_level!("lambda_runtime::layers::api_response");
            each_level!("lambda_http");
            each_level!("hyper_util::client");
            each_level!("reqwest::connect");
            each_level!("aws_smithy_runtime::client");
            each_level!("rustls::client");
            each_level!("h2::codec");
            each_level!("tower::buffer");
            each_level!("some_new_dependency");
        });
        captured.text()
    }

    const THIRD_PARTY: [&str; 9] = [
        "lambda_runtime::layers::api_response",
        "lambda_http",
        "hyper_util::client",
        "reqwest::connect",
        "aws_smithy_runtime::client",
        "rustls::client",
        "h2::codec",
        "tower::buffer",
        "some_new_dependency",
    ];

    #[test]
    fn third_party_crates_log_at_info_at_most_whatever_level_is_asked() {
        for requested in ["TRACE", "trace", "DEBUG", "debug,hyper_util=trace,lambda_runtime=trace", "h2=trace,trace"] {
            let text = logged(requested);
            for target in THIRD_PARTY {
                assert!(!text.contains(&format!("{target} trace")), "{requested}: {target} logged at trace:\n{text}");
                assert!(!text.contains(&format!("{target} debug")), "{requested}: {target} logged at debug:\n{text}");
                assert!(text.contains(&format!("{target} info")), "{requested}: {target} info is kept:\n{text}");
            }
            assert!(text.contains("persona_resume::lambda::handler debug"), "{requested}: ours at debug:\n{text}");
            assert!(text.contains("resume_session debug"), "{requested}:\n{text}");
        }
        let trace = logged("TRACE");
        assert!(trace.contains("persona_resume::lambda::handler trace") && trace.contains("resume_session trace"));
    }

    #[test]
    fn a_lower_level_lowers_everyone() {
        for requested in ["WARN", "warn", "error,persona_resume=warn"] {
            let text = logged(requested);
            for target in THIRD_PARTY.iter().chain(&["persona_resume::lambda::handler", "resume_session"]) {
                assert!(!text.contains(&format!("{target} info")), "{requested}: {target} info:\n{text}");
            }
        }
        let fatal = logged("FATAL");
        assert!(!fatal.contains(" warn"), "FATAL is error: {fatal}");
    }

    #[test]
    fn unreadable_values_mean_info() {
        for requested in ["", "loud", "=trace", "hyper=[{x}]", "persona_resume=verbose"] {
            let text = logged(requested);
            assert!(text.contains("persona_resume::lambda::handler info"), "{requested:?}:\n{text}");
            assert!(!text.contains("persona_resume::lambda::handler debug"), "{requested:?}:\n{text}");
            assert!(text.contains("lambda_http info") && !text.contains("lambda_http debug"), "{requested:?}");
        }
        let targeted = logged("persona_resume=trace");
        assert!(targeted.contains("persona_resume::lambda::handler trace"), "{targeted}");
        assert!(!targeted.contains("resume_session debug"), "the default stays info: {targeted}");
    }

    /// What lambda_runtime does at TRACE (layers/api_response.rs: `trace!(body = …, "raw event")`), through the
    /// functions' own subscriber at TRACE: the event and its JWT never reach the output.
    #[test]
    fn a_raw_event_with_a_jwt_is_not_logged_at_trace() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLW9mLXRoZS1jYWxsZXI";
        let event = format!(r#"{{"headers":{{"authorization":"Bearer {jwt}"}},"body":null}}"#);
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = json_subscriber_with(move || writer.clone(), filter_for(Some("TRACE"))).finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!(target: "lambda_runtime::layers::api_response", body = %event, "raw event");
            tracing::trace!(target: "persona_resume::lambda::handler", "handler trace");
        });
        let text = captured.text();
        assert!(text.contains("handler trace"), "our trace lines are kept: {text}");
        assert!(!text.contains(jwt) && !text.contains("raw event"), "{text}");
    }
}
