//! The balancer in front of a strategy's app servers: HAProxy for every
//! balancer it has (`haproxy::balance`), nginx for `ip_hash`, which is
//! nginx's own.

use std::path::PathBuf;

use super::nginx::NginxProcess;
use super::processes::HaproxyProcess;

/// The real program that runs a balancer model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Program {
    Haproxy,
    Nginx,
}

impl Program {
    /// The program for the balancer model named `balancer`.
    pub fn for_balancer(balancer: &str) -> Program {
        if super::haproxy::balance(balancer).is_some() {
            Program::Haproxy
        } else {
            Program::Nginx
        }
    }

    /// Its binary's name, which is also its Debian package's stem.
    pub fn binary(self) -> &'static str {
        match self {
            Program::Haproxy => "haproxy",
            Program::Nginx => "nginx",
        }
    }
}

/// A running balancer.
pub(crate) enum Front {
    Haproxy(HaproxyProcess),
    Nginx(NginxProcess),
}

impl Front {
    /// The port users connect to.
    pub fn frontend(&self) -> u16 {
        match self {
            Front::Haproxy(h) => h.frontend,
            Front::Nginx(n) => n.frontend,
        }
    }

    /// The configuration it runs.
    pub fn config(&self) -> &str {
        match self {
            Front::Haproxy(h) => &h.config,
            Front::Nginx(n) => &n.config,
        }
    }

    /// HAProxy's runtime API socket; nginx has none (it learns of a
    /// server's state from its own failed connections).
    pub fn admin_socket(&self) -> Option<PathBuf> {
        match self {
            Front::Haproxy(h) => Some(h.admin_socket()),
            Front::Nginx(_) => None,
        }
    }
}
