//! Idempotency keys on POSTs: the first answer to a key (status and body, 5xx included) is stored and
//! replayed; the same key with another method, path, query or body is an error. 401 and 429 never get
//! here (they are decided before this layer, as at Persona).

use std::collections::HashMap;

use bytes::Bytes;
use serde_json::Value;

/// What a request is compared on when its key comes back.
#[derive(Clone, Debug, PartialEq)]
pub struct Fingerprint {
    pub method: String,
    /// The route path, without any `/api/v1` prefix.
    pub path: String,
    pub query: String,
    pub body: BodyPrint,
}

/// The body as parsed JSON (so key order and whitespace don't matter), or the raw bytes.
#[derive(Clone, Debug, PartialEq)]
pub enum BodyPrint {
    Empty,
    Json(Value),
    Raw(Bytes),
}

impl BodyPrint {
    pub fn of(body: &[u8]) -> BodyPrint {
        if body.iter().all(u8::is_ascii_whitespace) {
            BodyPrint::Empty
        } else if let Ok(v) = serde_json::from_slice::<Value>(body) {
            BodyPrint::Json(v)
        } else {
            BodyPrint::Raw(Bytes::copy_from_slice(body))
        }
    }
}

/// A stored answer.
#[derive(Clone, Debug)]
pub struct StoredAnswer {
    pub status: u16,
    pub body: Bytes,
    /// Produced by fault injection (exempt from the contract check on replay too).
    pub from_fault: bool,
}

/// The result of looking a key up.
#[derive(Debug)]
pub enum Lookup {
    /// Never seen: process the request, then [`IdempotencyStore::store`] the answer.
    Fresh,
    /// Seen with the same parameters: replay this.
    Replay(StoredAnswer),
    /// Seen with different parameters.
    Mismatch,
}

#[derive(Debug, Default)]
pub struct IdempotencyStore {
    entries: HashMap<String, (Fingerprint, StoredAnswer)>,
}

impl IdempotencyStore {
    pub fn lookup(&self, key: &str, fingerprint: &Fingerprint) -> Lookup {
        match self.entries.get(key) {
            None => Lookup::Fresh,
            Some((stored, answer)) if stored == fingerprint => Lookup::Replay(answer.clone()),
            Some(_) => Lookup::Mismatch,
        }
    }

    /// Stores the first answer for `key`; a later one for the same key is ignored.
    pub fn store(&mut self, key: String, fingerprint: Fingerprint, answer: StoredAnswer) {
        self.entries.entry(key).or_insert((fingerprint, answer));
    }

    /// Every stored key with the status of its answer, sorted by key.
    pub fn statuses(&self) -> Vec<(String, u16)> {
        let mut all: Vec<(String, u16)> = self.entries.iter().map(|(k, (_, a))| (k.clone(), a.status)).collect();
        all.sort();
        all
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn print(body: &str) -> Fingerprint {
        Fingerprint {
            method: "POST".into(),
            path: "/inquiries".into(),
            query: String::new(),
            body: BodyPrint::of(body.as_bytes()),
        }
    }

    #[test]
    fn replays_same_parameters_and_refuses_others() {
        let mut store = IdempotencyStore::default();
        assert!(matches!(store.lookup("k", &print("{}")), Lookup::Fresh));
        let answer = StoredAnswer { status: 500, body: Bytes::from_static(b"{}"), from_fault: true };
        store.store("k".into(), print(r#"{"a":1,"b":2}"#), answer);
        assert!(matches!(store.lookup("k", &print(r#"{ "b":2, "a":1 }"#)), Lookup::Replay(a) if a.status == 500));
        assert!(matches!(store.lookup("k", &print(r#"{"a":2}"#)), Lookup::Mismatch));
    }
}
