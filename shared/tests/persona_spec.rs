//! Every 2xx example of Persona's vendored OpenAPI files (both API versions) for the endpoints we call, and every
//! variant of them the response schema validates (members nulled, removed, identifier objects emptied, unknown
//! members added), read by our models and taken through the decision. A schema-valid document that fails to
//! parse, or that the model reads differently from what it says, fails the test. Examples are discovered, not
//! listed: a new example in the spec is covered without editing this file.
//!
//! The fuzz seeds `fuzz/seeds/persona_documents/spec-*.json` are generated from the same corpus; after a change to
//! the spec files or the generator, refresh them with
//! `PERSONA_SPEC_WRITE_SEEDS=1 cargo test -p persona-resume --test persona_spec`.

mod spec;

use std::collections::BTreeMap;
use std::path::PathBuf;

use spec::corpus::{corpus, repository_root, Case, Origin};
use spec::endpoints::ENDPOINTS;
use spec::openapi::VERSIONS;

/// Reads every case; the failures, described.
fn failures(cases: &[Case]) -> Vec<String> {
    cases
        .iter()
        .filter_map(|case| (case.endpoint.check)(&case.document).err().map(|e| format!("{}: {e}", case.describe())))
        .collect()
}

fn assert_no_failures(what: &str, cases: &[Case], failed: &[String]) {
    if !failed.is_empty() {
        let shown: Vec<&str> = failed.iter().take(25).map(String::as_str).collect();
        panic!("{} of {} {what} failed:\n{}", failed.len(), cases.len(), shown.join("\n"));
    }
}

#[test]
fn every_spec_example_parses_and_takes_the_decision_it_implies() {
    let corpus = corpus();
    for version in VERSIONS {
        for endpoint in ENDPOINTS {
            let cases: Vec<&Case> =
                corpus.examples.iter().filter(|c| c.version == version && c.endpoint.name == endpoint.name).collect();
            let tally = &corpus.tallies[&(version, endpoint.name)];
            let implied: Vec<String> = cases
                .iter()
                .map(|c| match (c.endpoint.check)(&c.document) {
                    Ok(implied) => {
                        format!("[{}] {}", c.example, implied.join(", "))
                    }
                    Err(e) => format!("[{}] FAILED {e}", c.example),
                })
                .collect();
            println!(
                "{version} {:<15} {} {}: {} example(s) {}",
                endpoint.name,
                endpoint.method.to_uppercase(),
                endpoint.path,
                cases.len(),
                implied.join(" ")
            );
            for invalid in &tally.invalid_examples {
                println!("  note: the spec's own schema rejects its example {invalid}");
            }
            assert!(
                !cases.is_empty(),
                "{version}: the spec has no 2xx example for {} {}",
                endpoint.method,
                endpoint.path
            );
        }
    }
    assert_no_failures("examples", &corpus.examples, &failures(&corpus.examples));
}

#[test]
fn every_schema_valid_variant_parses_and_decides() {
    let corpus = corpus();
    for ((version, endpoint), tally) in &corpus.tallies {
        println!(
            "{version} {endpoint:<15} examples {:>2}  variants generated {:>4}  kept {:>4}  {:?}",
            tally.examples, tally.generated, tally.kept, tally.kept_by_change
        );
        // The filter must filter: a document without its primary data is never valid.
        assert!(tally.unchecked_examples.is_empty(), "{version} {endpoint}: the schema check accepts anything");
        assert!(tally.kept > 0 && tally.kept < tally.generated, "{version} {endpoint}: {tally:?}");
        // Every kind of change must be represented, or the generator or the filter has lost one.
        for change in ["null", "remove", "empty-identifier", "unknown-member"] {
            assert!(tally.kept_by_change.contains_key(change), "{version} {endpoint}: no kept {change} variant");
        }
    }
    assert_no_failures("schema-valid variants", &corpus.variants, &failures(&corpus.variants));
}

/// The seed files the corpus implies: each example and each combined variant, by a stable name.
fn seeds() -> BTreeMap<String, String> {
    let corpus = corpus();
    let combined = corpus.variants.iter().filter(|c| matches!(c.origin, Origin::Combined(_)));
    corpus
        .examples
        .iter()
        .chain(combined)
        .map(|case| {
            let example: String =
                case.example.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
            let example = example.trim_end_matches('_');
            let name = format!(
                "spec-{}.{}.{}.{example}.{}.json",
                case.version,
                case.endpoint.name,
                case.status,
                case.origin.label()
            );
            let text = serde_json::to_string_pretty(&case.document).expect("a JSON value serializes") + "\n";
            (name, text)
        })
        .collect()
}

fn seed_dir() -> PathBuf {
    repository_root().join("fuzz").join("seeds").join("persona_documents")
}

#[test]
fn the_fuzz_seeds_are_the_current_examples_and_variants() {
    let wanted = seeds();
    let dir = seed_dir();
    let present: BTreeMap<String, String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            name.starts_with("spec-").then(|| (name, std::fs::read_to_string(entry.path()).unwrap_or_default()))
        })
        .collect();
    if std::env::var_os("PERSONA_SPEC_WRITE_SEEDS").is_some() {
        for stale in present.keys().filter(|name| !wanted.contains_key(*name)) {
            std::fs::remove_file(dir.join(stale)).unwrap_or_else(|e| panic!("cannot remove {stale}: {e}"));
        }
        for (name, text) in &wanted {
            std::fs::write(dir.join(name), text).unwrap_or_else(|e| panic!("cannot write {name}: {e}"));
        }
        println!("wrote {} seeds to {}", wanted.len(), dir.display());
        return;
    }
    let missing: Vec<&String> = wanted.keys().filter(|n| present.get(*n) != wanted.get(*n)).collect();
    let stale: Vec<&String> = present.keys().filter(|n| !wanted.contains_key(*n)).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "{} fuzz seed(s) missing or changed (first: {:?}), {} stale (first: {:?}) in {}; \
         rerun with PERSONA_SPEC_WRITE_SEEDS=1",
        missing.len(),
        missing.first(),
        stale.len(),
        stale.first(),
        dir.display()
    );
    println!("{} seeds current in {}", wanted.len(), dir.display());
}
