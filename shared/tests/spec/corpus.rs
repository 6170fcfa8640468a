//! The test corpus: for every vendored API version and every endpoint of the table, the spec's 2xx examples and the
//! variants of each that the response schema validates. Built once per test process (compiling a validator walks
//! the whole 1.6 MB file, so it is done once per response schema).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;

use super::endpoints::{Endpoint, ENDPOINTS};
use super::openapi::{Spec, VERSIONS};
use super::variants::{self, Change, Edit};

/// The repository root (the workspace root is the crate's parent).
pub fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Where a document of the corpus comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The example itself.
    Example,
    /// The example with one edit.
    Single(Edit),
    /// The example with every kept single edit of one kind applied together.
    Combined(Change),
}

impl Origin {
    pub fn label(&self) -> String {
        match self {
            Origin::Example => "example".into(),
            Origin::Single(edit) => format!("{} {}", edit.change.as_str(), edit.pointer),
            Origin::Combined(change) => format!("all-{}", change.as_str()),
        }
    }
}

/// One document to read.
pub struct Case {
    pub version: &'static str,
    pub endpoint: &'static Endpoint,
    pub status: u16,
    pub example: String,
    pub origin: Origin,
    pub document: Value,
}

impl Case {
    pub fn describe(&self) -> String {
        format!(
            "{} {} {} {} [{}] {}",
            self.version,
            self.endpoint.method.to_uppercase(),
            self.endpoint.path,
            self.status,
            self.example,
            self.origin.label()
        )
    }
}

/// Counts for one (version, endpoint).
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub examples: usize,
    /// Candidates proposed (single edits plus combined ones).
    pub generated: usize,
    /// Candidates the schema validated.
    pub kept: usize,
    /// Kept candidates per kind of change (combined ones counted under their kind).
    pub kept_by_change: BTreeMap<&'static str, usize>,
    /// Examples the schema itself rejects (a flaw of the spec, reported, still read).
    pub invalid_examples: Vec<String>,
    /// Examples whose removal of `/data` the schema accepted (would mean the validator checks nothing).
    pub unchecked_examples: Vec<String>,
}

pub struct Corpus {
    pub examples: Vec<Case>,
    pub variants: Vec<Case>,
    pub tallies: BTreeMap<(&'static str, &'static str), Tally>,
}

/// The corpus, built on first use.
pub fn corpus() -> &'static Corpus {
    static CORPUS: OnceLock<Corpus> = OnceLock::new();
    CORPUS.get_or_init(|| build(&repository_root()).unwrap_or_else(|e| panic!("cannot build the spec corpus: {e}")))
}

fn build(root: &Path) -> Result<Corpus, String> {
    let mut corpus = Corpus { examples: Vec::new(), variants: Vec::new(), tallies: BTreeMap::new() };
    for version in VERSIONS {
        let spec = Spec::load(root, version)?;
        for endpoint in ENDPOINTS {
            let mut tally = Tally::default();
            for status in spec.success_statuses(endpoint.path, endpoint.method) {
                let Some(pointer) = spec.response_schema_pointer(endpoint.path, endpoint.method, status) else {
                    continue;
                };
                let examples: Vec<_> = spec
                    .success_examples(endpoint.path, endpoint.method)
                    .into_iter()
                    .filter(|e| e.status == status)
                    .collect();
                if examples.is_empty() {
                    continue;
                }
                let validator = spec.validator(&pointer)?;
                for example in examples {
                    tally.examples += 1;
                    let case = |origin: Origin, document: Value| Case {
                        version,
                        endpoint,
                        status,
                        example: example.name.clone(),
                        origin,
                        document,
                    };
                    if !validator.is_valid(&example.value) {
                        let errors: Vec<String> = validator
                            .iter_errors(&example.value)
                            .take(3)
                            .map(|e| format!("{}: {e}", e.instance_path()))
                            .collect();
                        tally.invalid_examples.push(format!("[{}] {}", example.name, errors.join("; ")));
                    }
                    let mut data_removed = example.value.clone();
                    if let Some(members) = data_removed.as_object_mut() {
                        members.remove("data");
                    }
                    if validator.is_valid(&data_removed) {
                        tally.unchecked_examples.push(example.name.clone());
                    }

                    let mut kept: Vec<Edit> = Vec::new();
                    for edit in variants::candidates(&example.value) {
                        let Some(document) = variants::variant(&example.value, &edit) else { continue };
                        tally.generated += 1;
                        if validator.is_valid(&document) {
                            tally.kept += 1;
                            *tally.kept_by_change.entry(edit.change.as_str()).or_default() += 1;
                            kept.push(edit.clone());
                            corpus.variants.push(case(Origin::Single(edit), document));
                        }
                    }
                    for change in Change::ALL {
                        let edits: Vec<&Edit> = kept.iter().filter(|e| e.change == change).collect();
                        if edits.len() < 2 {
                            continue;
                        }
                        let document = variants::combined(&example.value, edits);
                        tally.generated += 1;
                        if validator.is_valid(&document) {
                            tally.kept += 1;
                            *tally.kept_by_change.entry(change.as_str()).or_default() += 1;
                            corpus.variants.push(case(Origin::Combined(change), document));
                        }
                    }
                    corpus.examples.push(case(Origin::Example, example.value.clone()));
                }
            }
            corpus.tallies.insert((version, endpoint.name), tally);
        }
    }
    Ok(corpus)
}
