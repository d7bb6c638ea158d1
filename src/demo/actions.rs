//! What each button of the control page does, on the demo's processes,
//! and the log of what was done. Every button is one of `stack::operations`,
//! measured before and after (sessions held, sessions found) and explained
//! in one sentence (`explain`).

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::net::TcpListener;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::Urls;
use super::explain::{Happened, Setting, sentence};
use crate::live::redis_process::RedisProcess;
use crate::live::spring_session::SpringSessionStore;
use crate::sim::store::{RestartMode, StoreConfig};
use crate::stack::front::Front;
use crate::stack::haproxy::FASTEST_CHECK_MS;
use crate::stack::operations::{self, AdminState};
use crate::stack::processes::{AppProcess, AppSpec, HaproxyProcess, sessions_held};
use crate::stack::runtime_api;
use crate::stack::{Plan, Stack, StackError};

/// A button.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Crash(u32),
    Recover(u32),
    RedisRestart(RestartMode),
    ScaleOut,
    ScaleIn,
    Deploy,
}

impl Action {
    /// The action a control-page path names (`crash/2`, `redis/graceful`…).
    pub fn parse(path: &str) -> Option<Action> {
        let server = |n: &str| n.parse::<u32>().ok();
        Some(match path.split('/').collect::<Vec<_>>().as_slice() {
            ["crash", n] => Action::Crash(server(n)?),
            ["recover", n] => Action::Recover(server(n)?),
            ["redis", "crash"] => Action::RedisRestart(RestartMode::Crash),
            ["redis", "graceful"] => Action::RedisRestart(RestartMode::Graceful),
            ["scale-out"] => Action::ScaleOut,
            ["scale-in"] => Action::ScaleIn,
            ["deploy"] => Action::Deploy,
            _ => return None,
        })
    }

    /// The path of its button's form.
    pub fn path(&self) -> String {
        match self {
            Action::Crash(n) => format!("crash/{n}"),
            Action::Recover(n) => format!("recover/{n}"),
            Action::RedisRestart(RestartMode::Graceful) => "redis/graceful".into(),
            Action::RedisRestart(_) => "redis/crash".into(),
            Action::ScaleOut => "scale-out".into(),
            Action::ScaleIn => "scale-in".into(),
            Action::Deploy => "deploy".into(),
        }
    }

    /// What the log calls it.
    pub fn label(&self) -> String {
        match self {
            Action::Crash(n) => format!("crash app-{n}"),
            Action::Recover(n) => format!("bring app-{n} back"),
            Action::RedisRestart(RestartMode::Graceful) => "restart Redis gracefully".into(),
            Action::RedisRestart(_) => "restart Redis with a crash".into(),
            Action::ScaleOut => "scale out".into(),
            Action::ScaleIn => "scale in".into(),
            Action::Deploy => "rolling deploy".into(),
        }
    }

    /// Whether it takes long enough (drains) to run in the background.
    fn is_long(&self) -> bool {
        matches!(self, Action::ScaleIn | Action::Deploy)
    }
}

/// One line of the live log.
#[derive(Clone, Debug)]
pub struct LogEntry {
    /// Since the demo started.
    pub at: Duration,
    pub action: String,
    pub sentence: String,
    pub failed: bool,
}

/// The demo's processes and what the control page shows.
pub struct Demo {
    pub strategy: String,
    pub scenario: String,
    pub store_words: String,
    pub setting: Setting,
    pub urls: Urls,
    pub token: String,
    pub apps: RefCell<Vec<Rc<RefCell<AppProcess>>>>,
    /// Servers taken out by "scale in" (their slots are in maintenance).
    pub removed: RefCell<BTreeSet<u32>>,
    pub redis: Option<Rc<RefCell<RedisProcess>>>,
    store: Option<Rc<SpringSessionStore>>,
    haproxy: HaproxyProcess,
    spec: AppSpec,
    /// Server slots in HAProxy's configuration.
    slots: u32,
    drain: Duration,
    started: Instant,
    pub log: RefCell<Vec<LogEntry>>,
    /// The long action under way, if any.
    pub busy: Cell<Option<Action>>,
}

