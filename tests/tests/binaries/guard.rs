//! The guard's DynamoDB adapter against moto's DynamoDB, with the table created from template.yaml's own
//! definition: the same behavioural suite as the in-process store (`persona_resume::guard::conformance`), and
//! the failures the service fails open on — a missing table, DynamoDB down, DynamoDB silent — each a
//! `GuardError` within the operation budget, never a panic. Needs `moto_server` (`bash ci/setup-python.sh`).

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use integration_tests::error::Result;
use integration_tests::moto::{dynamodb_client, guard_table_definition};
use integration_tests::probe::join_all;
use persona_resume::domain::ids::InquiryId;
use persona_resume::domain::owner::Owner;
use persona_resume::guard::budget::{admission_counters, Admission, Budget, Limits};
use persona_resume::guard::{conformance, DynamoStore, Guard, GuardError, GuardStore, LedgerKey, Store, UnixMillis};

use crate::moto::moto_for;

#[test]
fn the_template_defines_one_string_key_on_demand_with_ttl() -> Result<()> {
    let definition = guard_table_definition()?;
    assert_eq!(definition.key_schema, [("pk".to_owned(), "HASH".to_owned())]);
    assert_eq!(definition.attributes, [("pk".to_owned(), "S".to_owned())]);
    assert_eq!(definition.billing_mode, "PAY_PER_REQUEST");
    assert_eq!(definition.ttl_attribute.as_deref(), Some("expires_at"));
    Ok(())
}

#[tokio::test]
async fn the_dynamodb_store_passes_the_behavioural_suite_on_a_table_made_from_the_template() -> Result<()> {
    let Some((_turn, moto)) =
        moto_for("the_dynamodb_store_passes_the_behavioural_suite_on_a_table_made_from_the_template").await?
    else {
        return Ok(());
    };
    moto.create_guard_table("guard-conformance").await?;
    let described =
        dynamodb_client(&moto.endpoint_url()).describe_table().table_name("guard-conformance").send().await?;
    let table = described.table().expect("described");
    assert_eq!(table.key_schema()[0].attribute_name(), "pk");
    // moto answers in milliseconds, but this machine may be busy: the suite checks semantics, not speed.
    let store = DynamoStore::new(dynamodb_client(&moto.endpoint_url()), "guard-conformance")
        .with_budget(Duration::from_secs(10));
    store.open(Duration::from_secs(10)).await?;
    let started = Instant::now();
    Box::pin(conformance::run_all(&store)).await;
    println!("behavioural suite on moto's DynamoDB: {:?}", started.elapsed());

    // Two containers (two clients) racing for one create: one claim wins.
    let other = DynamoStore::new(dynamodb_client(&moto.endpoint_url()), "guard-conformance")
        .with_budget(Duration::from_secs(10));
    let outdated = InquiryId::parse("inq_TwoClients1").unwrap();
    let key = LedgerKey::Recreate { outdated: &outdated }.item_key();
    let now = UnixMillis::now();
    let lease = now.plus(Duration::from_secs(26));
    let claim = |holder: &str| persona_resume::guard::LedgerWrite::Claim { holder: holder.into(), lease_until: lease };
    let (a, b) = (claim("container-a"), claim("container-b"));
    let (first, second) = tokio::join!(store.write_entry(&key, &a, now), other.write_entry(&key, &b, now));
    let won = [first?, second?].iter().filter(|w| **w == persona_resume::guard::Written::Yes).count();
    assert_eq!(won, 1, "exactly one container holds the create");
    Ok(())
}

