//! `--set KEY=V1,V2,...`: which scenario key a sweep varies, the values it
//! takes, and how one value is written into the scenario's TOML.
//!
//! Owns: reading the flag and editing a parsed `toml::Table`. Must not:
//! judge whether a value makes sense. That is the scenario parser's job, so
//! a swept scenario is checked by exactly the rules that check a file, and
//! a value the parser would reject in a file is rejected here too.

use toml::{Table, Value};

/// One `--set` flag: a key of the scenario file and the values to try.
#[derive(Clone, Debug)]
pub struct Setting {
    /// The key as the user wrote it (`servers.count`, `strategy[0].name`);
    /// it names the CSV column and appears in error messages.
    pub key: String,
    /// The key split into table keys and array indexes.
    path: Vec<Step>,
    /// The values to try, in the order given.
    pub values: Vec<Value>,
}

/// One step of a key: a table key or an index into an array (of tables).
#[derive(Clone, Debug, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

impl Setting {
    /// Reads `KEY=V1,V2,...`. Values are split on commas that are outside
    /// quotes, brackets and braces, so `[1, 2]` and `{ ramp = "1m" }` stay
    /// whole. Each value is read as a TOML value (`8`, `0.5`, `true`,
    /// `"text"`, `{ ramp = "1m" }`); a bare word that is not one, such as
    /// `aof` or `2m`, is taken as a string, so durations need no quotes.
    pub fn parse(flag: &str) -> Result<Setting, String> {
        let (key, values) = flag
            .split_once('=')
            .ok_or_else(|| format!("--set {flag}: expected KEY=V1,V2,..."))?;
        let key = key.trim();
        let path = parse_key(key).map_err(|message| format!("--set {flag}: {message}"))?;
        let values = split_values(values)
            .into_iter()
            .map(parse_value)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|message| format!("--set {flag}: {message}"))?;
        Ok(Setting {
            key: key.to_string(),
            path,
            values,
        })
    }

    /// Writes `value` at this setting's key in `table`. A missing last key
    /// is added, and so are missing tables on the way (`session.ttl` in a
    /// file without `[session]`): the scenario parser rejects unknown keys,
    /// so a misspelt key still fails, with the parser's message. Arrays are
    /// never created or extended: `strategy[3]` must exist.
    pub fn apply(&self, table: &mut Table, value: &Value) -> Result<(), String> {
        let mut root = Value::Table(std::mem::take(table));
        let result = self.apply_to(&mut root, value);
        match root {
            Value::Table(edited) => *table = edited,
            _ => unreachable!("the root stays a table"),
        }
        result
    }

    fn apply_to(&self, root: &mut Value, value: &Value) -> Result<(), String> {
        let fail = |message: String| format!("--set {}: {message}", self.key);
        let mut here = root;
        // The part of the key walked so far, for messages.
        let mut walked = String::new();
        for (i, step) in self.path.iter().enumerate() {
            let next = self.path.get(i + 1);
            here = match (step, here) {
                (Step::Key(key), Value::Table(table)) => {
                    push_key(&mut walked, key);
                    match next {
                        None => {
                            table.insert(key.clone(), value.clone());
                            return Ok(());
                        }
                        Some(Step::Index(_)) => table
                            .get_mut(key)
                            .ok_or_else(|| fail(format!("there is no `{walked}` in the file")))?,
                        Some(Step::Key(_)) => table
                            .entry(key.clone())
                            .or_insert_with(|| Value::Table(Table::new())),
                    }
                }
                (Step::Index(index), Value::Array(array)) => {
                    let len = array.len();
                    let slot = array.get_mut(*index).ok_or_else(|| {
                        fail(format!(
                            "`{walked}` has {len} entries, so there is no `{walked}[{index}]`"
                        ))
                    })?;
                    walked.push_str(&format!("[{index}]"));
                    if next.is_none() {
                        *slot = value.clone();
                        return Ok(());
                    }
                    slot
                }
                (step, other) => {
                    let wanted = match step {
                        Step::Key(_) => "a table",
                        Step::Index(_) => "an array",
                    };
                    return Err(fail(format!("`{walked}` is {}, not {wanted}", kind(other))));
                }
            };
        }
        unreachable!("the last step returns")
    }
}

fn push_key(walked: &mut String, key: &str) {
    if !walked.is_empty() {
        walked.push('.');
    }
    walked.push_str(key);
}

/// "an integer", "a string", … for messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    }
}