impl Demo {
    pub fn new(
        plan: &Plan<'_>,
        stack: Stack,
        control: &TcpListener,
        drain: Duration,
    ) -> Result<Demo, StackError> {
        let scenario = plan.scenario;
        let strategy = &scenario.strategies[stack.index];
        let check = match scenario.servers.health_check {
            Some(h) => (Duration::from_nanos(h.interval.as_nanos()), h.fall, h.rise),
            None => (Duration::from_millis(FASTEST_CHECK_MS), 1, 1),
        };
        let redis = match &strategy.store {
            StoreConfig::Redis(r) => Some(r.persistence.clone()),
            _ => None,
        };
        let control_port = control
            .local_addr()
            .map_err(|e| StackError::Failed(format!("control page: {e}")))?
            .port();
        let token: String = rand::random::<[u8; 12]>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let Stack {
            apps,
            front,
            redis: servers,
            store,
            spec,
            ..
        } = stack;
        // A lone redis-server (`why_not` refuses the others).
        let redis_process = servers.as_deref().and_then(|s| s.single().cloned());
        let Front::Haproxy(haproxy) = front else {
            return Err(StackError::Failed("the demo runs on HAProxy only".into()));
        };
        Ok(Demo {
            strategy: strategy.name.clone(),
            scenario: scenario.name.clone(),
            store_words: strategy.store.in_words(),
            setting: Setting {
                balancer: strategy.balancer.name,
                redis,
                in_cookies: matches!(strategy.store, StoreConfig::Cookie { .. }),
                check,
            },
            urls: Urls {
                app: format!("http://127.0.0.1:{}/", haproxy.frontend),
                stats: format!("http://127.0.0.1:{}/", haproxy.stats),
                control: format!("http://127.0.0.1:{control_port}/{token}/"),
            },
            token,
            slots: scenario.servers.count + plan.spares,
            apps: RefCell::new(apps),
            removed: RefCell::default(),
            redis: redis_process,
            store,
            haproxy,
            spec,
            drain,
            started: Instant::now(),
            log: RefCell::default(),
            busy: Cell::new(None),
        })
    }

    pub fn admin_socket(&self) -> PathBuf {
        self.haproxy.admin_socket()
    }

    /// Sessions Redis holds now, or `None` while it is down (or for a
    /// strategy without Redis).
    pub async fn redis_sessions(&self) -> Option<u64> {
        self.store.as_ref()?.count(true).await
    }

    fn record(&self, action: Action, outcome: Result<Happened, String>) {
        let (sentence, failed) = match outcome {
            Ok(happened) => (sentence(&self.setting, &happened), false),
            Err(why) => (why, true),
        };
        self.log.borrow_mut().push(LogEntry {
            at: self.started.elapsed(),
            action: action.label(),
            sentence,
            failed,
        });
    }

    fn app(&self, index: u32) -> Option<Rc<RefCell<AppProcess>>> {
        self.apps.borrow().get(index as usize).cloned()
    }

    /// Carries out `action`: at once, or in the background for a long one
    /// (the page then shows it as under way). Only one long action runs at
    /// a time.
    pub async fn perform(self: &Rc<Self>, action: Action) {
        if let Some(under_way) = self.busy.get() {
            self.record(
                action,
                Err(format!(
                    "Not done: wait until the {} under way is over.",
                    under_way.label()
                )),
            );
            return;
        }
        if action.is_long() {
            self.busy.set(Some(action));
            let demo = self.clone();
            tokio::task::spawn_local(async move {
                demo.carry_out(action).await;
                demo.busy.set(None);
            });
        } else {
            self.carry_out(action).await;
        }
    }

    async fn carry_out(&self, action: Action) {
        let socket = self.admin_socket();
        match action {
            Action::Crash(n) => {
                let outcome = match self.app(n) {
                    Some(app) if app.borrow().is_running() => Ok(Happened::Crashed {
                        server: n,
                        held: operations::crash(&app).await,
                    }),
                    _ => Err(format!("Not done: app-{n} is not running.")),
                };
                self.record(action, outcome);
            }
            Action::Recover(n) => {
                let outcome = match self.app(n) {
                    Some(_) if self.removed.borrow().contains(&n) => Err(format!(
                        "Not done: app-{n} left the farm (scale in); scale out brings a server back."
                    )),
                    Some(app) if !app.borrow().is_running() => {
                        operations::recover(&app).map(|()| Happened::Recovered { server: n })
                    }
                    _ => Err(format!("Not done: app-{n} is running.")),
                };
                self.record(action, outcome);
            }
            Action::RedisRestart(mode) => {
                let outcome = match &self.redis {
                    None => Err("Not done: this strategy keeps sessions without Redis.".into()),
                    Some(redis) => {
                        let before = self.redis_sessions().await.unwrap_or(0);
                        let node = operations::RedisNode::Process(redis.clone());
                        operations::stop_redis(&node, mode).await;
                        let deadline = Instant::now() + Duration::from_secs(60);
                        operations::start_redis(&node, deadline).await;
                        // lbsim's own connection fails its first command
                        // after the restart (it reconnects on failure, as
                        // the app servers' do), so it asks until it answers.
                        let mut after = None;
                        while after.is_none() && Instant::now() < deadline {
                            after = self.redis_sessions().await;
                            if after.is_none() {
                                tokio::time::sleep(Duration::from_millis(20)).await;
                            }
                        }
                        match after {
                            Some(after) => Ok(Happened::RedisRestarted {
                                mode,
                                before,
                                after,
                            }),
                            None => Err("Redis did not come back within a minute.".into()),
                        }
                    }
                };
                self.record(action, outcome);
            }
            Action::ScaleOut => {
                let outcome = self.scale_out(&socket).await;
                self.record(action, outcome);
            }
            Action::ScaleIn => {
                let outcome = self.scale_in(&socket).await;
                self.record(action, outcome);
            }
            Action::Deploy => self.deploy(&socket).await,
        }
    }

