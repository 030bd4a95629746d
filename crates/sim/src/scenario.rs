//! Scenario files (TOML): every key optional, applied over the defaults before the
//! command-line flags (see [`crate::config`] for the order).

use crate::config::{parse_seed, ConfigError, Mix, SimConfig};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// A scenario file (TOML). Every key is optional; flags on the command line win.
///
/// ```toml
/// seed = "0x2a"          # or an integer
/// nodes = 200
/// rounds = 1000
/// liveness_rounds = 8
/// committee_size = 64
/// audit_sample = 8
/// assert_honest = false
/// adversary_restake = true   # slashed adversaries stake again (operator policy)
/// grind_tries = 16           # raise variants a grinder evaluates
/// flood_raises = 32          # extra raises a raise-flood node sends per round
///
/// [task]
/// round_time = 12
/// submission_window = 4
/// audit_window = 6
/// allowed_failed_distributions = 3
///
/// [mix]                  # percent of nodes (and stake); honest gets the rest
/// garbage = 10
/// colluder = 5.5
///
/// [faults]
/// flaky_rate_bps = 3000
/// loss_bps = 100
/// delay_bps = 200
/// delay_slots_max = 2
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub seed: Option<SeedValue>,
    pub nodes: Option<u32>,
    pub rounds: Option<u64>,
    pub liveness_rounds: Option<u64>,
    pub committee_size: Option<u16>,
    pub audit_sample: Option<u16>,
    pub assert_honest: Option<bool>,
    pub adversary_restake: Option<bool>,
    pub grind_tries: Option<u32>,
    pub flood_raises: Option<u32>,
    pub task: Option<ScenarioTask>,
    pub mix: Option<BTreeMap<String, f64>>,
    pub faults: Option<ScenarioFaults>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum SeedValue {
    Int(u64),
    Text(String),
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioTask {
    pub round_time: Option<u64>,
    pub submission_window: Option<u64>,
    pub audit_window: Option<u64>,
    pub allowed_failed_distributions: Option<u16>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFaults {
    pub flaky_rate_bps: Option<u64>,
    pub loss_bps: Option<u64>,
    pub delay_bps: Option<u64>,
    pub delay_slots_max: Option<u64>,
}

impl Scenario {
    pub fn parse(path: &Path, text: &str) -> Result<Scenario, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::ScenarioParse {
            path: path.to_path_buf(),
            reason: e.to_string().trim().to_string(),
        })
    }

    pub fn load(path: &Path) -> Result<Scenario, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::ScenarioRead {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        Scenario::parse(path, &text)
    }

    /// Apply this scenario over `cfg`.
    pub fn apply(&self, cfg: &mut SimConfig) -> Result<(), ConfigError> {
        if let Some(s) = &self.seed {
            cfg.seed = match s {
                SeedValue::Int(n) => *n,
                SeedValue::Text(t) => parse_seed(t)?,
            };
        }
        set(&mut cfg.nodes, self.nodes);
        set(&mut cfg.rounds, self.rounds);
        set(&mut cfg.liveness_rounds, self.liveness_rounds);
        set(&mut cfg.committee_size, self.committee_size);
        set(&mut cfg.audit_sample, self.audit_sample);
        set(&mut cfg.assert_honest, self.assert_honest);
        set(&mut cfg.adversary_restake, self.adversary_restake);
        set(&mut cfg.grind_tries, self.grind_tries);
        set(&mut cfg.flood_raises, self.flood_raises);
        if let Some(t) = &self.task {
            set(&mut cfg.round_time, t.round_time);
            set(&mut cfg.submission_window, t.submission_window);
            set(&mut cfg.audit_window, t.audit_window);
            set(
                &mut cfg.allowed_failed_distributions,
                t.allowed_failed_distributions,
            );
        }
        if let Some(m) = &self.mix {
            cfg.mix = Mix::from_map(m)?;
        }
        if let Some(f) = &self.faults {
            set(&mut cfg.flaky_rate_bps, f.flaky_rate_bps);
            set(&mut cfg.loss_bps, f.loss_bps);
            set(&mut cfg.delay_bps, f.delay_bps);
            set(&mut cfg.delay_slots_max, f.delay_slots_max);
        }
        Ok(())
    }
}

fn set<T>(slot: &mut T, v: Option<T>) {
    if let Some(v) = v {
        *slot = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Strategy;

    #[test]
    fn scenario_file_applies_and_rejects_unknown_keys() {
        let p = Path::new("s.toml");
        let s = Scenario::parse(
            p,
            "seed = \"0x10\"\nnodes = 40\n[mix]\ngarbage = 10\n[faults]\nloss_bps = 50\n",
        )
        .unwrap();
        let mut cfg = SimConfig::default();
        s.apply(&mut cfg).unwrap();
        assert_eq!((cfg.seed, cfg.nodes, cfg.loss_bps), (16, 40, 50));
        assert_eq!(cfg.mix.0[&Strategy::Garbage], 1_000);
        let e = Scenario::parse(p, "nodez = 3\n").unwrap_err();
        assert!(e.to_string().contains("nodez"), "{e}");
        let bad = SimConfig {
            submission_window: 10,
            audit_window: 10,
            ..SimConfig::default()
        };
        assert_eq!(
            bad.validate().unwrap_err(),
            ConfigError::Windows {
                sw: 10,
                aw: 10,
                rt: 12
            }
        );
    }
}
