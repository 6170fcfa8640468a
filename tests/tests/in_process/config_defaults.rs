//! The configuration defaults live in the code (`persona_resume::config`); template.yaml's parameter defaults
//! and the one `[workspace.metadata.lambda.deploy]` block (for `cargo lambda deploy`) must not drift from it.
//!
//! Checked by behaviour, not by spelling: the variables the code reads are recorded while it parses, and the
//! configuration the code builds from the template's defaults (or from the cargo-lambda metadata) must equal
//! the one it builds from an empty environment.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use integration_tests::paths::workspace_root;
use persona_resume::ops::config::Config;
use serde_json::Value as Json;
use serde_yaml_ng::Value as Yaml;

/// Every deployment needs a secret id and has no default for it; the same stand-in on every side.
const SECRET_ID: (&str, &str) = ("PERSONA_API_KEY_SECRET_ID", "persona-resume/api-key");
/// Set from the stack's own resource, not a parameter (the template creates the table); per deployment for
/// cargo-lambda. The same stand-in on every side.
const GUARD_TABLE: (&str, &str) = ("GUARD_TABLE", "persona-resume-GuardTable-STANDIN");
const GUARD_TABLE_RESOURCE: &str = "GuardTable";
/// Read by the code for local development only; deployments use the secret (design.md, "Configuration").
const LOCAL_ONLY: &[&str] = &["PERSONA_API_KEY"];

/// The configuration the code builds from `vars` (an empty value = unset, as in Lambda), and the names of
/// every variable it looked up.
fn parse(vars: &BTreeMap<String, String>) -> (String, BTreeSet<String>) {
    let read = RefCell::new(BTreeSet::new());
    let config = Config::from_lookup(|name| {
        read.borrow_mut().insert(name.to_owned());
        vars.get(name).cloned()
    })
    .unwrap_or_else(|e| panic!("the code rejects {vars:?}: {e}"));
    // Config has no PartialEq; its Debug shows every field (the API key itself is redacted, and absent here).
    (format!("{config:#?}"), read.into_inner())
}

/// What every deployment sets itself: the secret id and the guard's table.
fn per_deployment() -> BTreeMap<String, String> {
    [SECRET_ID, GUARD_TABLE].into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

fn code_defaults() -> (String, BTreeSet<String>) {
    parse(&per_deployment())
}

fn template() -> Yaml {
    let path = workspace_root().join("template.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml_ng::from_str(&text).expect("template.yaml is YAML")
}

/// `!Ref Name` -> `Name`.
fn ref_target(value: &Yaml) -> Option<&str> {
    match value {
        Yaml::Tagged(tagged) if tagged.tag == "!Ref" => tagged.value.as_str(),
        _ => None,
    }
}

fn scalar(value: &Yaml) -> String {
    match value {
        Yaml::String(s) => s.clone(),
        Yaml::Number(n) => n.to_string(),
        Yaml::Bool(b) => b.to_string(),
        other => panic!("not a scalar default: {other:?}"),
    }
}

/// The functions' environment as deployed with every parameter at its default (`None` = required); the
/// guard's table, set from the stack's own resource, as its stand-in.
fn template_env(tpl: &Yaml) -> BTreeMap<String, Option<String>> {
    let vars = tpl["Globals"]["Function"]["Environment"]["Variables"].as_mapping().expect("Globals env");
    vars.iter()
        .map(|(name, value)| {
            let name = name.as_str().expect("variable name").to_owned();
            let target = ref_target(value).unwrap_or_else(|| panic!("{name} must come from a parameter"));
            if name == GUARD_TABLE.0 {
                assert_eq!(target, GUARD_TABLE_RESOURCE, "GUARD_TABLE names the stack's own table");
                assert!(tpl["Resources"][target].is_mapping() && tpl["Parameters"].get(target).is_none());
                return (name, Some(GUARD_TABLE.1.to_owned()));
            }
            let param = tpl["Parameters"].get(target).unwrap_or_else(|| panic!("{name}: {target} is not a parameter"));
            (name, param.get("Default").map(scalar))
        })
        .collect()
}

/// `cargo metadata` of the workspace (what cargo-lambda reads its deploy settings from).
fn cargo_metadata() -> Json {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(workspace_root())
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "cargo metadata: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON")
}

#[test]
fn the_template_sets_every_variable_the_code_reads_with_the_code_defaults() {
    let (defaults, read) = code_defaults();
    let env = template_env(&template());
    let deployable: BTreeSet<String> = read.iter().filter(|v| !LOCAL_ONLY.contains(&v.as_str())).cloned().collect();
    let set: BTreeSet<String> = env.keys().cloned().collect();
    assert_eq!(set, deployable, "template.yaml's function environment vs the variables the code reads");
    for local in LOCAL_ONLY {
        assert!(!env.contains_key(*local), "{local} is for local development only");
    }

    let required: Vec<&String> = env.iter().filter(|(_, d)| d.is_none()).map(|(v, _)| v).collect();
    assert_eq!(required, [SECRET_ID.0], "only the secret has no default");
    let mut vars: BTreeMap<String, String> =
        env.into_iter().map(|(name, default)| (name, default.unwrap_or_default())).collect();
    vars.insert(SECRET_ID.0.to_owned(), SECRET_ID.1.to_owned());
    let (from_template, _) = parse(&vars);
    assert_eq!(from_template, defaults, "template.yaml's parameter defaults configure the code differently");
}

#[test]
fn cargo_lambda_deploy_settings_have_one_home_that_matches_the_code_and_the_template() {
    let metadata = cargo_metadata();
    let deploy = &metadata["metadata"]["lambda"]["deploy"];
    assert!(deploy.is_object(), "[workspace.metadata.lambda.deploy] in the root Cargo.toml");
    for package in metadata["packages"].as_array().expect("packages") {
        let own = &package["metadata"]["lambda"];
        assert!(
            own.get("deploy").is_none() && own.get("bin").is_none(),
            "{}: deploy settings belong in [workspace.metadata.lambda.deploy] only (one place, no drift)",
            package["name"]
        );
    }

    let (defaults, read) = code_defaults();
    let env = deploy["env"].as_object().expect("[workspace.metadata.lambda.deploy.env]");
    let mut vars = per_deployment();
    for (name, value) in env {
        assert!(read.contains(name) && !LOCAL_ONLY.contains(&name.as_str()), "{name} is not a deployable variable");
        assert_ne!(name, SECRET_ID.0, "the secret is per deployment (--env-var on the command line)");
        assert_ne!(name, GUARD_TABLE.0, "the table is per deployment (--env-var on the command line)");
        vars.insert(name.clone(), value.as_str().expect("env values are strings").to_owned());
    }
    assert_eq!(parse(&vars).0, defaults, "the cargo-lambda env configures the code differently");

    let tpl = template();
    let function = &tpl["Globals"]["Function"];
    assert_eq!(deploy["memory"].as_u64(), function["MemorySize"].as_u64(), "memory vs template MemorySize");
    assert_eq!(deploy["timeout"].as_u64(), function["Timeout"].as_u64(), "timeout vs template Timeout");
    assert_eq!(deploy["runtime"].as_str(), function["Runtime"].as_str(), "runtime vs template Runtime");
    let retention = tpl["Parameters"]["LogRetentionInDays"]["Default"].as_u64();
    assert_eq!(deploy["log_retention"].as_u64(), retention, "log_retention vs LogRetentionInDays");
}
