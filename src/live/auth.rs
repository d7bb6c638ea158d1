//! Who may talk to the servers lbsim starts, and keeping secrets out of
//! what lbsim prints and writes.
//!
//! A redis-server that listens without a password can be reached by every
//! account on the machine, even on 127.0.0.1, and an unauthenticated client
//! can then `CONFIG SET dir /somewhere` + `CONFIG SET dbfilename x` + `SAVE`
//! to write a file anywhere as the user running lbsim (often root in CI):
//! the attack Redis's own security page describes ("Redis security",
//! redis.io/docs/latest/operate/oss_and_stack/management/security/) and the
//! reason `protected-mode` exists. So every server, replica, Sentinel and
//! cluster node lbsim starts:
//! - requires a password drawn afresh for each lbsim process
//!   (`requirepass`; replicas authenticate to their primary with
//!   `masterauth`, Sentinels to the servers with `sentinel auth-pass` and to
//!   each other with the shared `requirepass`, which `sentinelSendAuthIfNeeded`
//!   in `sentinel.c` uses for both directions when no `sentinel-pass` is set);
//! - reads it from a configuration file in its own 0700 folder, never from
//!   the command line, which `/proc/<pid>/cmdline` would show to everyone
//!   until Redis rewrites its process title;
//! - has `CONFIG` renamed to a second secret (`rename-command`), not removed:
//!   Sentinel's failover sends `MULTI`, `SLAVEOF`, `CONFIG REWRITE`, `EXEC`
//!   (`sentinelSendSlaveOf` in `sentinel.c`), and a command removed from the
//!   server would make the whole transaction fail at `EXEC`; Sentinel is
//!   told the new name with `sentinel rename-command`. lbsim itself never
//!   sends `CONFIG`. `DEBUG` and `MODULE` are already off by default since
//!   Redis 7.0 (`enable-debug-command`, `enable-module-command`).
//!
//! The password goes to lbsim's clients inside their URLs and nowhere else:
//! every URL that reaches a message, a log line or a result file goes
//! through [`redact`] first, the user's own `--redis-url` included.

use std::sync::OnceLock;

/// The secrets of this lbsim process.
struct Secrets {
    /// The `requirepass` of every server lbsim starts.
    password: String,
    /// What `CONFIG` is renamed to.
    config_command: String,
}

fn secrets() -> &'static Secrets {
    static SECRETS: OnceLock<Secrets> = OnceLock::new();
    SECRETS.get_or_init(|| Secrets {
        password: random_hex(),
        config_command: format!("CONFIG-{}", random_hex()),
    })
}

/// 128 random bits in hex, from `rand`'s thread generator: ChaCha12
/// seeded from the operating system, documented by `rand` as
/// cryptographically secure (unlike the simulator's seeded SplitMix64).
fn random_hex() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The password of the servers lbsim starts.
pub fn password() -> &'static str {
    &secrets().password
}

/// The configuration lines every redis-server (primary, replica, cluster
/// node) lbsim starts reads from its private file.
pub fn server_config() -> String {
    let s = secrets();
    format!(
        "requirepass {password}\nmasterauth {password}\nrename-command CONFIG {config}\n",
        password = s.password,
        config = s.config_command
    )
}

/// The lines appended to each Sentinel's configuration, after its
/// `sentinel monitor <master>` line, which they refer to.
pub fn sentinel_config(master: &str) -> String {
    let s = secrets();
    format!(
        "requirepass {password}\n\
         sentinel auth-pass {master} {password}\n\
         sentinel rename-command {master} CONFIG {config}\n",
        password = s.password,
        config = s.config_command
    )
}

/// The URL of a server lbsim started on `port`, with the password.
pub fn local_url(port: u16) -> String {
    format!("redis://:{}@127.0.0.1:{port}/", password())
}

/// `url` with its password (and user name) replaced by `***`, for
/// messages and files: `redis://alice:s3cret@host:6379/0` becomes
/// `redis://***@host:6379/0`. Anything that is not a URL with
/// credentials comes back unchanged.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    // The credentials end at the last '@' before the path: a password may
    // itself hold '@' (percent-encoding is optional in practice).
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***{}", &rest[at..]),
        None => url.to_string(),
    }
}

/// `text` with every occurrence of this run's password and of the
/// credentials of `urls` replaced by `***`: for error messages that come
/// from a client library, which may quote what it was given.
pub fn scrub(text: &str, urls: &[&str]) -> String {
    let mut text = text.replace(password(), "***");
    for url in urls {
        if let Some(secret) = credentials(url) {
            text = text.replace(url, &redact(url));
            if !secret.is_empty() {
                text = text.replace(secret, "***");
            }
        }
    }
    text
}

/// The `user:password` part of a URL, if it has one.
fn credentials(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let at = rest[..authority_end].rfind('@')?;
    Some(&rest[..at])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_hides_user_and_password() {
        assert_eq!(
            redact("redis://alice:s3cret@db.example:6380/2"),
            "redis://***@db.example:6380/2"
        );
        assert_eq!(redact("rediss://:p@ss@host/"), "rediss://***@host/");
        assert_eq!(redact("redis://127.0.0.1:6379/"), "redis://127.0.0.1:6379/");
        assert_eq!(redact("not a url"), "not a url");
        // An '@' in the path is not a credential separator.
        assert_eq!(redact("redis://host/0@x"), "redis://host/0@x");
    }

    #[test]
    fn scrubbing_removes_passwords_from_library_messages() {
        let url = "redis://bob:hunter2@h:1/";
        let message = format!("failed on {url}: bad password hunter2; {}", local_url(7));
        let clean = scrub(&message, &[url]);
        assert!(!clean.contains("hunter2"), "{clean}");
        assert!(!clean.contains(password()), "{clean}");
        assert!(clean.contains("redis://***@h:1/"), "{clean}");
    }

    #[test]
    fn each_process_has_a_long_random_password() {
        assert_eq!(password().len(), 32);
        assert!(password().chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(password(), secrets().config_command);
    }
}
