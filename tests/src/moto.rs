//! moto's server as a local Secrets Manager and the guard's DynamoDB, reached with the real AWS SDK. The
//! guard's table is created from template.yaml's own definition ([`create_guard_table`]): the template is the
//! single source of its key layout.
//!
//! Install: `ci/setup-python.sh` (creates `<repo>/.venv` with a pinned `moto[server]`). The server
//! executable is `MOTO_SERVER` if set, else `<repo>/.venv/bin/moto_server`, else `moto_server` on PATH.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_secretsmanager::error::DisplayErrorContext;
use aws_sdk_secretsmanager::Client;

use crate::error::Result;
use crate::paths::workspace_root;
use crate::ports::{free_port, wait_for_http};
use crate::process::ManagedChild;

/// The region every rig service uses.
pub const REGION: &str = "us-east-1";
/// Dummy credentials (moto accepts anything).
pub const ACCESS_KEY_ID: &str = "testing";
pub const SECRET_ACCESS_KEY: &str = "testing";

/// Finds the moto server executable (see the module docs).
pub fn moto_server_path() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("MOTO_SERVER").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!("MOTO_SERVER={} does not exist", path.display()).into())
        };
    }
    let venv = workspace_root().join(".venv/bin/moto_server");
    if venv.is_file() {
        return Ok(venv);
    }
    if let Some(path) = find_on_path("moto_server") {
        return Ok(path);
    }
    Err(format!(
        "moto_server not found (MOTO_SERVER unset, no {}, none on PATH): run `bash ci/setup-python.sh`",
        venv.display()
    )
    .into())
}

/// moto_server serves each request on its own thread, and moto's DynamoDB does not isolate them: a
/// transaction snapshots the whole table and restores the snapshot when it is cancelled, undoing every write
/// that other threads made meanwhile (measured: 6 of 30 concurrent admissions through a share of 5). DynamoDB
/// itself applies conditional writes atomically. So the rig runs moto's own entry point with one request at a
/// time (its Python interpreter from the script's `#!` line); an executable that is not a Python script runs
/// as it is.
fn serial_server_command(executable: &std::path::Path) -> Command {
    const SERIAL: &str = "import sys, moto.server as s\n\
        serve = s.run_simple\n\
        s.run_simple = lambda *a, **k: serve(*a, **{**k, 'threaded': False})\n\
        s.main(sys.argv[1:])";
    let interpreter = std::fs::read_to_string(executable).ok().and_then(|script| {
        let first = script.lines().next()?.strip_prefix("#!")?.trim().to_owned();
        (first.contains("python") && !first.contains(' ') && script.contains("moto.server")).then_some(first)
    });
    match interpreter {
        Some(python) => {
            let mut command = Command::new(python);
            command.args(["-c", SERIAL]);
            command
        }
        None => Command::new(executable),
    }
}

pub(crate) fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|p| p.is_file())
}

/// A running moto server (killed on drop) and an SDK client for it.
pub struct Moto {
    child: ManagedChild,
    port: u16,
    client: Client,
    startup: Duration,
}

impl std::fmt::Debug for Moto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Moto").field("endpoint", &self.endpoint_url()).finish_non_exhaustive()
    }
}

impl Moto {
    /// Starts `moto_server -H 127.0.0.1 -p <free port>` and waits until it answers (up to 60 s).
    pub async fn start() -> Result<Self> {
        let executable = moto_server_path()?;
        let mut last_error = None;
        for _attempt in 0..3 {
            let port = free_port()?;
            let mut command = serial_server_command(&executable);
            command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
            let started = Instant::now();
            let child = ManagedChild::spawn("moto", command)?;
            let url = format!("http://127.0.0.1:{port}/moto-api/");
            let ready = wait_for_http(&url, Duration::from_secs(60), || match child.exit() {
                Some(exit) => {
                    Err(format!("moto_server exited ({:?}); output:\n{}", exit.status, child.output().dump()).into())
                }
                None => Ok(()),
            })
            .await;
            match ready {
                Ok(_) => {
                    let client = sdk_client(&format!("http://127.0.0.1:{port}"));
                    return Ok(Self { child, port, client, startup: started.elapsed() });
                }
                // Most likely the port was taken in the meantime: try another one.
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| "moto did not start".into()))
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn region(&self) -> &'static str {
        REGION
    }

    /// How long the server took to answer after spawn.
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// A Secrets Manager client for this server.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The server process (output, exit).
    pub fn child(&self) -> &ManagedChild {
        &self.child
    }

    /// Creates a secret; its ARN.
    pub async fn create_secret(&self, name: &str, secret_string: &str) -> Result<String> {
        let created = (self.client.create_secret().name(name).secret_string(secret_string).send().await)
            .map_err(|e| format!("CreateSecret {name}: {}", DisplayErrorContext(&e)))?;
        created.arn().map(str::to_owned).ok_or_else(|| format!("moto created {name} without an ARN").into())
    }

    /// Stores a new current value (a rotation); the new version id.
    pub async fn put_secret_value(&self, secret_id: &str, secret_string: &str) -> Result<String> {
        let put = (self.client.put_secret_value().secret_id(secret_id).secret_string(secret_string).send().await)
            .map_err(|e| format!("PutSecretValue {secret_id}: {}", DisplayErrorContext(&e)))?;
        Ok(put.version_id().unwrap_or_default().to_owned())
    }

    /// The current `SecretString`.
    pub async fn get_secret_string(&self, secret_id: &str) -> Result<String> {
        let got = (self.client.get_secret_value().secret_id(secret_id).send().await)
            .map_err(|e| format!("GetSecretValue {secret_id}: {}", DisplayErrorContext(&e)))?;
        got.secret_string().map(str::to_owned).ok_or_else(|| format!("{secret_id} has no SecretString").into())
    }

