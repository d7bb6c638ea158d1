//! A crashed *machine* on loopback, for `server_crash` with `mode =
//! "host"`: the app server's port neither accepts a connection nor
//! refuses it, so every attempt waits out the balancer's `timeout connect`,
//! as a connection to a machine that lost power does (its kernel sends no
//! RST; the SYNs go unanswered). A killed *process* is different: its
//! kernel refuses the port at once, and HAProxy retries after its
//! turn-around (`sim::lifecycle::retry` models both).
//!
//! How, on one machine without firewall rules: after the SIGKILL, lbsim
//! listens on the dead server's port with a backlog of 0 and fills the
//! accept queue with one connection of its own that it never accepts.
//! Linux then drops every further SYN to the port without an answer
//! (`tcp_conn_request` in net/ipv4/tcp_input.c: `if
//! (sk_acceptq_is_full(sk)) … goto drop`, counted as `ListenOverflows`),
//! so the client's `connect` times out: checked here, a connect
//! with a 1.5 s timeout to such a port failed after exactly 1.5 s. The
//! health checks time out the same way (HAProxy: min(`timeout connect`,
//! `inter`) for a check's connection). When the machine comes back
//! (`recover_after`) the listener is dropped and the new process binds the
//! port.
//!
//! Simplified: requests in flight at the crash end at once with a reset
//! (the process is SIGKILLed first), where a real dead host would leave
//! them hanging until `timeout server`; the model fails them at once too.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

use socket2::{Domain, Socket, Type};

/// How long lbsim's own connection may take to fill the queue: on
/// loopback it takes microseconds, unless another got there first.
const FILL_TIMEOUT: Duration = Duration::from_millis(100);

/// A port that swallows connection attempts; stops when dropped.
pub struct DeadHost {
    /// The listener with the full accept queue. Never accepted from.
    _listener: Socket,
    /// lbsim's own connection that fills that queue; `None` when a
    /// client's connection got there first, which fills it as well.
    _filler: Option<TcpStream>,
}

impl DeadHost {
    /// Makes loopback `port`, free a moment ago (its process was killed),
    /// unanswering.
    pub fn on(port: u16) -> io::Result<DeadHost> {
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let listener = Socket::new(Domain::IPV4, Type::STREAM, None)?;
        // The killed server's connections may linger in TIME_WAIT.
        listener.set_reuse_address(true)?;
        listener.bind(&address.into())?;
        listener.listen(0)?;
        // A balancer's connection (a retry, a health check) may reach the
        // queue between `listen` and this one: then the queue is full, and
        // this one times out like everyone else's. That client's request
        // goes unanswered until its own timeout, as on a dead host.
        let filler = match TcpStream::connect_timeout(&address, FILL_TIMEOUT) {
            Ok(filler) => Some(filler),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => None,
            Err(e) => return Err(e),
        };
        Ok(DeadHost {
            _listener: listener,
            _filler: filler,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_connection_to_a_dead_host_times_out_and_is_not_refused() {
        let port = crate::live::redis_process::free_port().unwrap();
        let dead = DeadHost::on(port).unwrap();
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let started = Instant::now();
        let error = TcpStream::connect_timeout(&address, Duration::from_millis(300)).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut, "{error}");
        assert!(started.elapsed() >= Duration::from_millis(300));
        // Back up: the port is free for the new process, and a connection
        // to nothing is refused at once, as to a killed process.
        drop(dead);
        let error = TcpStream::connect_timeout(&address, Duration::from_millis(300)).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused, "{error}");
        std::net::TcpListener::bind(address).expect("the port is free again");
    }
}
