//! One real redis-server: the Spring Session layout, expiry, and what each
//! persistence policy keeps across a crash or a restart.

use super::*;

#[test]
fn sessions_are_stored_in_spring_sessions_layout_with_a_sliding_ttl() {
    let process = start(&["--save", "", "--appendonly", "no"]);
    runtime().block_on(async {
        let ttl = Duration::from_secs(30);
        let store = store(&process, ttl).await;
        store
            .create(ServerId(0), SessionId(1), UserId(7), Hold::NONE)
            .await
            .unwrap();
        let key = store.key(SessionId(1));
        assert!(key.starts_with("spring:session:sessions:"), "{key}");
        // A UUID, as Spring's UuidSessionIdGenerator makes.
        let id = key.trim_start_matches("spring:session:sessions:");
        assert_eq!(id.len(), 36);
        assert_eq!(id.matches('-').count(), 4);

        let mut redis = plain(&process);
        let fields: std::collections::HashMap<String, String> =
            redis::cmd("HGETALL").arg(&key).query(&mut redis).unwrap();
        for name in [
            "creationTime",
            "lastAccessedTime",
            "maxInactiveInterval",
            "sessionAttr:userId",
            "sessionAttr:roles",
            "sessionAttr:loginTime",
            "sessionAttr:authenticated",
        ] {
            assert!(fields.contains_key(name), "missing {name}: {fields:?}");
        }
        assert_eq!(fields["maxInactiveInterval"], "30");
        assert_eq!(fields["sessionAttr:userId"], "user-7");
        let created: u64 = fields["lastAccessedTime"].parse().unwrap();
        let pttl: i64 = redis::cmd("PTTL").arg(&key).query(&mut redis).unwrap();
        assert!((28_000..=30_000).contains(&pttl), "ttl {pttl} ms");

        // A request 1.2 s later finds the session and slides its expiry.
        tokio::time::sleep(Duration::from_millis(1200)).await;
        assert_eq!(
            store.access(ServerId(1), SessionId(1), Hold::NONE).await,
            Ok(Lookup::Found)
        );
        let accessed: u64 = redis::cmd("HGET")
            .arg(&key)
            .arg("lastAccessedTime")
            .query(&mut redis)
            .unwrap();
        assert!(accessed >= created + 1000, "{accessed} vs {created}");
        let pttl: i64 = redis::cmd("PTTL").arg(&key).query(&mut redis).unwrap();
        assert!(pttl > 29_000, "ttl not refreshed: {pttl} ms");
        let creation: u64 = redis::cmd("HGET")
            .arg(&key)
            .arg("creationTime")
            .query(&mut redis)
            .unwrap();
        assert_eq!(creation, created, "creationTime must not change");

        assert_eq!(
            store.access(ServerId(0), SessionId(99), Hold::NONE).await,
            Ok(Lookup::Missing)
        );
    });
}

#[test]
fn a_session_expires_when_its_ttl_runs_out() {
    let process = start(&["--save", "", "--appendonly", "no"]);
    runtime().block_on(async {
        let store = store(&process, Duration::from_millis(300)).await;
        store
            .create(ServerId(0), SessionId(1), UserId(1), Hold::NONE)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(
            store.access(ServerId(0), SessionId(1), Hold::NONE).await,
            Ok(Lookup::Missing)
        );
    });
}

/// Creates `n` sessions, stops Redis with `stop`, starts it again and
/// returns how many sessions are still found.
fn survivors(persistence: &[&str], n: u64, stop: fn(&mut RedisProcess)) -> u64 {
    let mut process = start(persistence);
    runtime().block_on(async {
        let store = store(&process, Duration::from_secs(600)).await;
        for i in 1..=n {
            store
                .create(ServerId(0), SessionId(i), UserId(i as u32), Hold::NONE)
                .await
                .unwrap();
        }
        stop(&mut process);
        // While it is down, operations fail: an error, not a logout.
        let down = store.access(ServerId(0), SessionId(1), Hold::NONE).await;
        assert!(matches!(down, Err(StoreFailure::Down)), "{down:?}");
        process.restart().unwrap();
        until_ready(&store).await;
        let mut found = 0;
        for i in 1..=n {
            if store.access(ServerId(0), SessionId(i), Hold::NONE).await == Ok(Lookup::Found) {
                found += 1;
            }
        }
        found
    })
}

