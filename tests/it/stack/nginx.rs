//! What real nginx does with `ip_hash` in front of real app servers, user
//! by user, against the model (`sim::balancer::ip_hash`): the server each
//! user reaches, who moves when a server dies, and who comes back.

use super::*;
use lbsim::sim::balancer::{self, BuildContext, client_address};
use lbsim::sim::servers::ServerPool;
use lbsim::sim::time::SimTime;
use lbsim::sim::{ServerId, UserId};
use lbsim::stack::nginx::{self, NginxProcess};

const USERS: u32 = 60;

/// `app-<n>` for the model's server.
fn name(server: Option<ServerId>) -> String {
    format!("app-{}", server.expect("the model found a server").0)
}

#[test]
fn ip_hash_sends_each_user_where_the_model_does_and_a_crash_moves_only_that_servers_users() {
    // time_scale 10: nginx's fail_timeout (10 s in the model) is 1 s here.
    let time_scale = 10.0;
    let scenario = crate::support::scenario(&one_strategy("ip_hash", "local", ""));
    let strategy = &scenario.strategies[0];
    let spec = AppSpec {
        exe: PathBuf::from(env!("CARGO_BIN_EXE_lbsim")),
        store: StoreKind::Local,
        redis: None,
        cookie_key: None,
        ttl: Duration::from_secs(600),
        service: Duration::ZERO,
        writes: Default::default(),
    };
    let mut apps: Vec<AppProcess> = (0..3)
        .map(|i| AppProcess::start(i, spec.clone()).unwrap())
        .collect();
    let ports: Vec<u16> = apps.iter().map(AppProcess::port).collect();
    let (s, st) = (scenario.clone(), strategy.clone());
    let make: nginx::MakeConfig = Box::new(move |frontend, dir, servers, generation| {
        nginx::config(&s, &st, frontend, servers, dir, time_scale, generation)
    });
    let front = NginxProcess::start(&nginx_binary(), None, &ports, make).unwrap();
    assert!(front.config.contains("ip_hash;"), "{}", front.config);
    let port = front.frontend;

    // The model, fed the same events.
    let mut model = (balancer::find("ip_hash").unwrap().build)(&BuildContext {
        users: USERS,
        servers: 3,
        seed: 0,
    });
    let mut pool = ServerPool::new(3, 0);
    let mut users: Vec<Browser> = (0..USERS)
        .map(|u| Browser {
            address: Some(std::net::Ipv4Addr::from(client_address(UserId(u))).to_string()),
            ..Browser::default()
        })
        .collect();
    let mut homes = Vec::new();
    for (u, browser) in users.iter_mut().enumerate() {
        let login = browser.login(port, &format!("user-{u}"));
        assert_eq!(login.status, 303, "{login:?}");
        let expected = model.pick(UserId(u as u32), &pool, SimTime::ZERO, None);
        assert_eq!(login.served_by, name(expected), "user {u}");
        let page = browser.page(port);
        assert_eq!((page.status, &page.served_by), (200, &login.served_by));
        homes.push(login.served_by);
    }
    // 60 users over 3 servers: every server has some (each would be empty
    // with probability (2/3)^60, about 3e-11).
    for server in ["app-0", "app-1", "app-2"] {
        assert!(homes.iter().any(|h| h == server), "{homes:?}");
    }

    // SIGKILL app-1. nginx finds out from the first refused connection
    // (max_fails=1) and retries at once on the server the rehash gives;
    // the model is told the same (`connection_failed`).
    apps[1].kill();
    let crashed = SimTime::ZERO;
    pool.crash(ServerId(1));
    model.connection_failed(ServerId(1), crashed);
    for (u, browser) in users.iter_mut().enumerate() {
        let page = browser.page(port);
        if homes[u] == "app-1" {
            // Its session died with the process.
            assert_eq!(page.status, 401, "user {u}: {page:?}");
            let expected = model.pick(UserId(u as u32), &pool, crashed, None);
            assert_eq!(page.served_by, name(expected), "user {u} moved elsewhere");
            assert_eq!(browser.login(port, "again").served_by, page.served_by);
        } else {
            // Nobody else moves.
            assert_eq!((page.status, &page.served_by), (200, &homes[u]), "user {u}");
        }
    }

    // A new, empty app-1; once fail_timeout has passed (1 s of wall time,
    // counted by nginx in whole seconds: 1 to 2 s after the failure),
    // nginx tries it again and its users go back, to a server that has
    // never heard of their new sessions: logged out a second time.
    apps[1].restart().unwrap();
    pool.recover(ServerId(1));
    std::thread::sleep(Duration::from_millis(2100));
    let later = SimTime::ZERO + lbsim::sim::time::SimDuration::from_secs(11);
    for (u, browser) in users.iter_mut().enumerate() {
        let page = browser.page(port);
        let expected = model.pick(UserId(u as u32), &pool, later, None);
        assert_eq!(page.served_by, name(expected), "user {u}");
        assert_eq!(page.served_by, homes[u], "user {u} went home");
        let status = if homes[u] == "app-1" { 401 } else { 200 };
        assert_eq!(page.status, status, "user {u}: {page:?}");
    }
}
