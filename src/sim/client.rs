//! The app's Redis client during an outage: fail at once, or hold the
//! commands and reconnect as Lettuce does.
//!
//! Spring Boot's default Redis client is Lettuce. When its connection
//! closes, Lettuce keeps accepting commands and buffers them
//! (`ClientOptions.DEFAULT_AUTO_RECONNECT = true`,
//! `DEFAULT_DISCONNECTED_BEHAVIOR = DisconnectedBehavior.DEFAULT`: accept
//! while auto-reconnect is on; commands already sent are queued again,
//! `DefaultEndpoint.notifyDrainQueuedCommands`), reconnects in the
//! background and sends the buffer once connected. Every command fails
//! after the command timeout, counted from when it was issued: 60 s
//! (`RedisURI.DEFAULT_TIMEOUT`), which Spring Data Redis keeps
//! (`LettuceClientConfiguration`: `timeout = Duration.ofSeconds(RedisURI.DEFAULT_TIMEOUT)`)
//! unless `spring.data.redis.timeout` is set. So an outage shows as
//! requests that hang, and it lasts until the client reconnects, which can
//! be well after Redis is back.
//!
//! The reconnect schedule is `ConnectionWatchdog.scheduleReconnect`:
//! attempt `k` (from 1, reset by a successful connection) waits
//! `Delay.exponential()`, that is `2^(k-1)` ms bounded to `[0, 30 s]`
//! (`ExponentialDelay.calculatePowerOfTwo`, `Delay.DEFAULT_UPPER_BOUND`),
//! then connects; a refused connection schedules the next attempt at once.
//! So attempts fall at 1, 3, 7, ... `2^k - 1` ms after the disconnection: a
//! Redis that is back after 10 s is reconnected to after 16.4 s.
//!
//! How the client learns of the outage depends on how Redis went:
//! - the process died or shut down: the kernel closes its sockets, Lettuce
//!   sees the channel go inactive at once and starts the schedule;
//! - the host died (or the network was cut): nothing closes. Commands sit
//!   in the TCP send buffer, which the kernel retransmits with a doubling
//!   timeout from `TCP_RTO_MIN` (200 ms, `include/net/tcp.h`) up to
//!   `TCP_RTO_MAX` (120 s); keepalive is off (`SocketOptions`). A cut
//!   network delivers them at the first retransmission after it heals. A
//!   rebooted host answers that retransmission with a reset (it knows no
//!   such connection): then Lettuce reconnects as above.
//!
//! A command that gets an error reply (`-LOADING` while Redis loads its
//! data, `-NOREPLICAS`) fails at once under either policy: Lettuce does not
//! retry errors. Lettuce's cluster client (topology refresh, redirections)
//! is not modelled: the validator refuses `client = "lettuce"` with shards.

use super::time::{SimDuration, SimTime};

/// What the app's client does while the store cannot be reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientPolicy {
    /// Every command fails at once while Redis cannot be reached: the
    /// request is an error at about the time it was sent.
    FailFast,
    /// Lettuce's defaults: hold the commands, reconnect with a capped
    /// exponential backoff, fail a command `command_timeout` after it was
    /// issued.
    Lettuce { command_timeout: SimDuration },
}

impl ClientPolicy {
    /// Lettuce's command timeout, `RedisURI.DEFAULT_TIMEOUT`.
    pub const LETTUCE_COMMAND_TIMEOUT: SimDuration = SimDuration::from_secs(60);

    /// How long a fail-fast client waits for a reply from a connected
    /// Redis: 2 s, Jedis's default socket timeout (`Protocol.
    /// DEFAULT_TIMEOUT = 2000`, which Spring Boot keeps unless
    /// `spring.data.redis.timeout` is set), and the response timeout of
    /// the live driver's and the stack app servers' connections
    /// (`live::spring_session`).
    pub const FAIL_FAST_RESPONSE_TIMEOUT: SimDuration = SimDuration::from_secs(2);

    pub fn name(self) -> &'static str {
        match self {
            ClientPolicy::FailFast => "fail_fast",
            ClientPolicy::Lettuce { .. } => "lettuce",
        }
    }

    /// How long a command sent on an open connection may wait for its
    /// reply before the client fails it (Lettuce: the command timeout).
    /// Only a connection held by `WAIT`s makes a reply wait that long
    /// (`sim::store::redis::connection`).
    pub fn response_timeout(self) -> SimDuration {
        match self {
            ClientPolicy::FailFast => Self::FAIL_FAST_RESPONSE_TIMEOUT,
            ClientPolicy::Lettuce { command_timeout } => command_timeout,
        }
    }
}

/// Lettuce's reconnect delay before attempt `attempt` (from 1):
/// `2^(attempt-1)` ms, at most 30 s (`ExponentialDelay`).
pub fn reconnect_delay(attempt: u32) -> SimDuration {
    const UPPER_MS: u64 = 30_000;
    let ms = if attempt >= 16 {
        UPPER_MS
    } else {
        (1u64 << attempt.saturating_sub(1)).min(UPPER_MS)
    };
    SimDuration::from_millis(ms)
}

/// When data the kernel first sent at `sent` (and could not deliver)
/// reaches a peer that is reachable again from `reachable`: the first
/// retransmission at or after it. Linux retransmits after 200 ms
/// (`TCP_RTO_MIN`, the floor of the timeout on a fast link), doubling each
/// time up to 120 s (`TCP_RTO_MAX`; `tcp_retransmit_timer` in
/// `net/ipv4/tcp_timer.c`).
pub fn first_retransmission(sent: SimTime, reachable: SimTime) -> SimTime {
    let max = SimDuration::from_secs(120);
    let mut rto = SimDuration::from_millis(200);
    let mut at = sent + rto;
    while at < reachable {
        rto = (rto + rto).min(max);
        at += rto;
    }
    at
}

