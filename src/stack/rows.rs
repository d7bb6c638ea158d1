//! The stack's rows beside the simulated (and live) ones: each
//! `<strategy> [stack]` row right after its strategy's rows, with where it
//! came from (`meta.json`: the balancer's and Redis's versions, the
//! configuration file) and a note on what ran.

use super::StackRun;
use super::front::Program;
use crate::report::meta::RowOrigin;
use crate::sim::config::Scenario;
use crate::sim::metrics::StrategyResult;
use crate::sim::store::StoreConfig;
use crate::sim::time::SimDuration;

impl StackRun {
    /// Adds the stack rows to a table's rows: each right after the rows of
    /// its strategy (simulated, then live).
    pub fn merge(
        self,
        scenario: &Scenario,
        results: Vec<StrategyResult>,
        origins: Vec<RowOrigin>,
        mut notes: Vec<String>,
    ) -> (Vec<StrategyResult>, Vec<RowOrigin>, Vec<String>) {
        let fronts = match (&self.haproxy_version, &self.nginx_version) {
            (Some(h), Some(n)) => format!("HAProxy {h} (nginx {n} for ip_hash)"),
            (Some(h), None) => format!("HAProxy {h}"),
            (None, Some(n)) => format!("nginx {n}"),
            (None, None) => "no balancer".into(),
        };
        notes.push(format!(
            "rows marked [stack] ran on real processes: {} in front of {} lbsim app-server \
             processes{}, with the users as real HTTP clients, at time_scale {} ({} of wall time)",
            fronts,
            scenario.servers.count,
            match &self.redis_version {
                Some(v) => format!(" and redis-server {v}"),
                None => String::new(),
            },
            self.time_scale,
            SimDuration::from_nanos_f64(scenario.duration.as_nanos() as f64 / self.time_scale)
        ));
        notes.extend(self.notes);
        let mut out_results = Vec::new();
        let mut out_origins = Vec::new();
        let mut stack_rows = self.results.into_iter().peekable();
        let pairs: Vec<(StrategyResult, RowOrigin)> = results.into_iter().zip(origins).collect();
        let mut i = 0;
        for (index, strategy) in scenario.strategies.iter().enumerate() {
            while i < pairs.len() && pairs[i].1.strategy == strategy.name {
                out_results.push(pairs[i].0.clone());
                out_origins.push(pairs[i].1.clone());
                i += 1;
            }
            while let Some((_, row)) = stack_rows.next_if(|(s, _)| *s == index) {
                let config = self
                    .config_names
                    .iter()
                    .find(|(s, _)| *s == index)
                    .map(|(_, name)| name.clone());
                out_origins.push(RowOrigin {
                    name: row.name.clone(),
                    strategy: strategy.name.clone(),
                    mode: "stack",
                    redis_server_version: self
                        .redis_version
                        .clone()
                        .filter(|_| matches!(strategy.store, StoreConfig::Redis(_))),
                    haproxy_version: self.haproxy_version.clone().filter(|_| {
                        Program::for_balancer(strategy.balancer.name) == Program::Haproxy
                    }),
                    nginx_version: self.nginx_version.clone().filter(|_| {
                        Program::for_balancer(strategy.balancer.name) == Program::Nginx
                    }),
                    balancer_config: config,
                    time_scale: Some(self.time_scale),
                });
                out_results.push(row);
            }
        }
        (out_results, out_origins, notes)
    }
}
