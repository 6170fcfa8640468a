//! moto's Secrets Manager, driven with the real AWS SDK. Needs `moto_server` (`bash ci/setup-python.sh`);
//! skipped with a message when it is missing, except under `CI`, where a missing install fails.

use integration_tests::error::Result;
use integration_tests::moto::{moto_server_path, sdk_client, Moto};
use integration_tests::prism::running_in_ci;
use tokio::sync::MutexGuard;

/// The rig's exclusive turn and a started moto, or `None` (the test skips) where moto is not installed: the
/// preamble of every test here with one server. Keep the turn for the whole test.
pub(crate) async fn moto_for(test_name: &str) -> Result<Option<(MutexGuard<'static, ()>, Moto)>> {
    let turn = integration_tests::rig::exclusive_turn().await;
    if !moto_or_skip(test_name) {
        return Ok(None);
    }
    Ok(Some((turn, Moto::start().await?)))
}

pub(crate) fn moto_or_skip(test_name: &str) -> bool {
    match moto_server_path() {
        Ok(_) => true,
        Err(e) if running_in_ci() => panic!("{test_name}: {e}"),
        Err(e) => {
            eprintln!("SKIPPED {test_name}: {e}");
            false
        }
    }
}

#[tokio::test]
async fn secrets_are_created_read_and_rotated_through_the_sdk() -> Result<()> {
    let Some((_turn, moto)) = moto_for("secrets_are_created_read_and_rotated_through_the_sdk").await? else {
        return Ok(());
    };
    println!("moto answered {:?} after spawn at {}", moto.startup_time(), moto.endpoint_url());

    let arn = moto.create_secret("persona/api-key", r#"{"api_key":"persona_sandbox_1"}"#).await?;
    assert!(arn.starts_with("arn:aws:secretsmanager:us-east-1:"), "{arn}");
    assert!(arn.contains(":secret:persona/api-key-"), "{arn}");
    assert_eq!(moto.get_secret_string(&arn).await?, r#"{"api_key":"persona_sandbox_1"}"#);
    assert_eq!(moto.get_secret_string("persona/api-key").await?, r#"{"api_key":"persona_sandbox_1"}"#);

    let version = moto.put_secret_value(&arn, "persona_sandbox_2").await?;
    assert!(!version.is_empty());
    assert_eq!(moto.get_secret_string(&arn).await?, "persona_sandbox_2");

    // What a function process gets: the SDK's endpoint, region and static credentials.
    let env = moto.function_env();
    let var = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    assert_eq!(var("AWS_ENDPOINT_URL"), Some(moto.endpoint_url()));
    assert_eq!(var("AWS_REGION").as_deref(), Some("us-east-1"));
    assert!(var("AWS_ACCESS_KEY_ID").is_some() && var("AWS_SECRET_ACCESS_KEY").is_some());

    // A second client (as a function would build one) sees the same store.
    let other = sdk_client(&moto.endpoint_url());
    let got = other.get_secret_value().secret_id("persona/api-key").send().await?;
    assert_eq!(got.secret_string(), Some("persona_sandbox_2"));

    // Stopping: dropping the handle kills the server.
    let pid = moto.child().pid();
    drop(moto);
    for _ in 0..100 {
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("moto_server (pid {pid}) outlived its handle");
}

#[tokio::test]
async fn two_servers_run_side_by_side_on_their_own_ports() -> Result<()> {
    let _turn = integration_tests::rig::exclusive_turn().await;
    if !moto_or_skip("two_servers_run_side_by_side_on_their_own_ports") {
        return Ok(());
    }
    let (a, b) = tokio::try_join!(Moto::start(), Moto::start())?;
    assert_ne!(a.endpoint_url(), b.endpoint_url());
    a.create_secret("only-in-a", "x").await?;
    assert!(b.get_secret_string("only-in-a").await.is_err());
    Ok(())
}
