//! The filters of `GET /inquiries`, and how they go into its query.

use url::Url;

use crate::domain::ids::AccountId;

/// Filters of `GET /inquiries`. Persona's filters are a convenience, never a check: every item that comes back is
/// checked for ownership before it is used or named (docs/design.md, "Who owns an inquiry").
#[derive(Debug, Clone, Default)]
pub struct ListFilter<'a> {
    pub reference_id: Option<&'a str>,
    /// Inquiries of any of these accounts (`filter[account-id]` takes a comma-separated list).
    pub account_ids: Vec<&'a AccountId>,
    pub inquiry_template_id: Option<&'a str>,
    pub page_size: u8,
    /// The cursor of the page to read (`page[after]`, from the previous page's `links.next`).
    pub page_after: Option<&'a str>,
}

impl ListFilter<'_> {
    /// Appends the filters and the page size (clamped to Persona's 1–100) to `url`'s query.
    pub fn append_to(&self, url: &mut Url) {
        let mut query = url.query_pairs_mut();
        if let Some(reference_id) = self.reference_id {
            query.append_pair("filter[reference-id]", reference_id);
        }
        if !self.account_ids.is_empty() {
            let ids: Vec<&str> = self.account_ids.iter().map(|id| id.as_str()).collect();
            query.append_pair("filter[account-id]", &ids.join(","));
        }
        if let Some(template_id) = self.inquiry_template_id {
            query.append_pair("filter[inquiry-template-id]", template_id);
        }
        query.append_pair("page[size]", &self.page_size.clamp(1, 100).to_string());
        if let Some(cursor) = self.page_after {
            query.append_pair("page[after]", cursor);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_filters_that_are_set_go_into_the_query() {
        let (one, two) = (AccountId::parse("act_1").unwrap(), AccountId::parse("act_2").unwrap());
        let table = [
            (ListFilter::default(), "page%5Bsize%5D=1"),
            (
                ListFilter { reference_id: Some("a b,c"), page_size: 20, ..ListFilter::default() },
                "filter%5Breference-id%5D=a+b%2Cc&page%5Bsize%5D=20",
            ),
            (
                ListFilter {
                    account_ids: vec![&one, &two],
                    inquiry_template_id: Some("itmpl_1"),
                    page_size: 250,
                    ..ListFilter::default()
                },
                "filter%5Baccount-id%5D=act_1%2Cact_2&filter%5Binquiry-template-id%5D=itmpl_1&page%5Bsize%5D=100",
            ),
            (
                ListFilter { reference_id: Some("u"), page_size: 100, page_after: Some("inq_7"), ..ListFilter::default() },
                "filter%5Breference-id%5D=u&page%5Bsize%5D=100&page%5Bafter%5D=inq_7",
            ),
        ];
        for (filter, expected) in table {
            let mut url = Url::parse("https://persona.test/api/v1/inquiries").unwrap();
            filter.append_to(&mut url);
            assert_eq!(url.query(), Some(expected), "{filter:?}");
        }
    }
}
