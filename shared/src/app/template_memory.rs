//! The latest published version of a template, remembered by this container for a minute after a GET showed it
//! (docs/design.md, "Returning users"): with it, `/me`'s list items decide without reading the chosen inquiry
//! again — 3 sequential rounds instead of 4. A minute-old answer is at worst a minute late to call an inquiry
//! outdated, the same as a user who came a minute earlier.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a latest published version is trusted without another GET.
pub const REMEMBERED_FOR: Duration = Duration::from_secs(60);
/// A container serves one deployment, whose `/me` routes use one template; a few more are remembered at most.
const MAX_TEMPLATES: usize = 16;

#[derive(Debug, Default)]
pub struct TemplateMemory {
    latest: Mutex<HashMap<String, (String, Instant)>>,
}

impl TemplateMemory {
    pub fn remember(&self, template_id: &str, latest_published_version: &str) {
        let Ok(mut latest) = self.latest.lock() else { return };
        if latest.len() >= MAX_TEMPLATES && !latest.contains_key(template_id) {
            latest.clear();
        }
        latest.insert(template_id.to_owned(), (latest_published_version.to_owned(), Instant::now()));
    }

    /// The version remembered within [`REMEMBERED_FOR`].
    pub fn recall(&self, template_id: &str) -> Option<String> {
        self.recall_at(template_id, Instant::now())
    }

    fn recall_at(&self, template_id: &str, now: Instant) -> Option<String> {
        let latest = self.latest.lock().ok()?;
        let (version, seen) = latest.get(template_id)?;
        (now.saturating_duration_since(*seen) < REMEMBERED_FOR).then(|| version.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_is_remembered_for_a_minute() {
        let memory = TemplateMemory::default();
        assert_eq!(memory.recall("itmpl_1"), None);
        memory.remember("itmpl_1", "itmplv_2");
        assert_eq!(memory.recall("itmpl_1").as_deref(), Some("itmplv_2"));
        assert_eq!(memory.recall("itmpl_9"), None);
        let later = Instant::now() + REMEMBERED_FOR + Duration::from_millis(1);
        assert_eq!(memory.recall_at("itmpl_1", later), None, "a minute later it must be read again");
        memory.remember("itmpl_1", "itmplv_3");
        assert_eq!(memory.recall("itmpl_1").as_deref(), Some("itmplv_3"));
    }
}