    /// Creates the guard's table `name` from template.yaml's definition (see [`create_guard_table`]).
    pub async fn create_guard_table(&self, name: &str) -> Result<()> {
        create_guard_table(&self.endpoint_url(), name).await
    }

    /// The variables a function process needs to reach this server with the AWS SDK:
    /// `AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_DEFAULT_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`.
    pub fn function_env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint_url()),
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_DEFAULT_REGION", REGION.to_owned()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY.to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}

/// A Secrets Manager client for `endpoint_url` with the dummy credentials, region us-east-1.
pub fn sdk_client(endpoint_url: &str) -> Client {
    let config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint_url)
        .credentials_provider(Credentials::new(ACCESS_KEY_ID, SECRET_ACCESS_KEY, None, None, "test-rig"))
        .build();
    Client::from_conf(config)
}

/// A DynamoDB client for `endpoint_url` with the dummy credentials, region us-east-1.
pub fn dynamodb_client(endpoint_url: &str) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new(REGION))
        .endpoint_url(endpoint_url)
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            ACCESS_KEY_ID,
            SECRET_ACCESS_KEY,
            None,
            None,
            "test-rig",
        ))
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// The logical id of the guard's table in template.yaml.
pub const GUARD_TABLE_RESOURCE: &str = "GuardTable";

/// The guard table as template.yaml defines it: what `CreateTable` and `UpdateTimeToLive` need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardTableDefinition {
    /// (attribute name, key type: HASH or RANGE).
    pub key_schema: Vec<(String, String)>,
    /// (attribute name, type: S, N or B).
    pub attributes: Vec<(String, String)>,
    pub billing_mode: String,
    /// The TTL attribute, when enabled.
    pub ttl_attribute: Option<String>,
}

/// Reads [`GUARD_TABLE_RESOURCE`] from the workspace's template.yaml.
pub fn guard_table_definition() -> Result<GuardTableDefinition> {
    let path = workspace_root().join("template.yaml");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    guard_table_definition_from(&text)
}

/// Reads [`GUARD_TABLE_RESOURCE`] from a template's text (CloudFormation tags are accepted and ignored).
pub fn guard_table_definition_from(template: &str) -> Result<GuardTableDefinition> {
    use serde_yaml_ng::Value;
    let tpl: Value = serde_yaml_ng::from_str(template).map_err(|e| format!("template.yaml: {e}"))?;
    let resource = &tpl["Resources"][GUARD_TABLE_RESOURCE];
    if resource["Type"].as_str() != Some("AWS::DynamoDB::Table") {
        return Err(format!("template.yaml: {GUARD_TABLE_RESOURCE} is not an AWS::DynamoDB::Table").into());
    }
    let props = &resource["Properties"];
    let pairs = |list: &str, first: &str, second: &str| -> Result<Vec<(String, String)>> {
        let items = props[list].as_sequence().ok_or_else(|| format!("{GUARD_TABLE_RESOURCE}.{list} is not a list"))?;
        items
            .iter()
            .map(|item| match (item[first].as_str(), item[second].as_str()) {
                (Some(a), Some(b)) => Ok((a.to_owned(), b.to_owned())),
                _ => Err(format!("{GUARD_TABLE_RESOURCE}.{list}: each item needs {first} and {second}").into()),
            })
            .collect()
    };
    let ttl = &props["TimeToLiveSpecification"];
    Ok(GuardTableDefinition {
        key_schema: pairs("KeySchema", "AttributeName", "KeyType")?,
        attributes: pairs("AttributeDefinitions", "AttributeName", "AttributeType")?,
        billing_mode: props["BillingMode"].as_str().unwrap_or("PROVISIONED").to_owned(),
        ttl_attribute: (ttl["Enabled"].as_bool() == Some(true))
            .then(|| ttl["AttributeName"].as_str().map(str::to_owned))
            .flatten(),
    })
}

/// Creates the guard's table `name` at `endpoint_url` (moto) from template.yaml's definition: key schema,
/// attribute definitions, billing mode and TTL attribute.
pub async fn create_guard_table(endpoint_url: &str, name: &str) -> Result<()> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TimeToLiveSpecification,
    };
    let definition = guard_table_definition()?;
    let client = dynamodb_client(endpoint_url);
    let mut create =
        client.create_table().table_name(name).billing_mode(BillingMode::from(definition.billing_mode.as_str()));
    for (attribute, key_type) in &definition.key_schema {
        let element =
            KeySchemaElement::builder().attribute_name(attribute).key_type(KeyType::from(key_type.as_str())).build()?;
        create = create.key_schema(element);
    }
    for (attribute, kind) in &definition.attributes {
        let attribute = AttributeDefinition::builder()
            .attribute_name(attribute)
            .attribute_type(ScalarAttributeType::from(kind.as_str()))
            .build()?;
        create = create.attribute_definitions(attribute);
    }
    create
        .send()
        .await
        .map_err(|e| format!("CreateTable {name}: {}", aws_sdk_dynamodb::error::DisplayErrorContext(&e)))?;
    if let Some(attribute) = &definition.ttl_attribute {
        let ttl = TimeToLiveSpecification::builder().attribute_name(attribute).enabled(true).build()?;
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(ttl)
            .send()
            .await
            .map_err(|e| format!("UpdateTimeToLive {name}: {}", aws_sdk_dynamodb::error::DisplayErrorContext(&e)))?;
    }
    Ok(())
}
