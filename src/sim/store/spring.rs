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

/// Fields a login's `HMSET` writes: three of Spring's own, four attributes.
pub const LOGIN_FIELDS: u64 = 7;

/// Commands a login sends: `HMSET` (7 fields), `PEXPIREAT`.
pub const LOGIN_COMMANDS: u32 = 2;

/// Commands a page request sends: `HGETALL`, `EXISTS`, `HMSET`
/// (`lastAccessedTime`), `PEXPIREAT`.
pub const PAGE_COMMANDS: u32 = 4;

/// Commands of a page request whose session was not found: just the
/// `HGETALL` (nothing to save).
pub const MISSING_COMMANDS: u32 = 1;

/// What a login adds to Redis's `dirty` counter: `hsetCommand` adds one
/// per field it sets (`server.dirty += (c->argc - 2)/2` in `t_hash.c`),
/// `PEXPIREAT` one (`expireGenericCommand` in `expire.c`).
pub const LOGIN_DIRTY: u64 = LOGIN_FIELDS + 1;

/// What a page request adds: one field and one expiry (`HGETALL` and
/// `EXISTS` change nothing).
pub const PAGE_DIRTY: u64 = 2;