#[tokio::test]
async fn a_burst_from_two_containers_gets_exactly_the_share() -> Result<()> {
    let Some((_turn, moto)) = moto_for("a_burst_from_two_containers_gets_exactly_the_share").await? else {
        return Ok(());
    };
    moto.create_guard_table("guard-burst").await?;
    // A share of 20 calls a minute, plans of 4 calls, 30 users at once through two containers' clients.
    let limits =
        Limits { persona_calls_per_minute: 20, requests_per_owner_per_minute: 3, sessions_per_inquiry_per_day: 0 };
    let container = || {
        let store =
            DynamoStore::new(dynamodb_client(&moto.endpoint_url()), "guard-burst").with_budget(Duration::from_secs(10));
        Guard::new(store, limits)
    };
    let (a, b) = (container(), container());
    let owners: Vec<persona_resume::domain::owner::Owner> =
        (0..30).map(|n| persona_resume::domain::owner::Owner::new(format!("burst-user-{n}")).unwrap()).collect();
    let now = UnixMillis::now();
    let started = Instant::now();
    let requests = owners.iter().enumerate().map(|(n, owner)| {
        let guard = if n % 2 == 0 { &a } else { &b };
        async move {
            let sent = Instant::now();
            let outcome = guard.admit(&Admission { owner: Some(owner), inquiry: None, persona_calls: 4 }, now).await;
            (outcome, sent.elapsed())
        }
    });
    let (outcomes, latencies): (Vec<_>, Vec<_>) = join_all(requests).await.into_iter().unzip();
    let elapsed = started.elapsed();
    let slowest = latencies.iter().max().copied().unwrap_or_default();
    let admitted = outcomes.iter().filter(|o| o.is_ok()).count();
    let refused = outcomes.iter().filter(|o| o.as_ref().err().and_then(|d| d.refused()).is_some()).count();
    println!(
        "30 concurrent admissions on moto: {admitted} admitted, {refused} refused in {elapsed:?} (slowest {slowest:?})"
    );
    assert_eq!((admitted, refused), (5, 25), "20 calls / 4 per plan, the rest refused (none unavailable)");
    Ok(())
}

/// Every operation of a store that cannot work answers a `GuardError` within about its budget.
async fn every_operation_fails_quickly(store: &DynamoStore, budget: Duration) -> Vec<GuardError> {
    let now = UnixMillis::now();
    let inquiry = InquiryId::parse("inq_Unavailable1").unwrap();
    let key = LedgerKey::Recreate { outdated: &inquiry }.item_key();
    let claim = persona_resume::guard::LedgerWrite::Claim { holder: "h".into(), lease_until: now };
    let guard = Guard::new(
        store,
        Limits { persona_calls_per_minute: 240, requests_per_owner_per_minute: 10, sessions_per_inquiry_per_day: 10 },
    );
    let mut errors = Vec::new();
    let timed = |elapsed: Duration| assert!(elapsed < budget + Duration::from_millis(500), "took {elapsed:?}");
    let started = Instant::now();
    match guard.admit(&Admission { owner: None, inquiry: Some(&inquiry), persona_calls: 2 }, now).await {
        Err(persona_resume::guard::Denied::Unavailable(e)) => errors.push(e),
        other => panic!("admit (transaction) must be unavailable: {other:?}"),
    }
    timed(started.elapsed());
    let started = Instant::now();
    match guard.reserve_calls(1, now).await {
        Err(persona_resume::guard::Denied::Unavailable(e)) => errors.push(e),
        other => panic!("reserve_calls must be unavailable: {other:?}"),
    }
    timed(started.elapsed());
    let started = Instant::now();
    errors.push(store.read_entry(&key).await.expect_err("read_entry"));
    errors.push(store.write_entry(&key, &claim, now).await.expect_err("write_entry"));
    errors.push(store.remember_version("itmpl_X1", "itmplv_X1", now).await.expect_err("remember_version"));
    errors.push(store.current_versions("itmpl_X1", now).await.expect_err("current_versions"));
    timed(started.elapsed() / 4);
    errors
}

