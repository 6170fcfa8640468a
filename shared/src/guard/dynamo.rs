//! The guard's table through `aws-sdk-dynamodb` (docs/design.md, "The guard (durable state)").
//!
//! One string partition key, `pk` (template.yaml's `GuardTable` is the single source of the layout). Items:
//! - counters `budget#…`: `n` (the count), `expires_at`;
//! - ledger entries `ledger#…`: `state` (`held`/`done`), `attempt`, `holder`, `lease_until` (epoch ms),
//!   `inquiry_id` (done), `expires_at`;
//! - version sets `versions#{template}`: one attribute `version#{id}` per version (until, epoch ms),
//!   `expires_at`.
//!
//! `expires_at` (epoch seconds) is the table's TTL attribute; TTL deletes lazily (moto never), so the
//! conditions compare the absolute times themselves. Every operation runs within its time budget
//! ([`DEFAULT_OPERATION_BUDGET`]) and answers [`GuardError`] past it, never panics: failing open is the
//! caller's job. The IAM actions used are exactly `GetItem`, `UpdateItem` and `DeleteItem` (a transaction is
//! authorised per item action): template.yaml grants those on this table and nothing else.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;

use crate::domain::ids::InquiryId;

use super::budget::Counter;
use super::ledger::{Entry, EntryState, LedgerWrite, ENTRY_LIFETIME};
use super::store::{versions_key, Counted, GuardError, GuardStore, Written, DEFAULT_OPERATION_BUDGET};
use super::time::UnixMillis;

/// The probe read at init may include DNS, TCP and TLS: more room than a request's operation, still well
/// inside a cold start (it overlaps the secret read).
pub const CONNECT_BUDGET: Duration = Duration::from_secs(1);
/// A transaction that collides with another one on a hot counter (DynamoDB cancels it with
/// `TransactionConflict`) is sent again after this, with jitter, while its budget lasts.
const CONFLICT_BACKOFF: Duration = Duration::from_millis(10);

const PK: &str = "pk";
const HELD: &str = "held";
const DONE: &str = "done";
const VERSION_PREFIX: &str = "version#";

#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    budget: Duration,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into(), budget: DEFAULT_OPERATION_BUDGET }
    }

    /// Another per-operation budget (tests of the timeout; a region far away).
    pub fn with_budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Opens the connection ahead of the first request: one read of a key nobody writes.
    pub async fn open(&self, budget: Duration) -> Result<(), GuardError> {
        let probe = self.client.get_item().table_name(&self.table).key(PK, s("probe#connect")).send();
        within(budget, "open", async { probe.await.map(drop).map_err(|e| store_error("open", &e)) }).await
    }

    async fn timed<T>(
        &self,
        operation: &'static str,
        future: impl Future<Output = Result<T, GuardError>>,
    ) -> Result<T, GuardError> {
        // Guard requests mostly run beside a Persona call in the same task: yielding once lets that call's
        // request, already handed to its connection, leave before this one's signing and connecting (≈0.3 ms of
        // CPU each) — Persona's round trip is the long one.
        tokio::task::yield_now().await;
        within(self.budget, operation, future).await
    }

    fn key(key: &str) -> HashMap<String, AttributeValue> {
        HashMap::from([(PK.to_owned(), s(key))])
    }

    /// One counter: a conditional UpdateItem (no transaction needed, none to conflict).
    async fn add_one(&self, counter: &Counter, room: u64) -> Result<Counted, GuardError> {
        let expression = counter_expression(counter, room);
        let sent = expression
            .apply_update_item(self.client.update_item().table_name(&self.table).key(PK, s(&counter.key)))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(Counted::All),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Ok(Counted::Full(0))
            }
            Err(error) => Err(store_error("add", &error)),
        }
    }

    /// Several counters: one TransactWriteItems, all or none; a cancellation names the full one.
    async fn add_all(&self, counters: &[Counter], rooms: &[u64]) -> Result<Counted, GuardError> {
        let mut items = Vec::with_capacity(counters.len());
        for (counter, room) in counters.iter().zip(rooms) {
            let update = counter_expression(counter, *room)
                .apply_update(Update::builder().table_name(&self.table).key(PK, s(&counter.key)))
                .build()
                .map_err(|e| GuardError::Store { operation: "add", message: e.to_string() })?;
            items.push(TransactWriteItem::builder().update(update).build());
        }
        loop {
            let sent = self.client.transact_write_items().set_transact_items(Some(items.clone())).send().await;
            let error = match sent {
                Ok(_) => return Ok(Counted::All),
                Err(error) => error,
            };
            let reasons = match error.as_service_error() {
                Some(service) if service.is_transaction_canceled_exception() => cancellation_codes(service),
                _ => return Err(store_error("add", &error)),
            };
            if let Some(full) = reasons.iter().position(|code| code == "ConditionalCheckFailed") {
                return Ok(Counted::Full(full));
            }
            if !reasons.iter().any(|code| code == "TransactionConflict") {
                return Err(store_error("add", &error));
            }
            // Another request's transaction holds a counter this instant: again, inside the same budget.
            tokio::time::sleep(CONFLICT_BACKOFF + CONFLICT_BACKOFF.mul_f64(fastrand::f64())).await;
        }
    }
}

