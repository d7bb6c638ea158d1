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
        loading_rate: Some(1000.0),
        fsync_latency: Dist::constant(SimDuration::from_micros(200)),
        pipeline: false,
        replication: None,
        shards: 1,
        node_timeout: SimDuration::from_secs(15),
        client: crate::sim::client::ClientPolicy::FailFast,
    };
    RedisStore::new(SimDuration::from_secs(1800), config, 1)
}

/// Creates sessions 1..=n at times 0..n s, ticking every second as the
/// engine does, then stops Redis at `stop_at` and returns the number of
/// sessions destroyed.
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
    // no: the kernel's flusher wakes every 5 s and writes back an inode
    // first dirtied more than 30 s ago, whole. The AOF is first dirtied at
    // 0 s, so it is written back at 35 s (at 30 s it is exactly 30 s old,
    // not more); dirtied again by the session of 35 s, written back at 70
    // s; dirtied at 70 s, next due at 105 s. The crash at 100 s loses the
    // sessions of 70..=99 s, 30 of them. (Counting each write's own age,
    // as the kernel does not, would lose the last 30-35 s every time.)
    assert_eq!(
        lost_after(
            Persistence::Aof(AppendFsync::No),
            100,
            100,
            RestartMode::HostCrash
        ),
        30
    );
    // A crash right after a writeback loses only what came since: at 71 s,
    // the session of 70 s.
    assert_eq!(
        lost_after(
            Persistence::Aof(AppendFsync::No),
            71,
            71,
            RestartMode::HostCrash
        ),
        1
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
fn unavailable_while_down_refused_while_loading_then_back() {
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
        redis
            .access(at(11), ServerId(0), SessionId(1), UserId(0))
            .lookup,
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
    // While loading, Redis accepts the connection and answers -LOADING
    // (server.c, processCommand): refused, not unreachable.
    assert_eq!(
        redis
            .access(at(20), ServerId(0), SessionId(1), UserId(0))
            .lookup,
        Lookup::Refused
    );
    assert_eq!(
        redis
            .access(ready, ServerId(0), SessionId(1), UserId(0))
            .lookup,
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
        redis
            .access(at(100), ServerId(0), SessionId(1), UserId(0))
            .lookup,
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

/// A Redis with AOF on a disk whose every fsync takes `fsync`, its client
/// sending the save's commands one by one or in one pipeline.
fn aof_store(fsync: AppendFsync, fsync_time: SimDuration, pipeline: bool) -> RedisStore {
    let config = RedisConfig {
        latency: Dist::constant(SimDuration::from_micros(400)),
        persistence: Persistence::Aof(fsync),
        loading_rate: None,
        fsync_latency: Dist::constant(fsync_time),
        pipeline,
        replication: None,
        shards: 1,
        node_timeout: SimDuration::from_secs(15),
        client: crate::sim::client::ClientPolicy::FailFast,
    };
    RedisStore::new(SimDuration::from_secs(1800), config, 1)
}

#[test]
fn appendfsync_always_makes_each_write_wait_for_the_fsync_covering_it() {
    // fsyncs of 8 ms, the save pipelined (one write per request). A write
    // at 0 starts one: answered at 8 ms. Writes at 1 ms and 5 ms arrive
    // while it runs: they join the next fsync (8 to 16 ms) and are
    // answered at 16 ms, one fsync for both (group commit). A lookup that
    // writes nothing waits for the main thread too.
    let mut redis = aof_store(AppendFsync::Always, SimDuration::from_millis(8), true);
    let ms = |m: u64| SimTime::ZERO + SimDuration::from_millis(m);
    let w0 = redis.create(ms(0), ServerId(0), SessionId(1), UserId(1));
    assert_eq!(w0.waited, SimDuration::from_millis(8));
    let w1 = redis.create(ms(1), ServerId(0), SessionId(2), UserId(2));
    let w5 = redis.create(ms(5), ServerId(0), SessionId(3), UserId(3));
    assert_eq!(w1.waited, SimDuration::from_millis(15));
    assert_eq!(w5.waited, SimDuration::from_millis(11));
    let read = redis.access(ms(6), ServerId(0), SessionId(99), UserId(0));
    assert_eq!(
        (read.lookup, read.waited),
        (Lookup::Missing, SimDuration::from_millis(2))
    );
    // Once the disk is idle, a write pays one fsync again.
    let later = redis.create(ms(20), ServerId(0), SessionId(4), UserId(4));
    assert_eq!(later.waited, SimDuration::from_millis(8));
    // everysec does not make replies wait for a fast disk.
    let mut everysec = aof_store(AppendFsync::EverySec, SimDuration::from_millis(8), false);
    let w = everysec.create(ms(0), ServerId(0), SessionId(1), UserId(1));
    assert_eq!(w.waited, SimDuration::ZERO);
}

#[test]
fn spring_one_command_at_a_time_waits_for_two_fsyncs_per_save() {
    // Spring sends HMSET, then PEXPIREAT when HMSET is answered: each
    // waits for an fsync of its own. fsyncs of 8 ms: a login at 0 has its
    // HMSET in the fsync 0-8 ms and its PEXPIREAT in 8-16 ms. Logins at 1
    // and 5 ms have their HMSET in 8-16 ms and their PEXPIREAT in the
    // fsync that starts at 16 ms, when they send it: answered at 24 ms.
    let mut redis = aof_store(AppendFsync::Always, SimDuration::from_millis(8), false);
    let ms = |m: u64| SimTime::ZERO + SimDuration::from_millis(m);
    let w0 = redis.create(ms(0), ServerId(0), SessionId(1), UserId(1));
    assert_eq!(w0.waited, SimDuration::from_millis(16));
    let w1 = redis.create(ms(1), ServerId(0), SessionId(2), UserId(2));
    let w5 = redis.create(ms(5), ServerId(0), SessionId(3), UserId(3));
    assert_eq!(w1.waited, SimDuration::from_millis(23));
    assert_eq!(w5.waited, SimDuration::from_millis(19));
    // The main thread is in the fsync 16-24 ms at 20 ms.
    let read = redis.access(ms(20), ServerId(0), SessionId(99), UserId(0));
    assert_eq!(read.waited, SimDuration::from_millis(4));
    // Idle again at 30 ms: two fsyncs back to back.
    let later = redis.create(ms(30), ServerId(0), SessionId(4), UserId(4));
    assert_eq!(later.waited, SimDuration::from_millis(16));
}

#[test]
fn everysec_postpones_writes_on_a_slow_disk_and_a_process_crash_loses_them() {
    // Every fsync takes 2.5 s. The background fsync of the 1 s tick runs
    // until 3.5 s, so the sessions created at 1.5 s and 2.5 s are not even
    // written to the page cache: Redis postpones the write while an fsync
    // runs. A process crash at 3.4 s loses them; at 3.5 s the fsync ends,
    // the buffer is written, and a crash at 3.6 s loses nothing.
    let crash_at = |t: f64| {
        let mut redis = aof_store(AppendFsync::EverySec, SimDuration::from_millis(2500), false);
        let s = |x: f64| SimTime::ZERO + SimDuration::from_nanos_f64(x * 1e9);
        redis.tick(s(1.0));
        redis.create(s(1.5), ServerId(0), SessionId(1), UserId(1));
        redis.tick(s(2.0));
        redis.create(s(2.5), ServerId(0), SessionId(2), UserId(2));
        redis.tick(s(3.0));
        let mut lost = 0;
        let stop = StoreFault::Stop {
            shard: 0,
            mode: RestartMode::Crash,
        };
        redis.fault(s(t), stop, &mut |_, _| lost += 1);
        lost
    };
    assert_eq!(crash_at(3.4), 2);
    assert_eq!(crash_at(3.6), 0);
}

#[test]
fn everysec_blocks_replies_once_a_write_was_postponed_for_two_seconds() {
    // Every fsync takes 4 s: the one of the 1 s tick runs until 5 s. The
    // write of 1.5 s is postponed; at 3.5 s Redis stops waiting, writes,
    // and its main thread blocks until the disk is done at 5 s: a request
    // at 4 s waits 1 s.
    let mut redis = aof_store(AppendFsync::EverySec, SimDuration::from_secs(4), false);
    let s = |x: f64| SimTime::ZERO + SimDuration::from_nanos_f64(x * 1e9);
    redis.tick(s(1.0));
    let early = redis.create(s(1.5), ServerId(0), SessionId(1), UserId(1));
    assert_eq!(early.waited, SimDuration::ZERO);
    redis.tick(s(2.0));
    redis.tick(s(3.0));
    redis.tick(s(4.0));
    let late = redis.create(s(4.0), ServerId(0), SessionId(2), UserId(2));
    assert_eq!(late.waited, SimDuration::from_secs(1));
}

#[test]
fn save_points_count_redis_dirty_counter_per_field_and_expiry() {
    // A save point of 60 s and 100 changes. A page refresh is HSET of one
    // field and PEXPIREAT: 2 changes; a login HSET of 7 fields and
    // PEXPIREAT: 8. So 1 login and 46 refreshes make 100 changes and the
    // snapshot is due; 45 refreshes (98) are not enough. (Counting one per
    // request, 47 requests would never reach it.)
    let snapshot_due = |refreshes: u64| {
        let points = vec![SavePoint {
            after: SimDuration::from_secs(60),
            changes: 100,
        }];
        let mut redis = store(Persistence::Rdb(points));
        redis.create(at(0), ServerId(0), SessionId(1), UserId(0));
        for i in 0..refreshes {
            redis.access(at(1 + i), ServerId(0), SessionId(1), UserId(0));
        }
        redis.tick(at(61));
        // Did the snapshot keep the session? A crash says.
        let mut lost = 0;
        let stop = StoreFault::Stop {
            shard: 0,
            mode: RestartMode::Crash,
        };
        redis.fault(at(62), stop, &mut |_, _| lost += 1);
        lost == 0
    };
    assert!(snapshot_due(46));
    assert!(!snapshot_due(45));
}

#[test]
fn loading_time_follows_what_the_files_hold() {
    // Calibrated costs (redis-server 7.0.15 here): 6.9 us to replay a
    // login from the AOF, 3.8 us a page refresh, 1.9 us per key of an RDB.
    let mut aof = aof_store(AppendFsync::EverySec, SimDuration::from_micros(200), false);
    for i in 1..=1000 {
        aof.create(at(0), ServerId(0), SessionId(i), UserId(0));
    }
    for i in 1..=1000 {
        aof.access(at(1), ServerId(0), SessionId(i), UserId(0));
    }
    aof.fault(
        at(2),
        StoreFault::Stop {
            shard: 0,
            mode: RestartMode::Crash,
        },
        &mut |_, _| {},
    );
    let FaultReply::Ready(ready) = aof.fault(
        at(3),
        StoreFault::Start {
            shard: 0,
            rejoin: false,
        },
        &mut |_, _| {},
    ) else {
        panic!("it starts");
    };
    assert_eq!(
        ready.since(at(3)),
        SimDuration::from_micros(1000 * (69 + 38) / 10)
    );
}
