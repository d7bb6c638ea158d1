//! The Redis commands Spring Session sends for each request, as
//! `RedisSessionRepository` (spring-session 3.x, the repository Spring
//! Boot 3 configures by default) sends them through a plain `RedisTemplate`:
//! one command, one round trip, no pipeline (each template call blocks on
//! Lettuce's future).
//!
//! - A login creates the session and saves it at the end of the request:
//!   `createSession` sends nothing; `save` of a new session writes its
//!   delta in one `HMSET` (`creationTime`, `lastAccessedTime`,
//!   `maxInactiveInterval` and one `sessionAttr:<name>` per attribute;
//!   lbsim's sessions carry four) and sets the expiry with `PEXPIREAT`
//!   (`RedisSession.saveDelta`).
//! - A page request loads the session (`findById`: `HGETALL`) and, at the
//!   end of the request, saves it: `save` first checks that the key still
//!   exists (`hasKey`: `EXISTS`; if it does not, Spring throws "Session was
//!   invalidated", a 500), then `HMSET lastAccessedTime` and `PEXPIREAT`.
//!
//! lbsim's model of Redis answers the lookup and the write at once; the
//! number of commands sets the request's time in Redis (one round trip
//! each, unless the scenario pipelines them) and Redis's own counters (the
//! `dirty` count its save points watch, the size of its AOF).

use crate::sim::SessionId;
use crate::sim::rng::mix;

/// Fields a login's `HMSET` writes: three of Spring's own, four attributes.
pub const LOGIN_FIELDS: u64 = 7;

/// Commands a login sends: `HMSET` (7 fields), `PEXPIREAT`.
pub const LOGIN_COMMANDS: u8 = 2;

/// Commands a page request sends: `HGETALL`, `EXISTS`, `HMSET`
/// (`lastAccessedTime`), `PEXPIREAT`.
pub const PAGE_COMMANDS: u8 = 4;

/// Commands of a page request whose session was not found: just the
/// `HGETALL` (nothing to save).
pub const MISSING_COMMANDS: u8 = 1;

/// Commands of a page request whose session vanished between the read and
/// the save: `HGETALL`, then the `EXISTS` that finds nothing (Spring throws
/// before writing).
pub const INVALIDATED_COMMANDS: u8 = 2;

/// Write commands of a login or a page request's save (`HMSET`,
/// `PEXPIREAT`): sent one by one, each is answered after its own fsync
/// under `appendfsync always`.
pub const WRITE_COMMANDS: u8 = 2;

/// What a login adds to Redis's `dirty` counter: `hsetCommand` adds one
/// per field it sets (`server.dirty += (c->argc - 2)/2` in `t_hash.c`),
/// `PEXPIREAT` one (`expireGenericCommand` in `expire.c`).
pub const LOGIN_DIRTY: u64 = LOGIN_FIELDS + 1;

/// What a page request adds: one field and one expiry (`HGETALL` and
/// `EXISTS` change nothing).
pub const PAGE_DIRTY: u64 = 2;

/// A UUID-shaped session id, as Spring's `UuidSessionIdGenerator` makes
/// them (version-4 layout), derived from a tag and lbsim's numeric id: the
/// key live mode writes, and the one whose slot the model of a cluster
/// computes (with the scenario's seed as the tag, the same users' keys
/// land on the same shard in both).
pub fn session_uuid(tag: u64, session: SessionId) -> [u8; 36] {
    let hi = mix(tag ^ session.0);
    let lo = mix(hi ^ session.0.rotate_left(17));
    let mut out = [0u8; 36];
    let mut put = |from: usize, digits: usize, value: u64| {
        for k in 0..digits {
            let nibble = (value >> (4 * (digits - 1 - k))) & 0xf;
            out[from + k] = b"0123456789abcdef"[nibble as usize];
        }
    };
    put(0, 8, hi >> 32);
    put(9, 4, (hi >> 16) & 0xffff);
    put(14, 4, 0x4000 | (hi & 0xfff));
    put(19, 4, 0x8000 | ((lo >> 48) & 0x3fff));
    put(24, 12, lo & 0xffff_ffff_ffff);
    for dash in [8, 13, 18, 23] {
        out[dash] = b'-';
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_are_version_4_uuids() {
        let id = session_uuid(7, SessionId(42));
        let text = std::str::from_utf8(&id).unwrap();
        let parts: Vec<&str> = text.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'));
        assert!("89ab".contains(&parts[3][..1]));
        assert_ne!(session_uuid(7, SessionId(43)), id);
        assert_ne!(session_uuid(8, SessionId(42)), id);
    }
}
