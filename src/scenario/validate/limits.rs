//! Limits on what a scenario may ask for, so that a typo such as an extra
//! zero is refused with a message instead of exhausting memory or running
//! for days. Each limit is a constant in `validate` with its reason; this
//! file checks the ones that depend on several faults at once.
//!
//! The bounds are deliberately conservative: they take every `scale_out`
//! in the file as if it came before every deploy and no `scale_in` ever
//! shrank the farm, which is simple to explain and never too low for a
//! scenario a person would write.

use toml::Spanned;

use super::*;
use super::{Result, Validator};

impl Validator<'_> {
    /// Checks the farm's size over the run (servers in service, servers
    /// ever created) and the expected number of random crashes.
    pub(super) fn farm_limits(
        &self,
        raw: &[Spanned<RawFault>],
        faults: &[Fault],
        servers: u32,
        end: SimDuration,
    ) -> Result<()> {
        let mut farm = u64::from(servers);
        for (i, fault) in faults.iter().enumerate() {
            if let FaultKind::ScaleOut { add } = fault.kind {
                farm += u64::from(add);
                if farm > MAX_SERVERS as u64 {
                    return Err(self.err(
                        raw[i].get_ref().add.as_ref().expect("validated"),
                        &format!("fault[{i}].add"),
                        &format!(
                            "with servers.count and the scale_out faults up to this one, the \
                             farm could reach {farm} servers; at most {MAX_SERVERS} are allowed"
                        ),
                    ));
                }
            }
        }
        // Every deploy replaces at most the whole farm with new servers.
        let mut ever = farm;
        for (i, fault) in faults.iter().enumerate() {
            if matches!(
                fault.kind,
                FaultKind::RollingDeploy { .. } | FaultKind::BlueGreen { .. }
            ) {
                ever += farm;
                if ever > MAX_SERVER_IDS {
                    return Err(self.err(
                        &raw[i].get_ref().kind,
                        &format!("fault[{i}].kind"),
                        &format!(
                            "each deploy replaces up to {farm} servers with new ones; with the \
                             deploys up to this one the run could create {ever} servers, and \
                             at most {MAX_SERVER_IDS} are allowed"
                        ),
                    ));
                }
            }
        }
        for (i, fault) in faults.iter().enumerate() {
            if let FaultKind::RandomCrashes { mtbf, mttr, until } = fault.kind {
                let span = until.min(SimTime::ZERO + end).since(fault.at);
                let cycle = (mtbf + mttr).as_secs_f64();
                let expected = farm as f64 * span.as_secs_f64() / cycle;
                if expected > MAX_RANDOM_CRASHES {
                    return Err(self.err(
                        raw[i].get_ref().mtbf.as_ref().expect("validated"),
                        &format!("fault[{i}].mtbf"),
                        &format!(
                            "up to {farm} servers crashing every {mtbf} (and back after \
                             {mttr}) for {span} means about {expected:.0} crashes; at most \
                             {MAX_RANDOM_CRASHES} are allowed: use a longer mtbf"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}