impl DynamoStore {
    /// One counter's take-back: `n - add`, only where the counter exists (it was added to moments ago).
    async fn take_back_one(&self, counter: &Counter) -> Result<(), GuardError> {
        let expression = Expression::new("SET #n = #n - :add")
            .when("attribute_exists(#n) AND #n >= :add")
            .name("#n", "n")
            .value(":add", n(u64::from(counter.add)));
        let sent = expression
            .apply_update_item(self.client.update_item().table_name(&self.table).key(PK, s(&counter.key)))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(()),
            // Already at its window's start (TTL, a new window): nothing to take back.
            Err(error) if error.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(()),
            Err(error) => Err(store_error("take_back", &error)),
        }
    }
}

impl GuardStore for DynamoStore {
    async fn add(&self, counters: &[Counter], _now: UnixMillis) -> Result<Counted, GuardError> {
        let mut rooms = Vec::with_capacity(counters.len());
        for (index, counter) in counters.iter().enumerate() {
            match counter.room() {
                Some(room) => rooms.push(room),
                // Its own call alone passes the limit: refused without a write.
                None => return Ok(Counted::Full(index)),
            }
        }
        match counters {
            [] => Ok(Counted::All),
            [one] => self.timed("add", self.add_one(one, rooms[0])).await,
            _ => self.timed("add", self.add_all(counters, &rooms)).await,
        }
    }

    async fn take_back(&self, counters: &[Counter], _now: UnixMillis) -> Result<(), GuardError> {
        // A caller has two counters at most (its minute, the inquiry's day): taken back side by side, one round trip.
        match counters {
            [] => Ok(()),
            [one] => self.timed("take_back", self.take_back_one(one)).await,
            [first, second, rest @ ..] => {
                let (first, second) = tokio::join!(
                    self.timed("take_back", self.take_back_one(first)),
                    self.timed("take_back", self.take_back_one(second)),
                );
                first.and(second)?;
                for counter in rest {
                    self.timed("take_back", self.take_back_one(counter)).await?;
                }
                Ok(())
            }
        }
    }

    async fn read_entry(&self, key: &str) -> Result<Option<Entry>, GuardError> {
        let read = self.client.get_item().table_name(&self.table).set_key(Some(Self::key(key))).consistent_read(true);
        self.timed("read_entry", async {
            let got = read.send().await.map_err(|e| store_error("read_entry", &e))?;
            got.item().map(parse_entry).transpose()
        })
        .await
    }

