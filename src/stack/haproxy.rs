//! HAProxy's configuration for one strategy: the real counterpart of each
//! balancer model in `sim::balancer`, written from the same settings.
//!
//! References are to the HAProxy 2.6 Configuration Manual (Debian 12's
//! `haproxy` package), section 4 "Proxies":
//! - `balance roundrobin | leastconn | source | random(2)`; `hash-type
//!   consistent` with `balance source` for `consistent_hash` (the default
//!   `hash-type map-based` for `source`);
//! - sticky sessions: `cookie SERVERID insert indirect nocache` with a
//!   `cookie <name>` per server (4.2 "cookie"): a user's first request is
//!   placed round-robin, as `sim::balancer::sticky` says;
//! - health checks: `option httpchk GET /health` and `check inter <ms>
//!   fall <n> rise <n>` per server (5.2 "inter", "fall", "rise");
//! - `retries`, `option redispatch` and `timeout connect` from the
//!   scenario's `[servers]` keys `retries`, `redispatch` and
//!   `timeout_connect` (`sim::config::RetryPolicy`).
//!
//! Every time is wall time: the scenario's divided by the time scale, as
//! the rest of the stack runs compressed.

use std::fmt::Write as _;
use std::path::Path;

use crate::sim::config::{FaultKind, Scenario, Strategy};
use crate::sim::time::SimDuration;

/// The HAProxy `balance` line for a balancer model, or `None` when HAProxy
/// has no counterpart (nginx's `ip_hash`).
pub fn balance(balancer: &str) -> Option<&'static str> {
    Some(match balancer {
        "round_robin" | "sticky" => "balance roundrobin",
        "least_connections" => "balance leastconn",
        "source" => "balance source",
        "consistent_hash" => "balance source\n    hash-type consistent",
        // "random(<draws>)": the least loaded of <draws> random servers,
        // the power of two choices with 2.
        "power_of_two" => "balance random(2)",
        _ => return None,
    })
}

/// Where the generated configuration puts things.
pub struct Ports<'a> {
    /// The frontend users connect to.
    pub frontend: u16,
    /// The statistics page.
    pub stats: u16,
    /// The app servers, by index.
    pub servers: &'a [u16],
    /// Server slots declared after them, `disabled` (in maintenance) at a
    /// placeholder address, for scaling out: `operations::scale_out`
    /// points one at a new process (`set server … addr`) and makes it
    /// `ready`. HAProxy 2.6's `add server` cannot do this for every
    /// strategy: it refuses backends with a static algorithm (`balance
    /// source`'s default map-based hash) and takes no `cookie` keyword
    /// (Management Guide 9.3, "add server"), so the slots are declared up
    /// front, as `server-template` does (Configuration Manual 4.2).
    pub spares: u32,
    /// The runtime API socket (mode 0600, in a 0700 folder).
    pub admin_socket: &'a Path,
}

/// Milliseconds of wall time for a scenario duration, at least 1.
pub fn wall_ms(d: SimDuration, time_scale: f64) -> u64 {
    ((d.as_nanos() as f64 / 1e6 / time_scale).round() as u64).max(1)
}

/// The health-check settings when the scenario has none (the model's
/// balancer then learns of a crash at once): the quickest HAProxy does
/// reliably, so the stack is as close to "at once" as it can be.
pub const FASTEST_CHECK_MS: u64 = 50;

/// Where a spare slot points until it is used (the discard service).
const SPARE_PLACEHOLDER_PORT: u16 = 9;

/// Whether a fault of `scenario` kills an app server's machine.
fn has_host_crash(scenario: &Scenario) -> bool {
    scenario
        .faults
        .iter()
        .any(|f| matches!(f.kind, FaultKind::ServerCrash { host: true, .. }))
}

/// When HAProxy's `timeout connect` cannot follow the model for every
/// crash of `scenario`: with a dead host it is the scenario's
/// `timeout_connect`, and then the turn-around after a dead process's
/// refusal is min(that, 1 s of wall time), not min(`timeout_connect`, 1 s)
/// of scenario time.
pub fn connect_timeout_note(scenario: &Scenario) -> Option<String> {
    let refusals = scenario.faults.iter().any(|f| {
        matches!(
            f.kind,
            FaultKind::ServerCrash { host: false, .. } | FaultKind::RandomCrashes { .. }
        )
    });
    let timeout = scenario.servers.retry.timeout_connect;
    (has_host_crash(scenario) && refusals && timeout > SimDuration::from_secs(1)).then(|| {
        format!(
            "HAProxy's `timeout connect` is the scenario's {timeout} (compressed) for the dead \
             host's unanswered connections, so its retries after a dead process's refusal wait \
             min({timeout}, 1 s of wall time) where the model waits 1 s of scenario time"
        )
    })
}