#[tokio::test]
async fn a_missing_table_is_a_guard_error_not_a_panic() -> Result<()> {
    let Some((_turn, moto)) = moto_for("a_missing_table_is_a_guard_error_not_a_panic").await? else { return Ok(()) };
    let budget = Duration::from_secs(5);
    let store = DynamoStore::new(dynamodb_client(&moto.endpoint_url()), "no-such-table").with_budget(budget);
    assert!(store.open(budget).await.is_err(), "the init probe reports it");
    for error in Box::pin(every_operation_fails_quickly(&store, budget)).await {
        let text = error.to_string();
        assert!(matches!(error, GuardError::Store { .. }), "{text}");
        assert!(text.contains("ResourceNotFound") || text.contains("not found"), "{text}");
    }
    Ok(())
}

#[tokio::test]
async fn dynamodb_down_or_silent_is_a_guard_error_within_the_operation_budget() -> Result<()> {
    // Down: nothing listens on the port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")?;
    let down_url = format!("http://{}", closed.local_addr()?);
    drop(closed);
    let budget = Duration::from_millis(300);
    let down = DynamoStore::new(dynamodb_client(&down_url), "guard").with_budget(budget);
    for error in Box::pin(every_operation_fails_quickly(&down, budget)).await {
        assert!(matches!(error, GuardError::Store { .. } | GuardError::Timeout { .. }), "{error}");
    }

    // Silent: connections are accepted and never answered.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let silent_url = format!("http://{}", silent.local_addr()?);
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let silent_store = DynamoStore::new(dynamodb_client(&silent_url), "guard").with_budget(budget);
    for error in Box::pin(every_operation_fails_quickly(&silent_store, budget)).await {
        assert!(matches!(error, GuardError::Timeout { budget: b, .. } if b == budget), "{error}");
    }
    holder.abort();
    Ok(())
}

/// A request refused for the deployment's share answers without waiting for its counts to be taken back (the
/// deployment's `Store` sends the take-back on its own task), and the take-back still lands: the caller's session
/// of the day is free again moments later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_share_refusal_answers_at_once_and_its_counts_are_taken_back_behind_it() -> Result<()> {
    let Some((_turn, moto)) =
        moto_for("a_share_refusal_answers_at_once_and_its_counts_are_taken_back_behind_it").await?
    else {
        return Ok(());
    };
    moto.create_guard_table("guard-detached").await?;
    let client = dynamodb_client(&moto.endpoint_url());
    let store = DynamoStore::new(client.clone(), "guard-detached").with_budget(Duration::from_secs(10));
    let limits =
        Limits { persona_calls_per_minute: 4, requests_per_owner_per_minute: 10, sessions_per_inquiry_per_day: 1 };
    let guard = Guard::new(Store::Dynamo(store), limits);
    let now = UnixMillis::now();
    let first = Owner::new("detached-first").unwrap();
    guard.admit(&Admission { owner: Some(&first), inquiry: None, persona_calls: 4 }, now).await.expect("room");

    let caller = Owner::new("detached-caller").unwrap();
    let presented = InquiryId::parse("inq_Detached1").unwrap();
    let request = Admission { owner: Some(&caller), inquiry: Some(&presented), persona_calls: 4 };
    let refused = guard.admit(&request, now).await.expect_err("the share is spent");
    assert_eq!(refused.refused().map(|r| r.budget.clone()), Some(Budget::PersonaCalls));

    // The caller's counters were added (the share was refused beside them) and are taken back behind the answer.
    let counters = admission_counters(&limits, &request, now);
    let callers: Vec<_> = counters.iter().filter(|c| c.budget != Budget::PersonaCalls).collect();
    assert_eq!(callers.len(), 2, "the owner's minute and the inquiry's day");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut counts = Vec::new();
        for counter in &callers {
            let item = client.get_item().table_name("guard-detached").key("pk", AttributeValue::S(counter.key.clone()));
            let item = item.consistent_read(true).send().await?;
            let count = item.item().and_then(|i| i.get("n")).and_then(|n| n.as_n().ok()).cloned();
            counts.push(count);
        }
        if counts.iter().all(|n| n.as_deref() == Some("0")) {
            break;
        }
        assert!(Instant::now() < deadline, "the caller's counts were never taken back: {counts:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}