    async fn write_entry(&self, key: &str, write: &LedgerWrite, now: UnixMillis) -> Result<Written, GuardError> {
        let expression = ledger_expression(write, now);
        self.timed("write_entry", async {
            let sent = if matches!(write, LedgerWrite::Forget { .. }) {
                let delete = self.client.delete_item().table_name(&self.table).set_key(Some(Self::key(key)));
                let delete = delete
                    .condition_expression(expression.condition.unwrap_or_default())
                    .set_expression_attribute_names(Some(expression.names))
                    .set_expression_attribute_values(Some(expression.values));
                delete.send().await.map(drop).map_err(|error| {
                    let failed = error.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception());
                    (failed, store_error("write_entry", &error))
                })
            } else {
                let update = self.client.update_item().table_name(&self.table).set_key(Some(Self::key(key)));
                expression.apply_update_item(update).send().await.map(drop).map_err(|error| {
                    let failed = error.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception());
                    (failed, store_error("write_entry", &error))
                })
            };
            match sent {
                Ok(()) => Ok(Written::Yes),
                Err((true, _)) => Ok(Written::Conflict),
                Err((false, error)) => Err(error),
            }
        })
        .await
    }

    async fn remember_version(
        &self,
        template_id: &str,
        version_id: &str,
        until: UnixMillis,
    ) -> Result<(), GuardError> {
        let expression = Expression::new("SET #v = :until, #exp = :exp")
            .name("#v", &format!("{VERSION_PREFIX}{version_id}"))
            .name("#exp", "expires_at")
            .value(":until", n(until.0))
            .value(":exp", n(until.seconds()));
        let update = self.client.update_item().table_name(&self.table).key(PK, s(&versions_key(template_id)));
        let sent = expression.apply_update_item(update).send();
        self.timed("remember_version", async { sent.await.map(drop).map_err(|e| store_error("remember_version", &e)) })
            .await
    }

    async fn current_versions(&self, template_id: &str, now: UnixMillis) -> Result<Vec<String>, GuardError> {
        let read = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(&versions_key(template_id)))
            .consistent_read(true);
        self.timed("current_versions", async {
            let got = read.send().await.map_err(|e| store_error("current_versions", &e))?;
            let mut versions = Vec::new();
            for (name, value) in got.item().into_iter().flatten() {
                if let Some(version) = name.strip_prefix(VERSION_PREFIX) {
                    if number(value, "current_versions", name)? > now.0 {
                        versions.push(version.to_owned());
                    }
                }
            }
            versions.sort();
            Ok(versions)
        })
        .await
    }
}

async fn within<T>(
    budget: Duration,
    operation: &'static str,
    future: impl Future<Output = Result<T, GuardError>>,
) -> Result<T, GuardError> {
    tokio::time::timeout(budget, future).await.unwrap_or(Err(GuardError::Timeout { operation, budget }))
}

