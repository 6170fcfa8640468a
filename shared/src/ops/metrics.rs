//! CloudWatch Embedded Metric Format: one JSON line per invocation on stdout, turned into metrics by CloudWatch
//! Logs without any API call. Dimensions stay low-cardinality (function, outcome, template check); ids are not
//! dimensions.

use serde_json::{json, Value};

pub const NAMESPACE: &str = "PersonaResume";

/// What one invocation reports.
#[derive(Debug, Clone, PartialEq)]
pub struct InvocationMetrics<'a> {
    pub function: &'static str,
    /// `resumed`, `recreated`, `created`, or the error code.
    pub outcome: &'a str,
    /// `current`, `outdated`, `unavailable`, or `none` when the request ended before the check.
    pub template_check: &'a str,
    pub status: u16,
    pub cold_start: bool,
    pub upstream_calls: usize,
    /// Upstream attempts without a usable answer: no answer, 429 or 5xx.
    pub upstream_errors: usize,
    pub upstream_ms: f64,
    pub duration_ms: f64,
    /// The guard failed in this invocation and its limits passed (fail open): the alarm's metric.
    pub guard_unavailable: bool,
}

impl InvocationMetrics<'_> {
    /// The EMF document (one line when serialized).
    pub fn to_emf(&self, timestamp_ms: u64) -> Value {
        let count = |name: &str| json!({"Name": name, "Unit": "Count"});
        let millis = |name: &str| json!({"Name": name, "Unit": "Milliseconds"});
        json!({
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [["Function"], ["Function", "Outcome"], ["Function", "TemplateCheck"]],
                    "Metrics": [
                        count("Invocations"), count("ColdStart"), count("Http5xx"), count("Http4xx"),
                        count("UpstreamCalls"), count("UpstreamErrors"), millis("UpstreamLatency"), millis("Duration"),
                        count("GuardUnavailable")
                    ]
                }]
            },
            "Function": self.function,
            "Outcome": self.outcome,
            "TemplateCheck": self.template_check,
            "Invocations": 1,
            "ColdStart": u8::from(self.cold_start),
            "Http5xx": u8::from(self.status >= 500),
            "Http4xx": u8::from((400..500).contains(&self.status)),
            "UpstreamCalls": self.upstream_calls,
            "UpstreamErrors": self.upstream_errors,
            "UpstreamLatency": self.upstream_ms,
            "Duration": self.duration_ms,
            "GuardUnavailable": u8::from(self.guard_unavailable),
        })
    }
}

/// Writes the EMF line to stdout, where Lambda's log capture picks it up (`println!` writes one whole line, and
/// the test harness captures it).
pub fn emit(metrics: &InvocationMetrics<'_>) {
    let timestamp_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64);
    println!("{}", metrics.to_emf(timestamp_ms));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_document_shape() {
        let metrics = InvocationMetrics {
            function: "issue-link",
            outcome: "recreated",
            template_check: "outdated",
            status: 200,
            cold_start: true,
            upstream_calls: 4,
            upstream_errors: 1,
            upstream_ms: 12.5,
            duration_ms: 14.0,
            guard_unavailable: false,
        };
        let emf = metrics.to_emf(1_795_687_200_000);
        let directive = &emf["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(emf["_aws"]["Timestamp"], 1_795_687_200_000u64);
        assert_eq!(directive["Namespace"], "PersonaResume");
        // Every dimension and every metric named in the directive is a member of the document.
        for dimension_set in directive["Dimensions"].as_array().unwrap() {
            for dimension in dimension_set.as_array().unwrap() {
                assert!(emf[dimension.as_str().unwrap()].is_string(), "{dimension}");
            }
        }
        for metric in directive["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            assert!(emf[name].is_number(), "{name}");
            assert!(["Count", "Milliseconds"].contains(&metric["Unit"].as_str().unwrap()));
        }
        assert_eq!(emf["ColdStart"], 1);
        assert_eq!(emf["Http5xx"], 0);
        assert_eq!(emf["UpstreamCalls"], 4);
        assert_eq!(emf["GuardUnavailable"], 0);
        assert!(!emf.to_string().contains('\n'), "one line");
    }

    #[test]
    fn a_guard_that_failed_open_counts_one_guard_unavailable_in_every_dimension_set() {
        let metrics = InvocationMetrics {
            function: "resume-session",
            outcome: "resumed",
            template_check: "current",
            status: 200,
            cold_start: false,
            upstream_calls: 2,
            upstream_errors: 0,
            upstream_ms: 3.0,
            duration_ms: 4.0,
            guard_unavailable: true,
        };
        let emf = metrics.to_emf(1_795_687_200_000);
        assert_eq!(emf["GuardUnavailable"], 1);
        let directive = &emf["_aws"]["CloudWatchMetrics"][0];
        let named = directive["Metrics"].as_array().unwrap().iter().filter(|m| m["Name"] == "GuardUnavailable");
        assert_eq!(named.map(|m| m["Unit"].clone()).collect::<Vec<_>>(), ["Count"]);
        // The template's alarm reads the metric by function alone: that dimension set must exist.
        assert!(directive["Dimensions"].as_array().unwrap().iter().any(|set| set == &serde_json::json!(["Function"])));
    }
}
