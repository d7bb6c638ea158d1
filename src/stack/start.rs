//! Starting one strategy's stack: its Redis (a lone server, replicas with
//! Sentinels, or a cluster: `redis_servers`), the relay in front of it
//! when the scenario cuts or slows that link (`redis_link`), N app-server
//! processes, and the balancer in front of them with the configuration
//! generated from the strategy (`haproxy`, `nginx`). Used by `run --stack`
//! and by `lbsim demo`; what runs the users and faults on it is elsewhere
//! (`strategy`).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use super::front::{Front, Program};
use super::nginx::{self, NginxProcess};
use super::processes::{AppProcess, AppSpec, HaproxyProcess, RedisWrites};
use super::redis_link::RedisLink;
use super::redis_servers::RedisServers;
use super::{Plan, StackError, haproxy, has_link_faults};
use crate::app_server::{RedisAddress, SignedCookies, StoreKind};
use crate::live::spring_session::SpringSessionStore;
use crate::sim::config::Strategy;
use crate::sim::store::StoreConfig;

/// One strategy's processes; dropping it stops them all.
pub(crate) struct Stack {
    pub index: usize,
    pub apps: Vec<Rc<RefCell<AppProcess>>>,
    pub front: Front,
    pub redis: Option<Rc<RedisServers>>,
    pub store: Option<Rc<SpringSessionStore>>,
    /// The relay between the app servers and Redis, when the scenario
    /// cuts or slows that link (`redis_link`).
    pub link: Option<Rc<RedisLink>>,
    /// How a new app server of this strategy is started.
    pub spec: AppSpec,
}

/// The file name of a strategy's balancer configuration in the results.
pub(super) fn config_name(strategy: &Strategy) -> String {
    let slug: String = strategy
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let slug = slug
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    match Program::for_balancer(strategy.balancer.name) {
        Program::Haproxy => format!("haproxy-{slug}.cfg"),
        Program::Nginx => format!("nginx-{slug}.conf"),
    }
}

pub(crate) async fn start_stack(plan: &Plan<'_>, index: usize) -> Result<Stack, StackError> {
    let scenario = plan.scenario;
    let strategy = &scenario.strategies[index];
    let failed = |what: &str, e: std::io::Error| {
        StackError::Failed(format!("`{}`: cannot start {what}: {e}", strategy.name))
    };
    let ttl = Duration::from_secs_f64(scenario.session.ttl.as_secs_f64() / plan.time_scale);
    let (redis, store, kind) = match (&strategy.store, &plan.redis) {
        (StoreConfig::Redis(config), Some(binary)) => {
            let servers = RedisServers::start(binary, config, plan.time_scale, &strategy.name)
                .map_err(|e| StackError::Failed(format!("`{}`: {e}", strategy.name)))?;
            let store = Rc::new(
                servers
                    .counting_store(ttl)
                    .await
                    .map_err(StackError::Failed)?,
            );
            if let Some(sentinels) = servers.sentinel_urls() {
                // Ends with the runtime, when the run is over.
                tokio::task::spawn_local(crate::live::sentinel::follow_primary(
                    store.clone(),
                    sentinels,
                ));
            }
            (Some(Rc::new(servers)), Some(store), StoreKind::Redis)
        }
        (StoreConfig::Cookie { .. }, _) => (None, None, StoreKind::Cookie),
        _ => (None, None, StoreKind::Local),
    };
    // The app servers reach Redis through a relay only when a fault acts
    // on that link, so that other runs measure Redis without it.
    let link_faults = has_link_faults(scenario);
    let link = match redis.as_deref().and_then(RedisServers::single) {
        Some(process) if link_faults => {
            let port = process.borrow().port();
            Some(Rc::new(
                RedisLink::start(port).map_err(|e| failed("the relay to redis-server", e))?,
            ))
        }
        _ => None,
    };
    let redis_address = match (&link, &redis) {
        (Some(link), _) => Some(RedisAddress::Single(crate::live::auth::local_url(
            link.port(),
        ))),
        (None, Some(servers)) => Some(servers.address()),
        (None, None) => None,
    };
    let exe = std::env::current_exe()
        .map_err(|e| StackError::Failed(format!("cannot find lbsim's own binary: {e}")))?;
    let spec = AppSpec {
        exe,
        store: kind,
        redis: redis_address,
        cookie_key: (kind == StoreKind::Cookie).then(SignedCookies::random_key),
        ttl,
        // The scenario's mean service time, as a fixed delay per request.
        service: Duration::from_nanos(scenario.servers.service_time.mean().as_nanos()),
        writes: redis_writes(&strategy.store),
    };
    let mut apps = Vec::new();
    for i in 0..scenario.servers.count {
        let app = AppProcess::start(i, spec.clone()).map_err(|e| failed("an app server", e))?;
        apps.push(Rc::new(RefCell::new(app)));
    }
    let ports: Vec<u16> = apps.iter().map(|a| a.borrow().port()).collect();
    let program = Program::for_balancer(strategy.balancer.name);
    let binary = match program {
        Program::Haproxy => plan.haproxy.as_ref(),
        Program::Nginx => plan.nginx.as_ref(),
    }
    .ok_or_else(|| StackError::Failed(format!("no {} binary was found", program.binary())))?;
    let front = match program {
        Program::Haproxy => Front::Haproxy(
            HaproxyProcess::start(binary, plan.listen, |frontend, stats, socket| {
                let ports = haproxy::Ports {
                    frontend,
                    stats,
                    servers: &ports,
                    spares: plan.spares,
                    admin_socket: socket,
                };
                haproxy::config(scenario, strategy, &ports, plan.time_scale)
            })
            .map_err(|e| failed("haproxy", e))?,
        ),
        Program::Nginx => Front::Nginx(Rc::new(RefCell::new(
            NginxProcess::start(binary, plan.listen.map(|l| l.0), &ports, {
                let (scenario, strategy) = (scenario.clone(), strategy.clone());
                let time_scale = plan.time_scale;
                Box::new(move |frontend, dir, servers, generation| {
                    nginx::config(
                        &scenario, &strategy, frontend, servers, dir, time_scale, generation,
                    )
                })
            })
            .map_err(|e| failed("nginx", e))?,
        ))),
    };
    Ok(Stack {
        index,
        apps,
        front,
        redis,
        store,
        link,
        spec,
    })
}

/// How the strategy's app servers write to Redis, as live mode's client
/// does (`live::driver::setup`): the save in one pipeline when the
/// scenario says so, and `WAIT` after each write for `wait_for_replicas`
/// (a replicated primary only; its timeout is a latency, not compressed).
fn redis_writes(store: &StoreConfig) -> RedisWrites {
    let StoreConfig::Redis(redis) = store else {
        return RedisWrites::default();
    };
    let wait_for_replicas = redis
        .replication
        .as_ref()
        .filter(|r| r.wait_for_replicas > 0 && redis.shards <= 1)
        .map(|r| {
            let timeout = Duration::from_secs_f64(r.wait_timeout.as_secs_f64());
            (r.wait_for_replicas, timeout)
        });
    RedisWrites {
        pipeline: redis.pipeline,
        wait_for_replicas,
    }
}
