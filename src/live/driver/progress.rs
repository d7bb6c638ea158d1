//! What a live run shows while it runs: a bar per live strategy with the
//! scenario's clock and the phase it is in ("redis down 3/8 s"), because a
//! live run takes real time (30 s and more) and a silent terminal looks
//! hung. The bars read the world; they never change it.

use std::rc::Rc;
use std::time::Duration;

use super::SharedState;
use crate::live::clock::LiveClock;
use crate::progress::RunProgress;
use crate::sim::config::{FaultKind, Scenario};
use crate::sim::time::SimTime;

/// How often the bars are redrawn (wall time).
const TICK: Duration = Duration::from_millis(250);

/// Redraws bar `slot` until aborted.
pub(super) async fn progress_loop(
    scenario: std::sync::Arc<Scenario>,
    clock: LiveClock,
    shared: SharedState,
    progress: Rc<RunProgress>,
    slot: usize,
) {
    loop {
        let now = clock.now();
        let last_event = {
            let state = shared.borrow();
            state
                .world
                .events()
                .iter()
                .rev()
                .find(|e| e.t <= now)
                .map(|e| (e.t, e.name()))
        };
        progress.update_with(slot, now, phase(&scenario, now, last_event));
        tokio::time::sleep(TICK).await;
    }
}

/// The phase at `now`: a Redis restart under way as "redis down 3/8 s",
/// else the last event if it is recent ("server_crash 2 s ago"), else
/// nothing.
fn phase(scenario: &Scenario, now: SimTime, last_event: Option<(SimTime, &str)>) -> String {
    for fault in &scenario.faults {
        if let FaultKind::RedisRestart { downtime, .. } = fault.kind
            && fault.at <= now
            && now < fault.at + downtime
        {
            return format!(
                "redis down {:.0}/{:.0} s",
                now.since(fault.at).as_secs_f64().floor(),
                downtime.as_secs_f64()
            );
        }
    }
    match last_event {
        Some((t, name)) if now.since(t).as_secs_f64() < 10.0 => {
            format!("{name} {:.0} s ago", now.since(t).as_secs_f64().floor())
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::sim::time::SimDuration;

    #[test]
    fn a_restart_shows_how_long_redis_has_been_down() {
        let b = crate::scenario::bundled::find("sticky-vs-redis").unwrap();
        let scenario = crate::scenario::parse(b.text, Path::new(b.file)).unwrap();
        // The Redis crash is at 35 min with a downtime of 8 s.
        let at = |s: u64| SimTime::ZERO + SimDuration::from_secs(s);
        assert_eq!(phase(&scenario, at(2103), None), "redis down 3/8 s");
        assert_eq!(
            phase(&scenario, at(905), Some((at(900), "server_crash"))),
            "server_crash 5 s ago"
        );
        assert_eq!(
            phase(&scenario, at(1000), Some((at(900), "server_crash"))),
            ""
        );
    }
}
