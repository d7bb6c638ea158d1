//! Simulated and live rows of one lone Redis agree.

use super::*;

#[test]
fn simulated_and_live_forced_logouts_agree() {
    // redis-crash-small: 300 active users, Redis killed at 3 min.
    // - no persistence: every user holds a session and loses it, so both
    //   runs log out all 300 (live timing can only shift a login that was
    //   in flight at the kill, hence 2% slack);
    // - AOF always and everysec: a SIGKILL loses no acknowledged write, so
    //   nobody is logged out, simulated or live (slack of 2 for a write in
    //   flight at the kill).
    // Errors depend on the wall-clock outage (connection refused, then
    // LOADING), so only their order of magnitude must agree.
    let dir = tempfile::tempdir().unwrap();
    let out = lbsim(
        dir.path(),
        &["run", "redis-crash-small", "--live", "--format", "json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = json["strategies"].as_array().unwrap();
    let find = |name: &str| {
        rows.iter()
            .find(|r| r["strategy"] == name)
            .unwrap_or_else(|| panic!("no row {name}"))
    };
    let num = |row: &serde_json::Value, key: &str| row[key].as_u64().unwrap();
    for name in ["no persistence", "AOF always", "AOF everysec"] {
        let (sim, live) = (find(name), find(&format!("{name} [live]")));
        let (sim_out, live_out) = (num(sim, "forced_logouts"), num(live, "forced_logouts"));
        if name == "no persistence" {
            assert_eq!(sim_out, 300);
            assert!(live_out.abs_diff(300) <= 6, "{name}: live {live_out}");
        } else {
            assert_eq!(sim_out, 0, "{name}");
            assert!(live_out <= 2, "{name}: live {live_out}");
        }
        let (sim_err, live_err) = (num(sim, "errors"), num(live, "errors"));
        assert!(
            live_err >= sim_err / 4 && live_err <= sim_err * 4,
            "{name}: errors {sim_err} vs {live_err}"
        );
    }
    let meta: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("results/redis-crash-small/meta.json")).unwrap(),
    )
    .unwrap();
    let modes: Vec<&str> = meta["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["mode"].as_str().unwrap())
        .collect();
    assert_eq!(modes, ["sim", "live", "sim", "live", "sim", "live"]);
}
