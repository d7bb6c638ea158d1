//! Unit tests of the request lifecycle, driven by hand with scripted store
//! replies: no engine, no queue, no store model.

use std::path::Path;
use std::sync::Arc;

use super::*;
use crate::sim::store::{Lookup, Reply};
use crate::sim::time::SimDuration;

/// One user, two servers, a Redis store with `policy`; service and store
/// latency drawn from distributions, so every draw is a different number.
fn world(policy: &str, servers: u32) -> World {
    let text = format!(
        r#"
name = "lifecycle"
duration = "1h"
[workload]
users = 3
arrival = {{ ramp = "0s" }}
think_time = {{ dist = "exponential", mean = "10s" }}
[servers]
count = {servers}
service_time = {{ dist = "exponential", mean = "3ms" }}
[store.redis]
latency = {{ dist = "lognormal", median = "400us", p99 = "2ms" }}
persistence = "none"
[[strategy]]
name = "redis"
balancer = "round_robin"
store = "redis"
on_store_error = "{policy}"
"#
    );
    let scenario = crate::scenario::parse(&text, Path::new("lifecycle.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    World::new(Arc::new(scenario), 0, 0)
}

fn secs(s: u64) -> SimTime {
    SimTime::ZERO + SimDuration::from_secs(s)
}

/// What one request looked like from the lifecycle's side.
#[derive(Debug, PartialEq)]
struct Seen {
    service: SimDuration,
    modelled: SimDuration,
    next_send: Option<SimTime>,
}

/// Sends user 0's next request at `now`, answers every store operation
/// with `reply`, completes it at once, and returns what it drew.
fn request(world: &mut World, now: SimTime, reply: Reply) -> Seen {
    let user = UserId(0);
    let Sent::Started(mut step) = world.send(now, user) else {
        panic!("the request should start");
    };
    let mut modelled = None;
    let response = loop {
        match step {
            Step::Store(op) => {
                modelled
                    .get_or_insert(op.round_trips.iter().fold(SimDuration::ZERO, |a, &b| a + b));
                step = world.answered(now, op, reply);
            }
            Step::Respond(response) => break response,
            Step::Wait(_) => panic!("a fail-fast client never holds"),
        }
    };
    let completion = world.complete(now, user, response.total());
    Seen {
        service: response.service,
        modelled: modelled.unwrap_or(response.store),
        next_send: completion.next_send,
    }
}

#[test]
fn a_users_draws_are_the_same_whoever_answers() {
    // Three worlds answer the same user's requests differently: always
    // found, the store down for the second and third request, and the
    // session missing (a fallback that re-creates it and draws a
    // re-authentication time). The n-th started request draws the same
    // service time and store round trip in all three, and the k-th think
    // time is the same, because no draw depends on the answer.
    let found = Reply::FOUND;
    let down = Reply::UNAVAILABLE;
    let missing = Reply {
        lookup: Lookup::Missing,
        waited: SimDuration::ZERO,
    };
    let scripts = [
        [found, found, found, found],
        [found, down, down, found],
        [found, missing, found, found],
    ];
    let mut seen: Vec<Vec<Seen>> = Vec::new();
    for (i, script) in scripts.iter().enumerate() {
        let policy = if i == 2 { "fallback_auth" } else { "fail" };
        let mut world = world(policy, 2);
        let mut now = secs(1);
        let mut this = Vec::new();
        for reply in script {
            let s = request(&mut world, now, *reply);
            now = s.next_send.expect("within the run");
            this.push(s);
        }
        seen.push(this);
    }
    for (n, first) in seen[0].iter().enumerate() {
        for other in &seen[1..] {
            assert_eq!(first.service, other[n].service, "request {n}");
            assert_eq!(first.modelled, other[n].modelled, "request {n}");
        }
    }
    // Think times: the gap to the next send is the k-th think time of the
    // user, whatever the outcome (errors and re-authentications think too).
    let gaps = |run: &[Seen]| -> Vec<SimDuration> {
        let mut t = secs(1);
        run.iter()
            .map(|s| {
                let next = s.next_send.unwrap();
                let gap = next.since(t);
                t = next;
                gap
            })
            .collect()
    };
    assert_eq!(gaps(&seen[0]), gaps(&seen[1]));
    assert_eq!(gaps(&seen[0]), gaps(&seen[2]));
    // And the draws differ from request to request (the test would pass
    // trivially with constant draws).
    assert_ne!(seen[0][1].service, seen[0][2].service);
}

#[test]
fn a_request_that_fails_before_a_worker_draws_nothing() {
    // Every server down: the request fails at the balancer. The next
    // started request then makes the draws the first request would have.
    let mut plain = world("fail", 1);
    let first = request(&mut plain, secs(1), Reply::FOUND);

    let mut failing = world("fail", 1);
    failing.servers.crash(ServerId(0));
    assert!(matches!(failing.send(secs(1), UserId(0)), Sent::Failed));
    let completion = failing.complete(secs(1), UserId(0), SimDuration::ZERO);
    assert!(completion.next_send.is_some());
    failing.servers.recover(ServerId(0));
    let after = request(&mut failing, secs(2), Reply::FOUND);
    assert_eq!(after.service, first.service);
    assert_eq!(after.modelled, first.modelled);
}

#[test]
fn the_store_link_answers_for_the_store_when_it_is_cut() {
    let mut world = world("fail", 1);
    world.link.cut(secs(0), secs(10));
    // A login during the cut: the lifecycle answers "unavailable" itself,
    // no store operation goes out, and the user keeps trying.
    let Sent::Started(step) = world.send(secs(5), UserId(0)) else {
        panic!("a worker takes it");
    };
    let Step::Respond(response) = step else {
        panic!("the cut link answers, not the store");
    };
    world.complete(secs(5), UserId(0), response.total());
    assert_eq!(
        world.users[0].request.outcome,
        Outcome::Error(ErrorCause::StoreUnavailable)
    );
    // After the cut, the operation goes to the store again.
    let Sent::Started(Step::Store(op)) = world.send(secs(10), UserId(0)) else {
        panic!("the store answers again at the end of the cut");
    };
    assert_eq!(op.kind, OpKind::Create);
}

#[test]
fn a_reply_that_waited_for_a_replica_costs_its_wait() {
    let mut world = world("fail", 1);
    let Sent::Started(Step::Store(op)) = world.send(secs(1), UserId(0)) else {
        panic!("a login goes to the store");
    };
    // A login over Redis: two commands, HMSET and PEXPIREAT.
    let modelled = op.round_trips[0] + op.round_trips[1];
    assert!(op.round_trips[2..].iter().all(|rtt| rtt.is_zero()));
    let wait = SimDuration::from_millis(7);
    let reply = Reply {
        lookup: Lookup::Found,
        waited: wait,
    };
    let Step::Respond(response) = world.answered(secs(1), op, reply) else {
        panic!("a found login is answered");
    };
    assert_eq!(response.store, modelled + wait);
}

#[test]
fn a_crash_while_handling_fails_the_request() {
    let mut world = world("fail", 2);
    let Sent::Started(Step::Store(op)) = world.send(secs(1), UserId(0)) else {
        panic!("a login goes to the store");
    };
    let server = op.server;
    let Step::Respond(response) = world.answered(secs(1), op, Reply::FOUND) else {
        panic!("answered");
    };
    world.servers.crash(server);
    world.complete(secs(1), UserId(0), response.total());
    // The login is lost with the connection: the user is still logged out.
    assert!(world.user_session(UserId(0)).session.is_none());
    assert_eq!(world.recorder.totals.errors, 1);
}

#[test]
fn what_a_request_moves_through_its_calls_stays_small() {
    // A `Sent` or `Step` is returned through every call of a request's
    // path; past 128 bytes the compiler copies it with a call to `memcpy`
    // (issue 11: 4% of a million-user run).
    for (name, size) in [
        ("Sent", std::mem::size_of::<super::Sent>()),
        ("Step", std::mem::size_of::<super::Step>()),
    ] {
        assert!(size <= 128, "{name}: {size} bytes");
    }
}
