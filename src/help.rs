//! The examples at the end of `--help` (and in the man page), one block
//! per command.
//!
//! Every line that starts with `lbsim` is a real command line: a test
//! (`tests/it/help.rs`) parses each one with the real clap definitions, up
//! to a shell `>` or `|`, so an example cannot name a flag that does not
//! exist. The `#` lines say what the command after them does; the blocks
//! can be pasted into a shell as they are.

pub const TOP: &str = "\
Examples:
  # the bundled scenarios, and what each one teaches
  lbsim list
  # run one: a table on stdout; CSV files, plots and reports in results/sticky-vs-redis/
  lbsim run sticky-vs-redis
  # the same run told event by event
  lbsim explain sticky-vs-redis
  # a copy of a bundled scenario to edit into your own
  lbsim init sticky-crash --out mine.toml
  # what changed between two results folders
  lbsim compare results/before results/after
  # one strategy on real HAProxy and app servers, for a class to click
  lbsim demo sticky-vs-redis --strategy \"sticky + in-memory\"

`lbsim help COMMAND` (or `lbsim COMMAND --help`): a command's options and examples.";

pub const RUN: &str = "\
Examples:
  # a bundled scenario by name, or any scenario file by its path
  lbsim run sticky-vs-redis
  lbsim run scenarios/sticky-crash.toml
  # the same scenario with another seed and more users, into another folder
  lbsim run sticky-crash --seed 3 --users 10000 --out results/seed-3
  # a shorter run without plots, the summary as CSV on stdout
  lbsim run sticky-crash --duration 10m --no-plots --format csv
  # the Redis strategies also against real redis-server processes, 60 times faster
  lbsim run redis-crash-small --live --time-scale 60";

pub const DEMO: &str = "\
Examples:
  # sticky sessions in memory: crash a student's server and they are logged out
  lbsim demo sticky-vs-redis --strategy \"sticky + in-memory\"
  # the same clicks with sessions in Redis: nobody is logged out
  lbsim demo sticky-vs-redis --strategy \"redis, no persistence\"
  # on other ports (the application, then stats, then control)
  lbsim demo sticky-vs-redis --port 9000

Needs haproxy (Debian: apt-get install haproxy) and, for Redis strategies,
redis-server. Everything listens on 127.0.0.1 only.";

pub const VALIDATE: &str = "\
Examples:
  lbsim validate mine.toml
  lbsim validate sticky-crash";

pub const EXPLAIN: &str = "\
Examples:
  lbsim explain sticky-vs-redis
  # a smaller run told the same way
  lbsim explain sticky-crash --users 200 --duration 20m";

pub const SWEEP: &str = "\
Examples:
  # forced logouts of in-memory sessions as servers are added
  lbsim sweep in-memory-problem --set servers.count=2,4,8,16 --metric logout_pct
  # every combination of two keys (the first --set varies slowest)
  lbsim sweep sticky-crash --set workload.users=1000,5000 --set session.ttl=10m,30m
  # into another folder, without the progress bar
  lbsim sweep sticky-crash --set servers.count=3,5 --out results/servers --quiet
  # one slice of four (e.g. a batch job's task), then the parts combined
  lbsim sweep sticky-crash --set servers.count=2,4,8,16 --shard 1/4 --out parts/1
  lbsim sweep merge parts/1 parts/2 parts/3 parts/4";

pub const SHOW: &str = "\
Examples:
  lbsim show sticky-crash
  # the same text into a file (lbsim init does this and never overwrites)
  lbsim show sticky-crash > mine.toml";

pub const INIT: &str = "\
Examples:
  # sticky-vs-redis.toml in the current folder
  lbsim init
  # another bundled scenario, under another name
  lbsim init redis-restart --out scenarios/my-redis.toml";

pub const COMPARE: &str = "\
Examples:
  # two seeds of the same scenario
  lbsim run sticky-crash --seed 1 --out results/seed-1
  lbsim run sticky-crash --seed 2 --out results/seed-2
  lbsim compare results/seed-1 results/seed-2
  # the same differences as CSV, for a script
  lbsim compare results/seed-1 results/seed-2 --format csv";

pub const COMPLETIONS: &str = "\
Examples:
  lbsim completions bash > ~/.local/share/bash-completion/completions/lbsim
  # zsh: a folder on $fpath, e.g. fpath=(~/.zfunc $fpath) in ~/.zshrc
  lbsim completions zsh > ~/.zfunc/_lbsim
  lbsim completions fish > ~/.config/fish/completions/lbsim.fish";

pub const MAN: &str = "\
Examples:
  # read it now
  lbsim man | man -l -
  # one page per command (lbsim.1, lbsim-run.1, ...) for MANPATH
  lbsim man --out ~/.local/share/man/man1";