/// An update or condition with the names and values it uses (DynamoDB refuses unused ones).
struct Expression {
    update: Option<String>,
    condition: Option<String>,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expression {
    fn new(update: &str) -> Self {
        Self { update: Some(update.to_owned()), condition: None, names: HashMap::new(), values: HashMap::new() }
    }

    fn condition_only(condition: &str) -> Self {
        Self { update: None, condition: Some(condition.to_owned()), names: HashMap::new(), values: HashMap::new() }
    }

    fn when(mut self, condition: &str) -> Self {
        self.condition = Some(condition.to_owned());
        self
    }

    fn name(mut self, alias: &str, attribute: &str) -> Self {
        self.names.insert(alias.to_owned(), attribute.to_owned());
        self
    }

    fn value(mut self, alias: &str, value: AttributeValue) -> Self {
        self.values.insert(alias.to_owned(), value);
        self
    }

    fn apply_update_item(
        self,
        builder: aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        builder
            .set_update_expression(self.update)
            .set_condition_expression(self.condition)
            .set_expression_attribute_names(Some(self.names))
            .set_expression_attribute_values((!self.values.is_empty()).then_some(self.values))
    }

    fn apply_update(self, builder: aws_sdk_dynamodb::types::builders::UpdateBuilder) -> aws_sdk_dynamodb::types::builders::UpdateBuilder {
        builder
            .set_update_expression(self.update)
            .set_condition_expression(self.condition)
            .set_expression_attribute_names(Some(self.names))
            .set_expression_attribute_values((!self.values.is_empty()).then_some(self.values))
    }
}

/// `n += add` unless `n` is already above `room` (= limit - add): `Counter::fits_on`, as an expression.
fn counter_expression(counter: &Counter, room: u64) -> Expression {
    Expression::new("SET #n = if_not_exists(#n, :zero) + :add, #exp = :exp")
        .when("attribute_not_exists(#n) OR #n <= :room")
        .name("#n", "n")
        .name("#exp", "expires_at")
        .value(":zero", n(0))
        .value(":add", n(u64::from(counter.add)))
        .value(":exp", n(counter.expires_at))
        .value(":room", n(room))
}

/// `ledger::apply`'s conditions and effects, as expressions.
fn ledger_expression(write: &LedgerWrite, now: UnixMillis) -> Expression {
    let kept_until = n(now.plus(ENTRY_LIFETIME).seconds());
    let names = |expression: Expression| {
        expression
            .name("#state", "state")
            .name("#attempt", "attempt")
            .name("#holder", "holder")
            .name("#lease", "lease_until")
            .name("#exp", "expires_at")
    };
    // `ledger::apply` judges only live entries: an entry past `expires_at` is free, whatever it says.
    let held_by_me = "#state = :held AND #attempt = :n AND #holder = :holder AND #exp > :now_s";
    match write {
        LedgerWrite::Claim { holder, lease_until } => names(
            Expression::new(
                "SET #state = :held, #attempt = :one, #holder = :holder, #lease = :lease, #exp = :exp REMOVE #inquiry",
            )
            .when("attribute_not_exists(#pk) OR #exp <= :now_s"),
        )
        .name("#pk", PK)
        .name("#inquiry", "inquiry_id")
        .value(":held", s(HELD))
        .value(":one", n(1))
        .value(":holder", s(holder))
        .value(":lease", n(lease_until.0))
        .value(":exp", kept_until)
        .value(":now_s", n(now.seconds())),
        LedgerWrite::TakeOver { attempt, holder, lease_until } => names(
            Expression::new("SET #holder = :holder, #lease = :lease, #exp = :exp")
                .when("#state = :held AND #attempt = :n AND #lease < :now_ms AND #exp > :now_s"),
        )
        .value(":held", s(HELD))
        .value(":n", n(u64::from(*attempt)))
        .value(":holder", s(holder))
        .value(":lease", n(lease_until.0))
        .value(":exp", kept_until)
        .value(":now_ms", n(now.0))
        .value(":now_s", n(now.seconds())),
        LedgerWrite::Advance { attempt, holder, lease_until } => {
            names(Expression::new("SET #attempt = :next, #lease = :lease, #exp = :exp").when(held_by_me))
                .value(":held", s(HELD))
                .value(":n", n(u64::from(*attempt)))
                .value(":next", n(u64::from(*attempt) + 1))
                .value(":holder", s(holder))
                .value(":lease", n(lease_until.0))
                .value(":exp", kept_until)
                .value(":now_s", n(now.seconds()))
        }
        LedgerWrite::Release { attempt, holder } => {
            names(Expression::new("SET #lease = :zero, #exp = :exp").when(held_by_me))
                .value(":held", s(HELD))
                .value(":n", n(u64::from(*attempt)))
                .value(":holder", s(holder))
                .value(":zero", n(0))
                .value(":exp", kept_until)
                .value(":now_s", n(now.seconds()))
        }
        LedgerWrite::Created { attempt, inquiry_id } => Expression::new(
            "SET #state = :done, #inquiry = :id, #exp = :exp REMOVE #holder, #lease",
        )
        .when("#exp > :now_s AND ((#state = :held AND #attempt = :n) OR (#state = :done AND #inquiry = :id))")
        .name("#state", "state")
        .name("#attempt", "attempt")
        .name("#holder", "holder")
        .name("#lease", "lease_until")
        .name("#exp", "expires_at")
        .name("#inquiry", "inquiry_id")
        .value(":held", s(HELD))
        .value(":done", s(DONE))
        .value(":n", n(u64::from(*attempt)))
        .value(":id", s(inquiry_id))
        .value(":exp", kept_until)
        .value(":now_s", n(now.seconds())),
        LedgerWrite::Forget { attempt, holder } => Expression::condition_only(held_by_me)
            .name("#state", "state")
            .name("#attempt", "attempt")
            .name("#holder", "holder")
            .name("#exp", "expires_at")
            .value(":held", s(HELD))
            .value(":n", n(u64::from(*attempt)))
            .value(":holder", s(holder))
            .value(":now_s", n(now.seconds())),
    }
}

fn parse_entry(item: &HashMap<String, AttributeValue>) -> Result<Entry, GuardError> {
    const OP: &str = "read_entry";
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(text)) => Ok(text.as_str()),
        _ => Err(GuardError::Malformed { operation: OP, problem: format!("{name} is not a string") }),
    };
    let number_of = |name: &str| match item.get(name) {
        Some(value) => number(value, OP, name),
        None => Err(GuardError::Malformed { operation: OP, problem: format!("{name} is missing") }),
    };
    let attempt = u32::try_from(number_of("attempt")?)
        .map_err(|_| GuardError::Malformed { operation: OP, problem: "attempt is out of range".into() })?;
    let state = match text("state")? {
        HELD => EntryState::Held {
            attempt,
            holder: text("holder")?.to_owned(),
            lease_until: UnixMillis(number_of("lease_until")?),
        },
        DONE => EntryState::Done {
            attempt,
            inquiry_id: InquiryId::parse(text("inquiry_id")?)
                .map_err(|e| GuardError::Malformed { operation: OP, problem: e.to_string() })?,
        },
        other => return Err(GuardError::Malformed { operation: OP, problem: format!("unknown state {other:?}") }),
    };
    Ok(Entry { state, expires_at: number_of("expires_at")? })
}

