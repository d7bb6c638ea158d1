//! Unit tests of the Redis model: what each persistence policy keeps.

use super::*;
use crate::sim::store::RestartMode;

fn at(s: u64) -> SimTime {
    SimTime::ZERO + SimDuration::from_secs(s)
}

fn store(persistence: Persistence) -> RedisStore {
    let config = RedisConfig {
        latency: Dist::constant(SimDuration::from_micros(400)),
        persistence,
        loading_rate: 1000.0,
        replication: None,
        shards: 1,
        node_timeout: SimDuration::from_secs(15),
    };
    RedisStore::new(SimDuration::from_secs(1800), config, 1)
}

/// Creates sessions 1..=n at times 0..n s, ticking every second as the
/// engine does, then stops Redis at `stop_at` and returns the number of
/// sessions lost.
fn lost_after(persistence: Persistence, n: u64, stop_at: u64, mode: RestartMode) -> usize {
    let mut redis = store(persistence);
    for i in 1..=n {
        redis.tick(at(i - 1));
        redis.create(at(i - 1), ServerId(0), SessionId(i), UserId(i as u32));
    }
    for t in n..stop_at {
        redis.tick(at(t));
    }
    let mut lost = 0;
    redis.fault(
        at(stop_at),
        StoreFault::Stop { shard: 0, mode },
        &mut |_, _| lost += 1,
    );
    lost
}

#[test]
fn without_persistence_any_stop_loses_everything() {
    for mode in [
        RestartMode::Crash,
        RestartMode::HostCrash,
        RestartMode::Graceful,
    ] {
        assert_eq!(lost_after(Persistence::None, 100, 100, mode), 100);
    }
}

#[test]
fn aof_survives_a_process_crash_whatever_the_fsync_policy() {
    for fsync in [AppendFsync::Always, AppendFsync::EverySec, AppendFsync::No] {
        assert_eq!(
            lost_after(Persistence::Aof(fsync), 100, 100, RestartMode::Crash),
            0
        );
    }
}

#[test]
fn a_host_crash_loses_what_was_not_fsynced() {
    // Sessions are created at 0..=99 s, each just after that second's
    // tick, and the host dies at 100 s.
    // always: fsync before the reply, nothing lost.
    assert_eq!(
        lost_after(
            Persistence::Aof(AppendFsync::Always),
            100,
            100,
            RestartMode::HostCrash
        ),
        0
    );
    // everysec: the tick at 99 s fsynced what came before it; the session
    // created at 99 s (after that tick) is lost.
    assert_eq!(
        lost_after(
            Persistence::Aof(AppendFsync::EverySec),
            100,
            100,
            RestartMode::HostCrash
        ),
        1
    );
    // no: the kernel's flusher wakes every 5 s and writes back what has
    // been dirty for more than 30 s; its last wake-up before the crash is
    // at 95 s, which wrote everything up to 65 s. The sessions created at
    // 66..=99 s, 34 of them, were never written back.
    assert_eq!(
        lost_after(
            Persistence::Aof(AppendFsync::No),
            100,
            100,
            RestartMode::HostCrash
        ),
        34
    );
}

#[test]
fn rdb_loses_everything_since_the_last_snapshot() {
    // One save point, 60 s and 10 changes. Redis saves when *more* than
    // 60 s have passed, so at the tick of 61 s, which comes before the
    // session created at 61 s. Sessions 62..=100 (created at 61..=99 s),
    // 39 of them, are lost, by any kind of crash.
    let points = vec![SavePoint {
        after: SimDuration::from_secs(60),
        changes: 10,
    }];
    for mode in [RestartMode::Crash, RestartMode::HostCrash] {
        assert_eq!(
            lost_after(Persistence::Rdb(points.clone()), 100, 100, mode),
            39
        );
    }
    assert_eq!(
        lost_after(Persistence::Rdb(points), 100, 100, RestartMode::Graceful),
        0
    );
}

#[test]
fn unavailable_while_down_and_loading_then_back() {
    let mut redis = store(Persistence::Aof(AppendFsync::Always));
    for i in 1..=500 {
        redis.create(at(0), ServerId(0), SessionId(i), UserId(0));
    }
    redis.fault(
        at(10),
        StoreFault::Stop {
            shard: 0,
            mode: RestartMode::Crash,
        },
        &mut |_, _| {},
    );
    assert_eq!(
        redis.access(at(11), ServerId(0), SessionId(1)).lookup,
        Lookup::Unavailable
    );
    assert_eq!(
        redis
            .create(at(11), ServerId(0), SessionId(999), UserId(0))
            .lookup,
        Lookup::Unavailable
    );
    // 500 sessions at 1000 per second: loading takes 0.5 s.
    let FaultReply::Ready(ready) = redis.fault(
        at(20),
        StoreFault::Start {
            shard: 0,
            rejoin: false,
        },
        &mut |_, _| {},
    ) else {
        panic!("a stopped Redis starts");
    };
    assert_eq!(ready, at(20) + SimDuration::from_millis(500));
    assert_eq!(
        redis.access(at(20), ServerId(0), SessionId(1)).lookup,
        Lookup::Unavailable
    );
    assert_eq!(
        redis.access(ready, ServerId(0), SessionId(1)).lookup,
        Lookup::Found
    );
}

#[test]
fn a_rolled_back_last_access_can_expire_a_session() {
    // RDB snapshot at 61 s holds lastAccessedTime 0 s; the session was
    // refreshed at 100 s in memory only. Crash at 1810 s: restored with
    // last access 0 s it expired at 1800 s, so it is lost, although in
    // memory it was alive until 1900 s.
    let points = vec![SavePoint {
        after: SimDuration::from_secs(60),
        changes: 1,
    }];
    let mut redis = store(Persistence::Rdb(points));
    redis.create(at(0), ServerId(0), SessionId(1), UserId(0));
    redis.tick(at(61));
    assert_eq!(
        redis.access(at(100), ServerId(0), SessionId(1)).lookup,
        Lookup::Found
    );
    let mut lost = 0;
    redis.fault(
        at(1810),
        StoreFault::Stop {
            shard: 0,
            mode: RestartMode::Crash,
        },
        &mut |_, _| lost += 1,
    );
    assert_eq!(lost, 1);
}
