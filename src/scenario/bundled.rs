//! The scenarios shipped with lbsim, compiled into the binary so that
//! `lbsim list` and `lbsim run <name>` work from any folder.

/// A bundled scenario file.
pub struct Bundled {
    /// File name in `scenarios/`, e.g. `sticky-crash.toml`.
    pub file: &'static str,
    pub text: &'static str,
}

macro_rules! bundled {
    ($($file:literal),* $(,)?) => {
        &[$(Bundled { file: $file, text: include_str!(concat!("../../scenarios/", $file)) }),*]
    };
}

/// Every file in `scenarios/` (a test checks that none is missing).
pub const BUNDLED: &[Bundled] = bundled![
    "in-memory-problem.toml",
    "sticky-crash.toml",
    "redis-restart.toml",
    "sticky-vs-redis.toml",
    "redis-crash-small.toml",
    "comparison-table.toml",
];

/// Finds a bundled scenario by file name, with or without `.toml`.
pub fn find(name: &str) -> Option<&'static Bundled> {
    BUNDLED
        .iter()
        .find(|b| b.file == name || b.file.strip_suffix(".toml") == Some(name))
}
