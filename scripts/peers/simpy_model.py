#!/usr/bin/env python3
"""A SimPy peer of lbsim's bench-1m workload (issue 11), for scripts/bench.sh.

The same users and servers as scenarios/bench-1m.toml, written the way a
SimPy user would write them, to compare lbsim's counts and its CPU cost per
simulated request with a general-purpose simulation library:

- users arrive spread evenly over a 1-minute ramp (user i of n at i * 60 / n
  seconds, as lbsim's `arrival = { ramp = "1m" }`, src/sim/workload.rs);
- each sends a request (a login first), then alternates an exponential think
  time (mean 10 s) and a request;
- 8 app servers, each request served in a constant 2 ms; bench-1m leaves
  `servers.workers` at 0 (unlimited), so lbsim never queues a request and
  neither does this model: a request simply holds for 2 ms;
- sessions live in each server's memory (`store = "local"`): a page request
  finds its session only on the server that created it (or last refreshed
  it), with a sliding 30-minute TTL;
- a missing session the user still believes valid is a *forced logout*; the
  user logs in again at once (a new request, a new session), exactly as
  lbsim's `UserSession::apply` (src/sim/request.rs) says; an expired one
  (never, in 15 minutes) counts as `expired`;
- server 3 crashes at 5 min and comes back empty 1 min later (bench-1m's
  `server_crash`): its memory is lost, the balancer knows at once (no health
  checks), and a request it was serving fails when it would have completed
  (an error: the user keeps its session id and thinks, as lbsim does).
  The crash hits every strategy, as a lbsim fault does. bench-1m's Redis
  restart touches neither strategy here, so it is left out.

Strategies: `round-robin+in-memory` (every request to the next server that
is up) and `sticky+in-memory` (a user is pinned to the server of its first
request; if that server is down it is re-pinned round-robin and stays there).

Output, one line per strategy (the last field is the CPU time of the run):
  strategy=<name> users=<n> requests=<n> logins=<n> forced_logouts=<n> expired=<n> errors=<n> cpu_s=<x>

Usage (SimPy from `pip install -r scripts/peers/requirements.txt`):
  python3 scripts/peers/simpy_model.py --users 10000 --duration 900 --seed 11
"""

import argparse
import itertools
import random
import time

import simpy

SERVERS = 8
SERVICE_S = 0.002  # servers.service_time, constant
THINK_MEAN_S = 10.0  # workload.think_time, exponential
RAMP_S = 60.0  # workload.arrival = { ramp = "1m" }
TTL_S = 1800.0  # session.ttl
CRASH_AT_S, CRASH_SERVER, RECOVER_AFTER_S = 300.0, 3, 60.0  # fault[0]


class Farm:
    """The app servers, their session memories, the balancer and the counts."""

    def __init__(self, env, sticky, crash):
        self.env = env
        self.sticky = sticky
        self.up = [True] * SERVERS
        self.epoch = [0] * SERVERS  # bumped by a crash: in-flight requests fail
        # Per server, session id -> last access. Orphans (sessions a user left
        # behind when it logged in elsewhere) are never asked for again and
        # never swept: more memory than lbsim's counts, the same numbers.
        self.memory = [{} for _ in range(SERVERS)]
        self.cursor = 0  # round-robin: the server the next pick tries first
        self.pins = {}  # sticky: user -> server
        self.session_ids = itertools.count(1)
        self.counts = dict(requests=0, logins=0, forced_logouts=0, expired=0, errors=0)
        if crash:
            env.process(self.crash())

    def next_up(self):
        """lbsim's balancer::next_up: the next server that is up, in turn."""
        for step in range(SERVERS):
            s = (self.cursor + step) % SERVERS
            if self.up[s]:
                self.cursor = (s + 1) % SERVERS
                return s
        return None

    def pick(self, user):
        if self.sticky:
            pin = self.pins.get(user)
            if pin is not None and self.up[pin]:
                return pin
            pin = self.next_up()  # first request, or the pinned server is down
            if pin is not None:
                self.pins[user] = pin
            return pin
        return self.next_up()

    def crash(self):
        yield self.env.timeout(CRASH_AT_S)
        self.up[CRASH_SERVER] = False
        self.epoch[CRASH_SERVER] += 1
        self.memory[CRASH_SERVER] = {}  # the process and its sessions are gone
        yield self.env.timeout(RECOVER_AFTER_S)
        self.up[CRASH_SERVER] = True  # a new, empty process


def user(env, farm, uid, rng, end):
    """One user: request, think, request, ... until the end of the run."""
    session, last_access = None, 0.0  # the cookie, and when it last worked
    count = farm.counts
    while True:
        server = farm.pick(uid)
        started = env.now
        if server is None:
            outcome = "error"  # no server up: a 503 at once
        else:
            epoch = farm.epoch[server]
            memory = farm.memory[server]
            # The store operation happens when the request starts (lbsim's
            # World::start); the user learns the outcome 2 ms later.
            if session is None:
                new_session = next(farm.session_ids)
                memory[new_session] = started
                outcome = "login"
            else:
                seen = memory.get(session)
                if seen is not None and started < seen + TTL_S:
                    memory[session] = started  # sliding TTL
                    outcome = "ok"
                else:
                    memory.pop(session, None)  # found expired: dropped
                    # The user's own clock decides: still valid -> forced.
                    expired = started >= last_access + TTL_S
                    outcome = "expired" if expired else "forced_logout"
            yield env.timeout(SERVICE_S)
            if farm.epoch[server] != epoch:
                outcome = "error"  # the server crashed meanwhile
        count["requests"] += 1
        if session is None:
            count["logins"] += 1
        if outcome == "login":
            session, last_access = new_session, started
        elif outcome == "ok":
            last_access = started
        elif outcome == "error":
            count["errors"] += 1  # keeps its session id, thinks, retries
        else:  # forced_logout or expired
            count["forced_logouts" if outcome == "forced_logout" else "expired"] += 1
            session = None
            continue  # back to the login page: log in again at once
        think = rng.expovariate(1.0 / THINK_MEAN_S)
        if env.now + think >= end:
            return  # lbsim never sends a request due at or after the end
        yield env.timeout(think)


def arrivals(env, farm, users, rng, end):
    for i in range(users):
        yield env.timeout(i * RAMP_S / users - env.now)
        env.process(user(env, farm, i, rng, end))


def run(name, sticky, args):
    start = time.process_time()
    env = simpy.Environment()
    farm = Farm(env, sticky, crash=not args.no_crash)
    rng = random.Random(args.seed)
    env.process(arrivals(env, farm, args.users, rng, args.duration))
    env.run(until=args.duration)  # events at exactly `until` are not run
    cpu = time.process_time() - start
    fields = " ".join(f"{k}={v}" for k, v in farm.counts.items())
    print(f"strategy={name} users={args.users} {fields} cpu_s={cpu:.3f}", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--users", type=int, default=10_000)
    p.add_argument("--duration", type=float, default=900.0, help="seconds simulated")
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--strategy", choices=["round-robin", "sticky", "both"], default="both")
    p.add_argument("--no-crash", action="store_true", help="leave out the server crash")
    args = p.parse_args()
    if args.strategy in ("round-robin", "both"):
        run("round-robin+in-memory", False, args)
    if args.strategy in ("sticky", "both"):
        run("sticky+in-memory", True, args)


if __name__ == "__main__":
    main()
