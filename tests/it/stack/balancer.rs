//! What real HAProxy does with real app servers, one user at a time: the
//! facts every balancer model in `sim::balancer` rests on.

use super::*;

const CHECKS: &str = "health_check = { interval = \"200ms\", fall = 3, rise = 2 }";

#[test]
fn a_sticky_user_stays_on_one_server_and_its_crash_logs_an_in_memory_user_out() {
    let mut farm = farm(&one_strategy("sticky", "local", CHECKS));
    let port = farm.haproxy.frontend;
    let mut alice = Browser::default();
    let login = alice.login(port, "alice");
    assert_eq!(login.status, 303, "{login:?}");
    assert!(alice.jar.contains_key("SESSION") && alice.jar.contains_key("SERVERID"));
    let home = login.served_by.clone();
    for _ in 0..30 {
        let page = alice.page(port);
        assert_eq!(page.status, 200, "{page:?}");
        assert_eq!(page.served_by, home, "a sticky user moved");
        assert!(page.body.contains("alice"));
    }
    // SIGKILL its server; once the checks mark it down, the cookie's
    // server is gone: HAProxy redispatches, and the new server has never
    // heard of the session.
    farm.apps[index_of(&home)].kill();
    wait_for_state(&farm, &home, false, Duration::from_secs(5));
    let after = alice.page(port);
    assert_eq!(
        after.status, 401,
        "an in-memory session survived its server: {after:?}"
    );
    assert_ne!(after.served_by, home);
    // Logging in again pins the user to the new server.
    let again = alice.login(port, "alice");
    assert_eq!(again.status, 303);
    let new_home = again.served_by.clone();
    for _ in 0..10 {
        assert_eq!(alice.page(port).served_by, new_home);
    }
}

#[test]
fn a_redis_session_survives_the_crash_of_the_server_that_created_it() {
    let mut farm = farm(&one_strategy("round_robin", "redis", CHECKS));
    let port = farm.haproxy.frontend;
    let mut bob = Browser::default();
    let login = bob.login(port, "bob");
    assert_eq!(login.status, 303, "{login:?}");
    let mut servers = std::collections::BTreeSet::new();
    for _ in 0..9 {
        let page = bob.page(port);
        assert_eq!(page.status, 200, "{page:?}");
        servers.insert(page.served_by);
    }
    assert_eq!(
        servers.len(),
        3,
        "round-robin visits every server: {servers:?}"
    );
    farm.apps[index_of(&login.served_by)].kill();
    wait_for_state(&farm, &login.served_by, false, Duration::from_secs(5));
    for _ in 0..10 {
        let page = bob.page(port);
        assert_eq!(page.status, 200, "the Redis session was lost: {page:?}");
        assert_ne!(page.served_by, login.served_by);
    }
}

#[test]
fn a_signed_cookie_session_survives_the_crash_of_every_server_and_a_changed_one_is_refused() {
    let mut farm = farm(&one_strategy("round_robin", "cookie", CHECKS));
    let port = farm.haproxy.frontend;
    let mut carol = Browser::default();
    let login = carol.login(port, "carol");
    assert_eq!(login.status, 303, "{login:?}");
    let cookie = carol.jar["SESSION"].clone();
    let id = lbsim::app_server::id_in_cookie(&cookie).expect("a signed session");
    let mut servers = std::collections::BTreeSet::new();
    for _ in 0..6 {
        let page = carol.page(port);
        assert_eq!(page.status, 200, "{page:?}");
        assert!(page.body.contains("carol") && page.body.contains(&id));
        servers.insert(page.served_by);
    }
    assert_eq!(servers.len(), 3, "round-robin visits every server");
    // Every page re-signs the cookie with a later last access: the TTL
    // slides although no server keeps anything.
    assert_ne!(carol.jar["SESSION"], cookie);
    // Kill every app server and start new, empty processes (with the
    // farm's key, as a real deploy keeps its secret): nothing is lost.
    for app in &mut farm.apps {
        app.restart().unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let after = loop {
        let page = carol.page(port);
        // 503 while HAProxy's checks still hold a restarted server down.
        if page.status != 503 || Instant::now() > deadline {
            break page;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(after.status, 200, "a signed session died with the servers");
    assert!(after.body.contains(&id), "{after:?}");
    // A user who rewrites their cookie (another name, same signature) is
    // refused, on every server.
    let signed = carol.jar["SESSION"].clone();
    let (_, tag) = signed.split_once('.').unwrap();
    use base64::Engine as _;
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("{id}|0|99999999999999|mallory"));
    carol
        .jar
        .insert("SESSION".into(), format!("{payload}.{tag}"));
    for _ in 0..3 {
        let forged = carol.page(port);
        assert_eq!(forged.status, 401, "a changed cookie was taken: {forged:?}");
        assert!(!forged.body.contains("mallory"));
    }
}

#[test]
fn round_robin_with_in_memory_sessions_logs_a_user_out_on_the_next_server() {
    let farm = farm(&one_strategy("round_robin", "local", CHECKS));
    let port = farm.haproxy.frontend;
    let mut carol = Browser::default();
    // With three servers in rotation, of any three requests in a row
    // exactly one reaches the server holding the session.
    let login = carol.login(port, "carol");
    assert_eq!(login.status, 303);
    let next = carol.page(port);
    assert_ne!(next.served_by, login.served_by, "round-robin moved on");
    assert_eq!(
        next.status, 401,
        "another server knew the session: {next:?}"
    );
}

#[test]
fn health_checks_mark_a_dead_server_down_after_fall_checks_and_up_after_rise() {
    // inter 200 ms, fall 3, rise 2. The first check after the kill comes
    // within one interval, then fall - 1 more: the model (`sim::servers`)
    // marks it down between (fall - 1) and fall intervals after the crash,
    // and up between (rise - 1) and rise intervals after it answers again.
    // HAProxy 2.6 adds no jitter (`spread-checks` is 0 by default); the
    // slack of 60 ms covers this test's 2 ms polling of the runtime API
    // and scheduling on a loaded 2-core machine.
    let mut farm = farm(&one_strategy("round_robin", "local", CHECKS));
    let inter = Duration::from_millis(200);
    let slack = Duration::from_millis(60);
    for round in 0..4 {
        let server = round % 3;
        let name = format!("app-{server}");
        farm.apps[server].kill();
        let down = wait_for_state(&farm, &name, false, Duration::from_secs(5));
        assert!(
            down >= inter * 2 && down <= inter * 3 + slack,
            "marked down after {down:?}"
        );
        farm.apps[server].restart().unwrap();
        let up = wait_for_state(&farm, &name, true, Duration::from_secs(5));
        // Timed from when the new process first answered /health, a few
        // milliseconds after it could have passed a check.
        let early = Duration::from_millis(20);
        assert!(
            up + early >= inter && up <= inter * 2 + slack,
            "marked up after {up:?}"
        );
    }
}
