//! Error messages in the scenario's own terms: serde's wording ("expected
//! struct RawDist", "expected i64") rewritten into what the user writes,
//! and "did you mean" for a misspelt key or scenario name.

/// Rewrites a deserializer message for `field` into the file's terms.
pub fn rewrite(field: &str, message: &str) -> String {
    let last = field.rsplit('.').next().unwrap_or(field);
    if (last == "strategy" || last == "fault") && message.contains("expected a sequence") {
        return format!(
            "`[{last}]` is a single table; write `[[{last}]]` (double brackets), once per {last}"
        );
    }
    let mut text = message.to_string();
    for (serde, ours) in [
        (
            "expected struct RawDist",
            "expected a distribution such as { dist = \"exponential\", mean = \"5s\" }",
        ),
        (
            "expected struct RawSavePoint",
            "expected { after = \"60s\", changes = 1000 }",
        ),
        ("expected i64", "expected a whole number"),
        ("expected u64", "expected a whole number"),
        ("expected f64", "expected a number"),
        ("expected a boolean", "expected true or false"),
        ("invalid type: string", "got a string"),
        ("invalid type: integer", "got a number"),
        ("invalid type: floating point", "got a number"),
        ("invalid type: map", "got a table"),
        ("invalid type: sequence", "got a list"),
    ] {
        text = text.replace(serde, ours);
    }
    // An integer past i64 reaches serde as an i128.
    if let Some(at) = text.find("` as i128") {
        text.replace_range(
            at + 1..,
            ", too big for a whole number (at most 9223372036854775807)",
        );
    }
    if let Some(rest) = text.strip_prefix("unknown field `")
        && let Some((unknown, expected)) = rest.split_once("`, expected one of ")
    {
        let known: Vec<&str> = expected.split(", ").map(|k| k.trim_matches('`')).collect();
        if let Some(best) = closest(unknown, &known) {
            text.push_str(&format!("; did you mean `{best}`?"));
        }
    }
    // Structs: the private `Raw…` names mean nothing to a user.
    while let Some(start) = text.find("struct Raw") {
        let end = text[start..]
            .find(|c: char| !c.is_alphanumeric() && c != ' ')
            .map_or(text.len(), |e| start + e);
        text.replace_range(start..end, "a table");
    }
    text
}

/// The name of `known` closest to `given`, if it is close enough to be a
/// slip (an edit distance of at most a third of its length, and 3).
pub fn closest<'a>(given: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edit_distance(given, k), *k))
        .filter(|(d, k)| *d <= 3 && *d * 3 <= k.len().max(given.len()))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Edit distance with a swap of neighbours as one edit (Damerau's
/// optimal string alignment), as clap suggests subcommands.
fn edit_distance(a: &str, b: &str) -> usize {
    strsim::osa_distance(a, b)
}

/// "a" or "an" before `word`.
pub fn article(word: &str) -> &'static str {
    match word.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => "an",
        _ => "a",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_words_become_the_files_words() {
        let m = rewrite(
            "workload.think_time",
            "invalid type: string \"5s\", expected struct RawDist",
        );
        assert_eq!(
            m,
            "got a string \"5s\", expected a distribution such as { dist = \"exponential\", mean = \"5s\" }"
        );
        assert!(
            !rewrite("servers.count", "invalid type: string \"3\", expected i64").contains("i64")
        );
        assert!(
            rewrite("strategy", "invalid type: map, expected a sequence").contains("[[strategy]]")
        );
    }

    #[test]
    fn a_slip_gets_a_suggestion_and_a_stranger_none() {
        let m = rewrite(
            "workload.usres",
            "unknown field `usres`, expected one of `users`, `arrival`, `think_time`",
        );
        assert!(m.ends_with("did you mean `users`?"), "{m}");
        assert_eq!(
            closest("sticky-vs-rediss", &["sticky-vs-redis", "sticky-crash"]),
            Some("sticky-vs-redis")
        );
        assert_eq!(closest("banana", &["users", "arrival"]), None);
        assert_eq!(article("exponential"), "an");
        assert_eq!(article("lognormal"), "a");
    }
}
