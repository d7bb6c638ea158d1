//! The balancer in front of a strategy's app servers: HAProxy for every
//! balancer it has (`haproxy::balance`), nginx for `ip_hash`, which is
//! nginx's own.

use std::cell::RefCell;
use std::rc::Rc;

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
    /// Shared with the farm's faults, which reload it.
    Nginx(Rc<RefCell<NginxProcess>>),
}

impl Front {
    /// The port users connect to.
    pub fn frontend(&self) -> u16 {
        match self {
            Front::Haproxy(h) => h.frontend,
            Front::Nginx(n) => n.borrow().frontend,
        }
    }

    /// The configuration it started with.
    pub fn config(&self) -> String {
        match self {
            Front::Haproxy(h) => h.config.clone(),
            Front::Nginx(n) => n.borrow().config.clone(),
        }
    }
}
