//! Crashes the simulator draws at random, carried out on the stack: a
//! `server_crash` of a random server and `random_crashes`, whose servers
//! and times come from the fault's own random stream
//! (`sim::fault::target_server`, `random_crash_delay`), so the stack
//! kills the same servers at the same scenario times as the model.

use super::agreement::{run_and_compare, scenario};

/// Sticky on HAProxy and ip_hash on nginx, one random server crash and
/// random crashes (mean 3 m between failures, 30 s to repair) for 6
/// minutes: at seed 5, four crashes.
const REST: &str = r#"
[[strategy]]
name = "sticky"
balancer = "sticky"
store = "local"

[[strategy]]
name = "ip-hash"
balancer = "ip_hash"
store = "local"

[[fault]]
at = "2m"
kind = "server_crash"
server = "random"
recover_after = "1m"

[[fault]]
at = "3m"
kind = "random_crashes"
mtbf = "3m"
mttr = "30s"
until = "9m"
"#;

#[test]
fn random_crashes_hit_the_same_servers_at_the_same_times_and_agree_on_logouts() {
    let (dir, _, report) =
        run_and_compare(&scenario("stack-crashes", 5, REST), &["sticky", "ip-hash"]);
    eprintln!("{report}");
    let events = dir.path().join("results/stack-crashes/events.csv");
    let mut reader = csv::Reader::from_path(&events).unwrap();
    // (t, event, the detail's first words), sessions destroyed.
    let mut rows: Vec<(String, String, String, String, f64)> = Vec::new();
    for record in reader.records() {
        let r = record.unwrap();
        let event = r[2].to_string();
        if event != "server_crash" && event != "server_recovered" {
            continue;
        }
        let detail: String = r[3]
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        rows.push((
            r[1].to_string(),
            r[0].to_string(),
            event,
            detail,
            r[4].parse().unwrap(),
        ));
    }
    for name in ["sticky", "ip-hash"] {
        let of = |strategy: &str| -> Vec<_> {
            rows.iter()
                .filter(|r| r.0 == strategy)
                .map(|r| (r.1.clone(), r.2.clone(), r.3.clone(), r.4))
                .collect()
        };
        let (sim, stack) = (of(name), of(&format!("{name} [stack]")));
        let crashes = sim.iter().filter(|e| e.1 == "server_crash").count();
        assert!(crashes >= 3, "{name}: too few crashes to tell: {sim:?}");
        assert_eq!(sim.len(), stack.len(), "{name}:\n{sim:?}\n{stack:?}");
        for (a, b) in sim.iter().zip(&stack) {
            // The same server at the same scenario time.
            assert_eq!((&a.0, &a.1, &a.2), (&b.0, &b.1, &b.2), "{name}");
            // Sessions destroyed: the same users sit on the server (sticky
            // by the same round-robin first placement, ip_hash by the same
            // address), and differ only by who logged in again in between;
            // roughly Poisson, so four standard deviations plus 3.
            let tolerance = 4.0 * (a.3 + b.3).sqrt() + 3.0;
            assert!(
                (a.3 - b.3).abs() <= tolerance,
                "{name}: {a:?} against {b:?}"
            );
        }
    }
}
