//! Checking `[[strategy]]`: balancer, store and store-error policy.

use super::*;
use super::{Result, Validator};

impl Validator<'_> {
    pub(super) fn strategies(&self, raw: &RawScenario) -> Result<Vec<Strategy>> {
        if raw.strategy.is_empty() {
            return Err(self.src.error(
                Some(0..0),
                "strategy",
                "the scenario has no [[strategy]]; add at least one to compare",
            ));
        }
        if raw.strategy.len() > MAX_STRATEGIES {
            let extra = &raw.strategy[MAX_STRATEGIES];
            return Err(self.err(
                extra,
                &format!("strategy[{MAX_STRATEGIES}]"),
                &format!(
                    "the scenario has {} strategies; at most {MAX_STRATEGIES} are allowed (each \
                     is a whole simulation held in memory until the report is written)",
                    raw.strategy.len()
                ),
            ));
        }
        // `[store.redis]` is checked on its own too, so a mistake there is
        // reported even when no strategy uses it, or every strategy
        // overrides the wrong key.
        if let Some(base) = &raw.store.redis {
            self.redis(Some(base), None, 0)?;
        }
        let local_latency = match raw.store.local.as_ref().and_then(|l| l.latency.as_ref()) {
            Some(latency) => self.dist(latency, "store.local.latency", false)?,
            None => Dist::constant(SimDuration::from_micros(DEFAULT_LOCAL_LATENCY_US)),
        };
        let cookie_latency = match raw.store.cookie.as_ref().and_then(|c| c.latency.as_ref()) {
            Some(latency) => self.dist(latency, "store.cookie.latency", false)?,
            None => Dist::constant(SimDuration::from_micros(DEFAULT_COOKIE_LATENCY_US)),
        };
        let mut strategies: Vec<Strategy> = Vec::with_capacity(raw.strategy.len());
        for (i, spanned) in raw.strategy.iter().enumerate() {
            let s = spanned.get_ref();
            let field = |key: &str| format!("strategy[{i}].{key}");
            let name = s.name.get_ref().trim().to_string();
            if name.is_empty() {
                return Err(self.err(&s.name, &field("name"), "must not be empty"));
            }
            if strategies.iter().any(|other| other.name == name) {
                return Err(self.err(
                    &s.name,
                    &field("name"),
                    &format!("`{name}` is used by another strategy; names must be unique"),
                ));
            }
            let balancer = balancer::find(s.balancer.get_ref()).ok_or_else(|| {
                let known: Vec<&str> = balancer::REGISTRY.iter().map(|b| b.name).collect();
                self.err(
                    &s.balancer,
                    &field("balancer"),
                    &format!(
                        "unknown balancer `{}`; known: {}",
                        s.balancer.get_ref(),
                        known.join(", ")
                    ),
                )
            })?;
            let store = match s.store.get_ref().as_str() {
                "local" => {
                    if let Some(redis) = &s.redis {
                        return Err(self.err(
                            redis,
                            &field("redis"),
                            "Redis settings do not apply to store = \"local\"",
                        ));
                    }
                    StoreConfig::Local {
                        latency: local_latency.clone(),
                    }
                }
                "redis" => {
                    StoreConfig::Redis(self.redis(raw.store.redis.as_ref(), s.redis.as_ref(), i)?)
                }
                "cookie" => {
                    if let Some(redis) = &s.redis {
                        return Err(self.err(
                            redis,
                            &field("redis"),
                            "Redis settings do not apply to store = \"cookie\"",
                        ));
                    }
                    StoreConfig::Cookie {
                        latency: cookie_latency.clone(),
                    }
                }
                other => {
                    return Err(self.err(
                        &s.store,
                        &field("store"),
                        &format!("unknown store `{other}`; known: local, redis, cookie"),
                    ));
                }
            };
            let on_store_error = match s.on_store_error.as_ref().map(|p| (p, p.get_ref().as_str()))
            {
                None | Some((_, "fail")) => OnStoreError::Fail,
                Some((_, "logout")) => OnStoreError::Logout,
                Some((_, "fallback_auth")) => {
                    let reauth_latency = match &s.reauth_latency {
                        Some(d) => self.dist(d, &field("reauth_latency"), false)?,
                        None => Dist::constant(SimDuration::from_millis(DEFAULT_REAUTH_MS)),
                    };
                    OnStoreError::FallbackAuth { reauth_latency }
                }
                Some((p, other)) => {
                    return Err(self.err(
                        p,
                        &field("on_store_error"),
                        &format!("unknown policy `{other}`; use fail, logout or fallback_auth"),
                    ));
                }
            };
            if !matches!(on_store_error, OnStoreError::FallbackAuth { .. })
                && let Some(d) = &s.reauth_latency
            {
                return Err(self.err(
                    d,
                    &field("reauth_latency"),
                    "needs on_store_error = \"fallback_auth\"",
                ));
            }
            strategies.push(Strategy {
                name,
                balancer,
                store,
                on_store_error,
            });
        }
        Ok(strategies)
    }
}