fn sigkill(process: &mut RedisProcess) {
    process.kill();
}

fn shutdown(process: &mut RedisProcess) {
    let mut redis = plain(process);
    let _: Result<(), _> = redis::cmd("SHUTDOWN").query(&mut redis);
    process.wait_for_exit(Duration::from_secs(10));
}

#[test]
fn a_crash_without_persistence_loses_every_session() {
    assert_eq!(
        survivors(&["--save", "", "--appendonly", "no"], 200, sigkill),
        0
    );
}

#[test]
fn a_crash_with_aof_loses_no_session_whatever_the_fsync_policy() {
    // The simulator's claim, checked for real: write(2) happens before the
    // reply, and a SIGKILL does not drop the kernel's page cache.
    for fsync in ["always", "everysec", "no"] {
        let args = ["--save", "", "--appendonly", "yes", "--appendfsync", fsync];
        assert_eq!(survivors(&args, 200, sigkill), 200, "appendfsync {fsync}");
    }
}

#[test]
fn a_graceful_restart_keeps_sessions_only_with_persistence() {
    assert_eq!(
        survivors(&["--save", "", "--appendonly", "no"], 100, shutdown),
        0
    );
    assert_eq!(
        survivors(&["--save", "3600 1", "--appendonly", "no"], 100, shutdown),
        100
    );
}

#[test]
fn loading_is_reported_as_an_error_not_as_a_missing_session() {
    // Two million filler keys take Redis a noticeable time to load from its
    // RDB file; requests in that time get -LOADING.
    let mut process = start(&[
        "--save",
        "",
        "--appendonly",
        "no",
        "--enable-debug-command",
        "yes",
    ]);
    let mut redis = plain(&process);
    let _: () = redis::cmd("DEBUG")
        .arg("POPULATE")
        .arg(2_000_000)
        .query(&mut redis)
        .unwrap();
    let _: () = redis::cmd("SAVE").query(&mut redis).unwrap();
    runtime().block_on(async {
        let store = store(&process, Duration::from_secs(600)).await;
        process.kill();
        process.restart().unwrap(); // returns once it answers, even with -LOADING
        let mut saw_loading = false;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match store.access(ServerId(0), SessionId(1), Hold::NONE).await {
                Err(StoreFailure::Loading) => saw_loading = true,
                Ok(Lookup::Missing) => break, // loaded; session 1 never existed
                other => assert!(
                    matches!(other, Err(StoreFailure::Down)),
                    "unexpected answer while loading: {other:?}"
                ),
            }
            assert!(Instant::now() < deadline, "never finished loading");
        }
        assert!(saw_loading, "no -LOADING seen while 2M keys loaded");
    });
}

#[test]
fn a_session_deleted_between_find_and_save_is_springs_session_was_invalidated() {
    // Spring's save checks that the key still exists (EXISTS) after
    // findById (HGETALL) found it; a key gone in between makes it throw
    // "Session was invalidated". Each command is held back 300 ms, and the
    // key is deleted 450 ms in: after HGETALL (at 300 ms), before EXISTS
    // (at 600 ms). Nothing must write the key back.
    let process = start(&["--save", "", "--appendonly", "no"]);
    runtime().block_on(async {
        let store = store(&process, Duration::from_secs(30)).await;
        store
            .create(ServerId(0), SessionId(1), UserId(1), Hold::NONE)
            .await
            .unwrap();
        let key = store.key(SessionId(1));
        let hold = Hold {
            delay: Duration::from_millis(300),
            until: None,
        };
        let deleter = async {
            tokio::time::sleep(Duration::from_millis(450)).await;
            let mut redis = plain(&process);
            let deleted: u64 = redis::cmd("DEL").arg(&key).query(&mut redis).unwrap();
            assert_eq!(deleted, 1);
        };
        let (lookup, ()) = tokio::join!(store.access(ServerId(0), SessionId(1), hold), deleter);
        assert_eq!(lookup, Err(StoreFailure::Invalidated));
        let mut redis = plain(&process);
        let exists: bool = redis::cmd("EXISTS").arg(&key).query(&mut redis).unwrap();
        assert!(!exists, "the save must not write the deleted session back");
    });
}
