//! What the pages show of a session, whichever store kept it.

/// What the page shows of a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionView {
    pub user: String,
    /// Epoch milliseconds.
    pub created_ms: u64,
}
