//! Stateless sessions in a signed cookie (`store = "cookie"` on the stack):
//! the session itself travels in the `SESSION` cookie, signed with a key
//! every app server of the farm shares, so no server holds anything a
//! crash, a scale-in or a deploy could lose (`sim::store::cookie` is the
//! model).
//!
//! The shape follows the stores people use: Rails' `CookieStore` and
//! Express's `cookie-session` sign a serialized session with HMAC-SHA256
//! and refuse a cookie whose signature does not match; a JWT puts the
//! same two parts side by side. Here the value is
//! `base64url(payload) "." base64url(HMAC-SHA256(key, payload))`, the
//! payload `id|created_ms|last_access_ms|user`. The sliding TTL is the
//! payload's own `last_access_ms`, renewed (and the cookie re-signed and
//! sent again) on every page, as `cookie-session` does when a session is
//! touched; a cookie older than the TTL is refused, whatever the browser
//! says of its own expiry. Times are epoch milliseconds, so every process
//! on the machine reads them alike.
//!
//! Simplified, and said in the README: no encryption (Rails 5+ encrypts
//! too; a student may read their cookie, not change it), one key with no
//! rotation, and what every cookie store lacks: no revocation before the
//! TTL.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;

use super::view::SessionView;

/// The environment variable that carries the farm's signing key (hex), so
/// that it is never on a command line other accounts can read.
pub const COOKIE_KEY_ENV: &str = "LBSIM_APP_COOKIE_KEY";

/// What a cookie said, once checked.
#[derive(Debug, PartialEq, Eq)]
pub enum Opened {
    /// Signed by the farm's key and not expired: the session, its id, and
    /// when it was last used (epoch ms).
    Valid {
        id: String,
        view: SessionView,
        last_access_ms: u64,
    },
    /// Signed by the farm's key, but older than the TTL.
    Expired,
    /// Not a cookie of this farm: malformed, or its signature does not
    /// match (changed by hand, or signed with another key).
    Forged,
}

/// The farm's signing key and the session TTL.
pub struct SignedCookies {
    key: hmac::Key,
    ttl_ms: u64,
}

impl SignedCookies {
    /// `key_hex`: the farm's secret, hex; at least 16 bytes.
    pub fn new(key_hex: &str, ttl_ms: u64) -> Result<Self, String> {
        let bytes = decode_hex(key_hex).ok_or("the cookie key is not hex")?;
        if bytes.len() < 16 {
            return Err("the cookie key is shorter than 16 bytes".into());
        }
        Ok(SignedCookies {
            key: hmac::Key::new(hmac::HMAC_SHA256, &bytes),
            ttl_ms: ttl_ms.max(1),
        })
    }

    /// A new random key, hex, for a farm's app servers to share.
    pub fn random_key() -> String {
        let bytes: [u8; 32] = rand::random();
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The cookie value for session `id` of `view`, last used at
    /// `last_access_ms`.
    pub fn seal(&self, id: &str, view: &SessionView, last_access_ms: u64) -> String {
        let payload = format!("{id}|{}|{last_access_ms}|{}", view.created_ms, view.user);
        let tag = hmac::sign(&self.key, payload.as_bytes());
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(tag.as_ref())
        )
    }

    /// Checks `value` at `now_ms`: its signature first (in constant time,
    /// `ring::hmac::verify`), then its age.
    pub fn open(&self, value: &str, now_ms: u64) -> Opened {
        let Some((payload, tag)) = value.split_once('.') else {
            return Opened::Forged;
        };
        let (Ok(payload), Ok(tag)) = (URL_SAFE_NO_PAD.decode(payload), URL_SAFE_NO_PAD.decode(tag))
        else {
            return Opened::Forged;
        };
        if hmac::verify(&self.key, &payload, &tag).is_err() {
            return Opened::Forged;
        }
        let Some((id, view, last_access_ms)) = parse_payload(&payload) else {
            return Opened::Forged;
        };
        if now_ms.saturating_sub(last_access_ms) >= self.ttl_ms {
            return Opened::Expired;
        }
        Opened::Valid {
            id,
            view,
            last_access_ms,
        }
    }
}

/// The session id a signed cookie names, read without the key (the
/// payload is signed, not secret): what a client that keeps a jar learns
/// of its session.
pub fn id_in(value: &str) -> Option<String> {
    let (payload, _) = value.split_once('.')?;
    let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
    parse_payload(&payload).map(|(id, _, _)| id)
}

fn parse_payload(payload: &[u8]) -> Option<(String, SessionView, u64)> {
    let text = std::str::from_utf8(payload).ok()?;
    let mut parts = text.splitn(4, '|');
    let id = parts.next()?.to_string();
    let created_ms = parts.next()?.parse().ok()?;
    let last_access_ms = parts.next()?.parse().ok()?;
    let user = parts.next()?.to_string();
    Some((id, SessionView { user, created_ms }, last_access_ms))
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> SessionView {
        SessionView {
            user: "alice|admin".into(),
            created_ms: 1_000,
        }
    }

    #[test]
    fn a_sealed_cookie_opens_until_the_ttl_runs_out() {
        let cookies = SignedCookies::new(&SignedCookies::random_key(), 60_000).unwrap();
        let value = cookies.seal("id-1", &view(), 2_000);
        assert_eq!(id_in(&value).as_deref(), Some("id-1"));
        assert_eq!(
            cookies.open(&value, 61_999),
            Opened::Valid {
                id: "id-1".into(),
                view: view(),
                last_access_ms: 2_000
            }
        );
        // A sliding TTL: expired exactly `ttl` after the last access, as
        // `sim::store::is_expired` judges it.
        assert_eq!(cookies.open(&value, 62_000), Opened::Expired);
    }

    #[test]
    fn a_changed_cookie_or_another_farms_key_is_forged() {
        let key = SignedCookies::random_key();
        let cookies = SignedCookies::new(&key, 60_000).unwrap();
        let value = cookies.seal("id-1", &view(), 2_000);
        // The user rewrites the payload: a later last access, another name.
        let (_, tag) = value.split_once('.').unwrap();
        let forged = format!(
            "{}.{tag}",
            URL_SAFE_NO_PAD.encode("id-1|1000|9999999|mallory")
        );
        assert_eq!(cookies.open(&forged, 3_000), Opened::Forged);
        let other = SignedCookies::new(&SignedCookies::random_key(), 60_000).unwrap();
        assert_eq!(other.open(&value, 3_000), Opened::Forged);
        assert_eq!(cookies.open("not a cookie", 3_000), Opened::Forged);
        assert!(SignedCookies::new("abc", 1).is_err());
        assert!(SignedCookies::new(&key[..30], 1).is_err());
    }
}