fn number(value: &AttributeValue, operation: &'static str, name: &str) -> Result<u64, GuardError> {
    match value {
        AttributeValue::N(text) => text.parse().ok(),
        _ => None,
    }
    .ok_or_else(|| GuardError::Malformed { operation, problem: format!("{name} is not a whole number") })
}

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_owned())
}

fn n(number: u64) -> AttributeValue {
    AttributeValue::N(number.to_string())
}

/// The codes of a `TransactionCanceledException`, one per item in order (`None` for an item that was fine).
/// moto and DynamoDB send `CancellationReasons`; when they are missing, the message lists the same codes
/// ("… reasons [None, ConditionalCheckFailed]").
fn cancellation_codes(error: &aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError) -> Vec<String> {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    if let TransactWriteItemsError::TransactionCanceledException(canceled) = error {
        let reasons: Vec<String> =
            canceled.cancellation_reasons().iter().map(|r| r.code().unwrap_or("None").to_owned()).collect();
        if !reasons.is_empty() {
            return reasons;
        }
    }
    codes_in_message(error.message().unwrap_or_default())
}

fn codes_in_message(message: &str) -> Vec<String> {
    let Some(list) = message.rsplit_once('[').and_then(|(_, rest)| rest.split_once(']')).map(|(list, _)| list) else {
        return Vec::new();
    };
    list.split(',').map(|code| code.trim().to_owned()).collect()
}