/// Splits `servers.count` or `strategy[0].redis.persistence` into steps.
/// Keys are TOML bare keys (letters, digits, `_`, `-`), which is every key
/// a scenario file has.
fn parse_key(key: &str) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    for segment in key.split('.') {
        let (name, mut rest) = segment.split_at(segment.find('[').unwrap_or(segment.len()));
        let bare = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        if name.is_empty() || !name.chars().all(bare) {
            return Err(format!(
                "`{key}` is not a key such as servers.count or strategy[0].name"
            ));
        }
        steps.push(Step::Key(name.to_string()));
        while !rest.is_empty() {
            let index = rest
                .strip_prefix('[')
                .and_then(|r| r.split_once(']'))
                .and_then(|(digits, after)| Some((digits.parse::<usize>().ok()?, after)));
            match index {
                Some((index, after)) => {
                    steps.push(Step::Index(index));
                    rest = after;
                }
                None => return Err(format!("`{key}`: an index is written [0], [1], ...")),
            }
        }
    }
    Ok(steps)
}

/// Splits on commas outside quotes, brackets and braces.
fn split_values(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut quote, mut escaped, mut start) = (0i32, None, false, 0);
    for (i, c) in text.char_indices() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' && q == '"' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '"' | '\'' => quote = Some(c),
                '[' | '{' => depth += 1,
                ']' | '}' => depth -= 1,
                ',' if depth == 0 => {
                    parts.push(&text[start..i]);
                    start = i + 1;
                }
                _ => {}
            },
        }
    }
    parts.push(&text[start..]);
    parts
}

/// One value: a TOML value if it is one, else a bare word taken as a string.
fn parse_value(text: &str) -> Result<Value, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("an empty value (values are separated by commas)".into());
    }
    match text.parse::<Value>() {
        Ok(value) => Ok(value),
        // Something that starts like a quoted string, array or table but
        // does not parse is a typo, not a bare word.
        Err(err) if text.starts_with(['"', '\'', '[', '{']) => Err(format!(
            "`{text}` is not a valid TOML value: {}",
            err.message().trim()
        )),
        Err(_) => Ok(Value::String(text.to_string())),
    }
}

/// How a value is shown in `sweep.csv`, the plot and messages: strings
/// without quotes, everything else as TOML writes it.
pub fn label(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> Table {
        text.parse().unwrap()
    }

    #[test]
    fn values_are_toml_or_bare_strings() {
        let s = Setting::parse("k=2, 0.5,true,aof,2m,\"a,b\",[1, 2],{ ramp = \"1m\" }").unwrap();
        let labels: Vec<String> = s.values.iter().map(label).collect();
        assert_eq!(
            labels,
            [
                "2",
                "0.5",
                "true",
                "aof",
                "2m",
                "a,b",
                "[1, 2]",
                "{ ramp = \"1m\" }"
            ]
        );
        assert_eq!(s.values[0], Value::Integer(2));
        assert_eq!(s.values[3], Value::String("aof".into()));
    }

    #[test]
    fn malformed_flags_are_refused() {
        for flag in [
            "servers.count",
            "servers.count=",
            "a..b=1",
            "a[x]=1",
            "k=1,,2",
            "k=\"open",
        ] {
            assert!(Setting::parse(flag).is_err(), "{flag}");
        }
    }

    #[test]
    fn keys_reach_tables_array_entries_and_new_keys() {
        let mut t =
            table("[servers]\ncount = 2\n[[strategy]]\nname = \"a\"\n[[strategy]]\nname = \"b\"\n");
        let set = |t: &mut Table, flag: &str| {
            let s = Setting::parse(flag).unwrap();
            s.apply(t, &s.values[0])
        };
        set(&mut t, "servers.count=8").unwrap();
        set(&mut t, "servers.workers=4").unwrap();
        set(&mut t, "strategy[1].name=c").unwrap();
        set(&mut t, "strategy[1].redis.persistence=aof").unwrap();
        set(&mut t, "session.ttl=5m").unwrap();
        assert_eq!(t["servers"]["count"], Value::Integer(8));
        assert_eq!(t["servers"]["workers"], Value::Integer(4));
        assert_eq!(t["strategy"][1]["name"], Value::String("c".into()));
        assert_eq!(
            t["strategy"][1]["redis"]["persistence"],
            Value::String("aof".into())
        );
        assert_eq!(t["session"]["ttl"], Value::String("5m".into()));

        assert!(
            set(&mut t, "strategy[2].name=x")
                .unwrap_err()
                .contains("has 2 entries")
        );
        assert!(
            set(&mut t, "servers.count.x=1")
                .unwrap_err()
                .contains("an integer")
        );
        assert!(
            set(&mut t, "fault[0].at=1m")
                .unwrap_err()
                .contains("no `fault`")
        );
    }
}
