//! Reading lists of inquiries for the lookup rules (`domain::lookup`): pages of `page[size]=100`, the next page
//! through its cursor in our own filtered query (never the link itself: Persona's carries no filters), within a
//! page budget. A list whose next page was left unread is reported incomplete, never as "that's all".

use crate::domain::inquiry::InquiryFacts;
use crate::persona::calls::Invocation;
use crate::persona::error::UpstreamError;
use crate::persona::list_filter::ListFilter;
use crate::persona::port::PersonaPort;

/// Items per page: Persona's maximum, so a flood of planted inquiries needs a hundred to push one off a page.
pub const PAGE_SIZE: u8 = 100;
/// Pages read per list: the call plan's room (a second page only when the first showed nothing of the user's).
pub const MAX_PAGES: usize = 2;

/// A list as read: its items, newest first, as facts, and whether it was read to its end.
#[derive(Debug, Default)]
pub struct ListedInquiries {
    pub items: Vec<InquiryFacts>,
    pub complete: bool,
}

/// Reads `filter`'s list; a further page only while `wanted` finds nothing on what was read (later pages hold
/// older inquiries only, so once something counted was seen the rest cannot change the newest).
pub async fn read_list<P: PersonaPort>(
    persona: &P,
    inv: &mut Invocation,
    filter: &ListFilter<'_>,
    wanted: impl Fn(&InquiryFacts) -> bool,
) -> Result<ListedInquiries, UpstreamError> {
    let mut listed = ListedInquiries::default();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let page_filter = ListFilter { page_size: PAGE_SIZE, page_after: cursor.as_deref(), ..filter.clone() };
        let page = persona.list_inquiries(inv, &page_filter).await?;
        if page.unreadable_items > 0 {
            tracing::warn!(unreadable_items = page.unreadable_items, "Persona listed inquiries we could not read; they were skipped");
        }
        listed.items.extend(page.data.iter().map(InquiryFacts::from));
        match (page.has_next, page.next_cursor) {
            (false, _) => {
                listed.complete = true;
                return Ok(listed);
            }
            (true, Some(next)) if !listed.items.iter().any(&wanted) => cursor = Some(next),
            // Something counted is on the pages read (decisive), or a next page we can't follow.
            (true, _) => return Ok(listed),
        }
    }
    Ok(listed)
}
