//! Structured JSON logs, one object per line (what Lambda's JSON log format expects). Never a key, token, link
//! or personal field: those types don't implement `Display`, and the invocation line lists ids and numbers only.
//! A line written during an invocation carries its span (`"span": {"lambda_request_id": …, "function": …}`).

use tracing_subscriber::EnvFilter;

/// Level from `AWS_LAMBDA_LOG_LEVEL` (set by Lambda's logging config) or `RUST_LOG`, default `info`.
fn filter() -> EnvFilter {
    let directive = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .filter(|value| !value.is_empty())
        .unwrap_or_else(|| "info".to_owned());
    EnvFilter::try_new(directive.to_ascii_lowercase()).unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Installs the JSON subscriber writing to stdout. Call once, first thing in `main`.
pub fn init() {
    let _ = json_subscriber(std::io::stdout).try_init();
}

/// The subscriber `init` installs, with any writer (tests capture it).
pub fn json_subscriber<W>(
    writer: W,
) -> tracing_subscriber::fmt::SubscriberBuilder<
    tracing_subscriber::fmt::format::JsonFields,
    tracing_subscriber::fmt::format::Format<tracing_subscriber::fmt::format::Json>,
    EnvFilter,
    W,
>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_env_filter(filter())
        .with_writer(writer)
}
