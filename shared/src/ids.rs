//! Identifier validation: ids are checked before they go into an upstream URL.

/// The longest id body we accept after its prefix (Persona's ids have changed length over time, so we only bound it).
pub const MAX_ID_BODY_LEN: usize = 64;

/// `prefix` followed by 1–64 ASCII letters or digits.
pub fn is_valid_id(candidate: &str, prefix: &str) -> bool {
    candidate.strip_prefix(prefix).is_some_and(|body| {
        (1..=MAX_ID_BODY_LEN).contains(&body.len()) && body.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

/// An inquiry id (`inq_…`) that is safe to put in a URL path.
pub fn is_valid_inquiry_id(candidate: &str) -> bool {
    is_valid_id(candidate, "inq_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inquiry_ids() {
        let max = format!("inq_{}", "a".repeat(64));
        let too_long = format!("inq_{}", "a".repeat(65));
        let table: &[(&str, bool)] = &[
            ("inq_ABC123", true),
            ("inq_a", true),
            (&max, true),
            (&too_long, false),
            ("inq_", false),
            ("", false),
            ("INQ_abc", false),
            ("itmpl_abc", false),
            ("inq_abc/def", false),
            ("inq_abc/../x", false),
            ("inq_..", false),
            ("inq_abc%2F", false),
            ("inq_abc?x=1", false),
            ("inq_abc.def", false),
            ("inq_abc-def", false),
            ("inq_abc_def", false),
            ("inq_abc ", false),
            ("inq_äbc", false),
            ("inq_abc\n", false),
        ];
        for (candidate, expected) in table {
            assert_eq!(is_valid_inquiry_id(candidate), *expected, "{candidate:?}");
        }
    }
}