    async fn scale_out(&self, socket: &std::path::Path) -> Result<Happened, String> {
        // A slot freed by "scale in" first, else the next unused one.
        let reuse = self.removed.borrow().iter().next().copied();
        let server = match reuse {
            Some(n) => {
                let app = self.app(n).ok_or("no such server")?;
                operations::recover(&app)?;
                operations::set_state(socket, n, AdminState::Ready).await?;
                self.removed.borrow_mut().remove(&n);
                n
            }
            None => {
                let n = self.apps.borrow().len() as u32;
                if n >= self.slots {
                    return Err(format!(
                        "Not done: HAProxy's configuration has {} server slots and all are in \
                         use.",
                        self.slots
                    ));
                }
                let app = operations::scale_out(socket, n, &self.spec).await?;
                self.apps.borrow_mut().push(Rc::new(RefCell::new(app)));
                n
            }
        };
        Ok(Happened::ScaledOut {
            server,
            servers: self.in_farm(),
        })
    }

    /// Servers in the farm: started and not removed (crashed ones count,
    /// as HAProxy still has them configured).
    fn in_farm(&self) -> u32 {
        self.apps.borrow().len() as u32 - self.removed.borrow().len() as u32
    }

    async fn scale_in(&self, socket: &std::path::Path) -> Result<Happened, String> {
        // The newest server leaves first, as autoscalers choose (and as
        // the simulator's `scale_in` does); one always stays.
        let newest = {
            let apps = self.apps.borrow();
            let removed = self.removed.borrow();
            let running: Vec<u32> = apps
                .iter()
                .filter(|a| a.borrow().is_running())
                .map(|a| a.borrow().index)
                .filter(|n| !removed.contains(n))
                .collect();
            (running.len() > 1).then(|| *running.last().unwrap_or(&0))
        };
        let Some(server) = newest else {
            return Err("Not done: the last running server stays.".into());
        };
        let app = self.app(server).ok_or("no such server")?;
        let held = operations::drain_and_stop(socket, &app, self.drain).await?;
        self.removed.borrow_mut().insert(server);
        Ok(Happened::ScaledIn {
            server,
            held,
            drain: self.drain,
        })
    }

    /// Every running server, lowest first, replaced by a new process.
    async fn deploy(&self, socket: &std::path::Path) {
        let servers: Vec<Rc<RefCell<AppProcess>>> = {
            let removed = self.removed.borrow();
            self.apps
                .borrow()
                .iter()
                .filter(|a| a.borrow().is_running() && !removed.contains(&a.borrow().index))
                .cloned()
                .collect()
        };
        let (inter, _, rise) = self.setting.check;
        let check_limit = inter * (rise + 1) + Duration::from_secs(5);
        let mut lost = 0;
        for app in &servers {
            let server = app.borrow().index;
            let outcome = operations::replace(socket, app, self.drain, check_limit).await;
            if let Ok(held) = outcome {
                lost += held;
            }
            let failed = outcome.is_err();
            self.record(
                Action::Deploy,
                outcome.map(|held| Happened::Replaced { server, held }),
            );
            if failed {
                return;
            }
        }
        self.record(
            Action::Deploy,
            Ok(Happened::DeployFinished {
                servers: servers.len() as u32,
                lost: if self.setting.redis.is_none() {
                    lost
                } else {
                    0
                },
            }),
        );
    }

    /// What the page shows of each server: name, HAProxy's status, the
    /// sessions in its memory (for in-memory sessions), and whether it
    /// left the farm.
    pub async fn servers(&self) -> Vec<ServerRow> {
        let statuses = runtime_api::server_statuses(&self.admin_socket())
            .await
            .unwrap_or_default();
        let apps: Vec<(u32, u16, bool)> = self
            .apps
            .borrow()
            .iter()
            .map(|a| {
                let a = a.borrow();
                (a.index, a.port(), a.is_running())
            })
            .collect();
        let mut rows = Vec::new();
        for (index, port, running) in apps {
            let name = operations::server_name(index);
            let status = statuses
                .iter()
                .find(|(n, _)| *n == name)
                .map_or_else(|| "?".to_string(), |(_, s)| s.clone());
            let sessions = if self.setting.redis.is_none() && running {
                sessions_held(port).await
            } else {
                None
            };
            rows.push(ServerRow {
                index,
                status,
                running,
                removed: self.removed.borrow().contains(&index),
                sessions,
            });
        }
        rows
    }
}

/// A server as the control page shows it.
pub struct ServerRow {
    pub index: u32,
    /// HAProxy's `show stat` status: UP, DOWN, MAINT, DRAIN, …
    pub status: String,
    pub running: bool,
    pub removed: bool,
    pub sessions: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_button_path_names_its_action() {
        for action in [
            Action::Crash(2),
            Action::Recover(0),
            Action::RedisRestart(RestartMode::Crash),
            Action::RedisRestart(RestartMode::Graceful),
            Action::ScaleOut,
            Action::ScaleIn,
            Action::Deploy,
        ] {
            assert_eq!(Action::parse(&action.path()), Some(action));
        }
        assert_eq!(Action::parse("crash/x"), None);
        assert_eq!(Action::parse("shutdown"), None);
    }
}