fn store_error<E, R>(operation: &'static str, error: &aws_sdk_dynamodb::error::SdkError<E, R>) -> GuardError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    GuardError::Store { operation, message: DisplayErrorContext(error).to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard::budget::{calls_counter, Limits};

    #[test]
    fn cancellation_codes_are_read_from_the_message_when_the_reasons_are_missing() {
        let table: &[(&str, &[&str])] = &[
            (
                "Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed]",
                &["None", "ConditionalCheckFailed"],
            ),
            ("Transaction cancelled [TransactionConflict]", &["TransactionConflict"]),
            ("no list here", &[]),
        ];
        for (message, expected) in table {
            assert_eq!(codes_in_message(message), *expected, "{message}");
        }
    }

    #[test]
    fn expressions_use_every_name_and_value_they_declare() {
        // DynamoDB refuses a request that declares a name or value its expressions don't use.
        let now = UnixMillis(1_796_121_075_250);
        let counter = calls_counter(&Limits { persona_calls_per_minute: 20, ..Limits::OFF }, 4, now).unwrap();
        let inquiry = InquiryId::parse("inq_Dyn1").unwrap();
        let (h, lease) = ("me".to_owned(), UnixMillis(now.0 + 1));
        let expressions = [
            counter_expression(&counter, 16),
            ledger_expression(&LedgerWrite::Claim { holder: h.clone(), lease_until: lease }, now),
            ledger_expression(&LedgerWrite::TakeOver { attempt: 2, holder: h.clone(), lease_until: lease }, now),
            ledger_expression(&LedgerWrite::Advance { attempt: 2, holder: h.clone(), lease_until: lease }, now),
            ledger_expression(&LedgerWrite::Release { attempt: 2, holder: h.clone() }, now),
            ledger_expression(&LedgerWrite::Created { attempt: 2, inquiry_id: inquiry }, now),
            ledger_expression(&LedgerWrite::Forget { attempt: 2, holder: h }, now),
        ];
        for expression in expressions {
            let text = format!("{} {}", expression.update.as_deref().unwrap_or(""), expression.condition.as_deref().unwrap_or(""));
            for alias in expression.names.keys().chain(expression.values.keys()) {
                let used = text.match_indices(alias.as_str()).any(|(at, _)| {
                    !text[at + alias.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
                });
                assert!(used, "{alias} unused in {text}");
            }
        }
    }

    #[test]
    fn entries_parse_and_bad_items_are_errors_not_panics() {
        let item = |pairs: &[(&str, AttributeValue)]| -> HashMap<String, AttributeValue> {
            pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
        };
        let held = item(&[("state", s("held")), ("attempt", n(3)), ("holder", s("h")), ("lease_until", n(9)), ("expires_at", n(7))]);
        assert_eq!(
            parse_entry(&held).unwrap(),
            Entry { state: EntryState::Held { attempt: 3, holder: "h".into(), lease_until: UnixMillis(9) }, expires_at: 7 }
        );
        let done = item(&[("state", s("done")), ("attempt", n(1)), ("inquiry_id", s("inq_X1")), ("expires_at", n(7))]);
        assert!(matches!(parse_entry(&done).unwrap().state, EntryState::Done { attempt: 1, .. }));
        for bad in [
            item(&[("state", s("held")), ("attempt", n(1))]),
            item(&[("state", s("gone")), ("attempt", n(1)), ("expires_at", n(7))]),
            item(&[("state", s("done")), ("attempt", n(1)), ("inquiry_id", s("../x")), ("expires_at", n(7))]),
            item(&[("state", s("held")), ("attempt", s("1")), ("holder", s("h")), ("lease_until", n(9)), ("expires_at", n(7))]),
            item(&[("state", s("held")), ("attempt", n(u64::MAX)), ("holder", s("h")), ("lease_until", n(9)), ("expires_at", n(7))]),
        ] {
            assert!(matches!(parse_entry(&bad), Err(GuardError::Malformed { .. })), "{bad:?}");
        }
    }
}
