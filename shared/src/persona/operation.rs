//! The Persona calls we make, named once: the client, the idempotency keys and the call record all use this.

/// One Persona endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `GET /inquiries/{id}`
    GetInquiry,
    /// `GET /inquiries`
    ListInquiries,
    /// `GET /accounts/{id}`
    GetAccount,
    /// `GET /accounts`
    ListAccounts,
    /// `POST /inquiries`
    CreateInquiry,
    /// `POST /inquiries/{id}/resume`
    Resume,
    /// `POST /inquiries/{id}/generate-one-time-link`
    GenerateOneTimeLink,
    /// `POST /inquiries/{id}/expire`
    Expire,
}

impl Operation {
    /// The name in logs and idempotency keys (kebab-case, as Persona names its paths).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GetInquiry => "get-inquiry",
            Self::ListInquiries => "list-inquiries",
            Self::GetAccount => "get-account",
            Self::ListAccounts => "list-accounts",
            Self::CreateInquiry => "create-inquiry",
            Self::Resume => "resume",
            Self::GenerateOneTimeLink => "generate-one-time-link",
            Self::Expire => "expire",
        }
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