/// The client's connection to the store, as every app server's client
/// sees it: they all lose it at the same moment (the store went down), so
/// one schedule serves them all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Connection {
    Open,
    /// Closed by the peer: reconnect attempt `attempt` is due at `next`.
    Reconnecting {
        attempt: u32,
        next: SimTime,
    },
    /// Dead without a word since `since` (the host died): commands wait in
    /// the send buffer.
    Silent {
        since: SimTime,
    },
}

/// The app's store client: its policy and its connection.
#[derive(Clone, Debug)]
pub struct Client {
    policy: ClientPolicy,
    connection: Connection,
}

impl Client {
    pub fn new(policy: ClientPolicy) -> Self {
        Client {
            policy,
            connection: Connection::Open,
        }
    }

    /// How long a held command may wait, if the client holds commands.
    pub fn command_timeout(&self) -> Option<SimDuration> {
        match self.policy {
            ClientPolicy::FailFast => None,
            ClientPolicy::Lettuce { command_timeout } => Some(command_timeout),
        }
    }

    /// True unless the client has lost its connection.
    pub fn is_open(&self) -> bool {
        self.connection == Connection::Open
    }

    /// The store closed the connection at `now` (its process died or shut
    /// down): the reconnect schedule starts, unless it already runs.
    pub fn closed(&mut self, now: SimTime) {
        if self.command_timeout().is_none() {
            return;
        }
        if let Connection::Open | Connection::Silent { .. } = self.connection {
            self.connection = Connection::Reconnecting {
                attempt: 1,
                next: now + reconnect_delay(1),
            };
        }
    }

    /// The store's host died at `now`: the connection is dead, and nothing
    /// tells the client.
    pub fn went_silent(&mut self, now: SimTime) {
        if self.command_timeout().is_some() && self.connection == Connection::Open {
            self.connection = Connection::Silent { since: now };
        }
    }

    /// The store's host is reachable again from `now`: the next
    /// retransmission gets a reset, which closes the connection.
    pub fn peer_back(&mut self, now: SimTime) {
        if let Connection::Silent { since } = self.connection {
            self.closed(first_retransmission(since, now));
        }
    }

    /// When the next reconnect attempt is due, if one is.
    pub fn due(&self) -> Option<SimTime> {
        match self.connection {
            Connection::Reconnecting { next, .. } => Some(next),
            Connection::Open | Connection::Silent { .. } => None,
        }
    }

    /// The attempt due at `now` connected (`accepted`) or was refused; a
    /// refusal schedules the next one.
    pub fn attempted(&mut self, now: SimTime, accepted: bool) {
        if let Connection::Reconnecting { attempt, .. } = self.connection {
            self.connection = if accepted {
                Connection::Open
            } else {
                Connection::Reconnecting {
                    attempt: attempt + 1,
                    next: now + reconnect_delay(attempt + 1),
                }
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_millis(ms)
    }

    #[test]
    fn reconnect_attempts_fall_at_powers_of_two_minus_one_milliseconds() {
        let lettuce = ClientPolicy::Lettuce {
            command_timeout: ClientPolicy::LETTUCE_COMMAND_TIMEOUT,
        };
        let mut client = Client::new(lettuce);
        client.closed(at(0));
        let mut attempts = Vec::new();
        while let Some(next) = client.due() {
            if next > at(100_000) {
                break;
            }
            attempts.push(next.since(SimTime::ZERO).as_nanos() / 1_000_000);
            client.attempted(next, false);
        }
        // 1, 3, 7, ... 16383, 32767 ms, then 30 s apart (the upper bound).
        assert_eq!(&attempts[..4], &[1, 3, 7, 15]);
        assert_eq!(attempts[14], 32_767);
        assert_eq!(attempts[15], 62_767);
        assert_eq!(attempts[16], 92_767);
        client.attempted(at(92_767), true);
        assert!(client.is_open());
        assert_eq!(client.due(), None);
    }

    #[test]
    fn fail_fast_never_holds_or_reconnects() {
        let mut client = Client::new(ClientPolicy::FailFast);
        client.closed(at(0));
        client.went_silent(at(0));
        assert_eq!(client.command_timeout(), None);
        assert_eq!(client.due(), None);
        assert!(client.is_open());
    }

    #[test]
    fn a_silent_host_is_noticed_at_the_first_retransmission_after_it_returns() {
        // Retransmissions 0.2, 0.6, 1.4, 3.0, 6.2, 12.6 s after the crash.
        assert_eq!(first_retransmission(at(0), at(5_000)), at(6_200));
        assert_eq!(first_retransmission(at(0), at(6_200)), at(6_200));
        assert_eq!(first_retransmission(at(0), at(0)), at(200));
        let mut client = Client::new(ClientPolicy::Lettuce {
            command_timeout: ClientPolicy::LETTUCE_COMMAND_TIMEOUT,
        });
        client.went_silent(at(0));
        assert_eq!(client.due(), None);
        client.peer_back(at(10_000));
        // The reset at 12.6 s, then attempt 1 a millisecond later.
        assert_eq!(client.due(), Some(at(12_601)));
    }
}