/// The whole configuration file for `strategy`.
pub fn config(scenario: &Scenario, strategy: &Strategy, ports: &Ports, time_scale: f64) -> String {
    let balance = balance(strategy.balancer.name).unwrap_or("balance roundrobin");
    let servers = &scenario.servers;
    let retry = servers.retry;
    // HAProxy waits min(`timeout connect`, 1 s) before retrying a refused
    // connection on the same server (`back_handle_st_cer`), and its 1 s is
    // wall time, which time compression cannot shorten. The simulator's
    // turn-around is that minimum in scenario time, so the stack's
    // `timeout connect` is the minimum, compressed: the turn-around then
    // runs at the scenario's pace. A dead host (`server_crash` with `mode
    // = "host"`, `stack::dead_host`) makes every attempt wait out
    // `timeout connect` itself, with no turn-around after a timeout, so
    // then it is the scenario's, compressed; both agree with the model
    // whenever `timeout_connect` is at most 1 s, and the run's notes say
    // when a scenario has both kinds of crash and a longer one
    // (`connect_timeout_note`).
    let connect = if has_host_crash(scenario) {
        retry.timeout_connect
    } else {
        retry.timeout_connect.min(SimDuration::from_secs(1))
    };
    let connect_ms = wall_ms(connect, time_scale);
    let sticky = strategy.balancer.name == "sticky";
    let (inter, fall, rise) = match servers.health_check {
        Some(h) => (wall_ms(h.interval, time_scale), h.fall, h.rise),
        None => (FASTEST_CHECK_MS, 1, 1),
    };
    let mut c = String::new();
    let _ = writeln!(
        c,
        "# Generated by lbsim for the strategy `{}` of scenario `{}`.\n\
         global\n    \
         maxconn 4000\n    \
         stats socket {} mode 600 level admin\n\n\
         defaults\n    \
         mode http\n    \
         timeout connect {connect_ms}ms\n    \
         timeout client 30s\n    \
         timeout server 30s\n    \
         timeout check {inter}ms\n    \
         retries {}",
        strategy.name.replace('\n', " "),
        scenario.name.replace('\n', " "),
        ports.admin_socket.display(),
        retry.retries
    );
    // Every balancer follows the scenario's `redispatch`, as the model
    // does (`sim::lifecycle::retry`). A cookie naming a server already
    // marked down needs no `option redispatch`: HAProxy ignores it and
    // balances the request (`http_manage_client_side_cookies`).
    if retry.redispatch {
        c.push_str("    option redispatch\n");
    }
    let _ = writeln!(
        c,
        "\nfrontend web\n    bind 127.0.0.1:{}\n    default_backend app\n\n\
         frontend stats\n    bind 127.0.0.1:{}\n    stats enable\n    stats uri /\n    \
         stats refresh 1s\n\n\
         backend app\n    {balance}",
        ports.frontend, ports.stats
    );
    if sticky {
        c.push_str("    cookie SERVERID insert indirect nocache\n");
    }
    // A check waits for its answer up to one interval (`timeout
    // check`), not the compressed `timeout connect`, which on a busy
    // machine would mark healthy servers down.
    c.push_str("    option httpchk GET /health\n");
    let spares = (0..ports.spares).map(|_| None);
    let slots = ports.servers.iter().map(|&p| Some(p)).chain(spares);
    for (i, port) in slots.enumerate() {
        // A spare's placeholder is the discard port; nothing is sent
        // there while the slot is disabled.
        let _ = write!(
            c,
            "    server app-{i} 127.0.0.1:{} check inter {inter}ms fall {fall} rise {rise}",
            port.unwrap_or(SPARE_PLACEHOLDER_PORT)
        );
        if sticky {
            let _ = write!(c, " cookie app-{i}");
        }
        if port.is_none() {
            c.push_str(" disabled");
        }
        c.push('\n');
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_haproxy_balancer_has_a_balance_line_and_ip_hash_has_none() {
        for spec in crate::sim::balancer::REGISTRY {
            let line = balance(spec.name);
            assert_eq!(line.is_none(), spec.name == "ip_hash", "{}", spec.name);
        }
    }

    #[test]
    fn times_are_compressed_by_the_time_scale() {
        assert_eq!(wall_ms(SimDuration::from_secs(2), 60.0), 33);
        assert_eq!(wall_ms(SimDuration::from_secs(5), 1.0), 5000);
        assert_eq!(wall_ms(SimDuration::from_micros(10), 60.0), 1);
    }
}
