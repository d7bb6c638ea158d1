//! The scenarios shipped with lbsim, compiled into the binary so that
//! `lbsim list`, `lbsim run <name>`, `lbsim show` and `lbsim init` work
//! from any folder.

use super::hints;

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
    "bench-1m.toml",
];

/// Finds a bundled scenario by file name, with or without `.toml`.
pub fn find(name: &str) -> Option<&'static Bundled> {
    BUNDLED
        .iter()
        .find(|b| b.file == name || b.file.strip_suffix(".toml") == Some(name))
}

/// The bundled names as a user types them (file names without `.toml`),
/// in [`BUNDLED`] order.
pub fn names() -> Vec<&'static str> {
    BUNDLED
        .iter()
        .map(|b| b.file.trim_end_matches(".toml"))
        .collect()
}

/// What to tell a user whose `name` is not bundled: the bundled names and,
/// when `name` looks like a slip, the one probably meant.
pub fn hint(name: &str) -> String {
    let names = names();
    let mut text = format!("bundled scenarios: {}", names.join(", "));
    if let Some(best) = hints::closest(name.trim_end_matches(".toml"), &names) {
        text.push_str(&format!("; did you mean `{best}`?"));
    }
    text
}

/// Finds a bundled scenario by name, or an error message that lists the
/// bundled names (for commands that take only a bundled name).
pub fn find_or_hint(name: &str) -> Result<&'static Bundled, String> {
    find(name).ok_or_else(|| format!("no bundled scenario `{name}`; {}", hint(name)))
}
