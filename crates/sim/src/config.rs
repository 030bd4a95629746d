//! What a run simulates: node count, strategy mix, task parameters, faults. Built from
//! defaults, then a scenario file (TOML), then command-line flags, in that order; or derived
//! entirely from the seed (`--swarm`, VOPR style).

use rand::Rng;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// Basis points in 100 % (the protocol's constant).
pub const BPS: u64 = gradual_types::constants::BPS_DENOMINATOR;
/// Most simulated nodes (a run allocates per node; 1 M keeps a typo from eating the machine).
pub const NODES_MAX: u32 = 1_000_000;
/// Most rounds of one run.
pub const ROUNDS_MAX: u64 = 1_000_000;

/// How a simulated node behaves. The behaviour lives in the node's in-memory task (what it
/// answers to the scheduler's actions) or in the driver (when it is online).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Does the work, checks exactly, submits the default equal-split list.
    Honest,
    /// Submits a garbage proof every round; audits and distributes honestly.
    Garbage,
    /// Waits for a peer's proof of the same round to land and submits a copy of it.
    Copier,
    /// Does the work but never checks a peer: every check answers `Valid`.
    Lazy,
    /// Does the work but answers `Invalid` to every check, so it raises audits on honest
    /// peers every round.
    FalseAccuser,
    /// Does the work; when selected, inflates its own reward or drops other nodes.
    BadDistributor,
    /// Honest, but offline for a whole round of time at `flaky_rate_bps`.
    Flaky,
    /// Submits garbage; votes `Valid` for fellow colluders and `Invalid` for everyone else
    /// on every committee it sits on (proofs and lists); its lists pay only colluders.
    Colluder,
    /// A colluder that grinds: before each raise it evaluates `grind_tries` variants of its
    /// raise transaction and predicts the committee each would get (from the randomness it
    /// can see), and raises only where the prediction favours grinders. Garbage proofs,
    /// `Valid` for fellow grinders, honest lists.
    Grinder,
    /// A false accuser that raises as late as the ledger allows (it holds its sampled
    /// verdicts until the raise cutoff) and then tries to raise after the cutoff.
    LateAccuser,
    /// A false accuser that also raises on as many peers as it can each round (up to
    /// `flood_raises` extra raises, beyond its `audit_sample`).
    RaiseFlood,
    /// Honest work and checks, but submits nothing when it wins a distribution turn
    /// (Sybils that block lists; each missed turn is slashed `missed_list_bps`).
    ListBlocker,
    /// Honest nodes of a malicious task manager: in the middle of the run the manager sends
    /// `UpdateTask` (bounty 0, a huge minimum stake) and `SetActive(false)` mid-round.
    ManagerUpdater,
    /// An honest operator whose task code turns "time-bombed" at round
    /// `strategy::TIME_BOMB_ROUND`: from then on every check answers `Invalid`. Its
    /// node keeps the default audit guard, so it abstains instead of accusing.
    TimeBombed,
}

impl Strategy {
    pub const ALL: [Strategy; 14] = [
        Strategy::Honest,
        Strategy::Garbage,
        Strategy::Copier,
        Strategy::Lazy,
        Strategy::FalseAccuser,
        Strategy::BadDistributor,
        Strategy::Flaky,
        Strategy::Colluder,
        Strategy::Grinder,
        Strategy::LateAccuser,
        Strategy::RaiseFlood,
        Strategy::ListBlocker,
        Strategy::ManagerUpdater,
        Strategy::TimeBombed,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Strategy::Honest => "honest",
            Strategy::Garbage => "garbage",
            Strategy::Copier => "copier",
            Strategy::Lazy => "lazy",
            Strategy::FalseAccuser => "false-accuser",
            Strategy::BadDistributor => "bad-distributor",
            Strategy::Flaky => "flaky",
            Strategy::Colluder => "colluder",
            Strategy::Grinder => "grinder",
            Strategy::LateAccuser => "late-accuser",
            Strategy::RaiseFlood => "raise-flood",
            Strategy::ListBlocker => "list-blocker",
            Strategy::ManagerUpdater => "manager-updater",
            Strategy::TimeBombed => "time-bombed",
        }
    }

    pub fn parse(s: &str) -> Option<Strategy> {
        Strategy::ALL.into_iter().find(|x| x.name() == s)
    }

    /// Whether this strategy submits proofs that fail an exact check.
    pub fn cheats_proofs(self) -> bool {
        matches!(
            self,
            Strategy::Garbage | Strategy::Copier | Strategy::Colluder | Strategy::Grinder
        )
    }

    /// Whether this strategy votes `Invalid` on every correct proof it checks (a bloc that
    /// can convict innocents when it holds more than K/2 seats).
    pub fn votes_invalid_on_honest(self) -> bool {
        matches!(
            self,
            Strategy::FalseAccuser
                | Strategy::LateAccuser
                | Strategy::RaiseFlood
                | Strategy::Colluder
                | Strategy::Grinder
        )
    }

    /// Whether an operator runs this node as an adversary (everything but `honest`).
    pub fn adversary(self) -> bool {
        self != Strategy::Honest
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a configuration or scenario file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("error parsing mix '{input}': {reason}")]
    BadMix { input: String, reason: String },
    #[error("adversary shares add up to {total_bps} bps, the most is 10000")]
    SharesExceed { total_bps: u64 },
    #[error("{field} is {got}, it must be between {min} and {max}")]
    OutOfRange {
        field: &'static str,
        got: u64,
        min: u64,
        max: u64,
    },
    #[error("submission_window ({sw}) + audit_window ({aw}) must not exceed round_time ({rt})")]
    Windows { sw: u64, aw: u64, rt: u64 },
    #[error("error parsing seed '{input}': expected a decimal or 0x-prefixed hex u64")]
    BadSeed { input: String },
    #[error("error reading scenario file '{path}': {reason}")]
    ScenarioRead { path: PathBuf, reason: String },
    #[error("error parsing scenario file '{path}' (TOML): {reason}")]
    ScenarioParse { path: PathBuf, reason: String },
    #[error("error parsing list '{input}': {reason}")]
    BadList { input: String, reason: String },
}

/// Parse a seed: decimal or `0x` hex.
pub fn parse_seed(s: &str) -> Result<u64, ConfigError> {
    let t = s.trim();
    let r = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => t.parse(),
    };
    r.map_err(|_| ConfigError::BadSeed {
        input: s.to_string(),
    })
}

/// Parse a percentage with up to two decimals (`12.5`) into basis points.
fn parse_pct_bps(s: &str) -> Option<u64> {
    let s = s.trim().trim_end_matches('%');
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty()
        || frac.len() > 2
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let int: u64 = int.parse().ok()?;
    let mut f: u64 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    if frac.len() == 1 {
        f *= 10;
    }
    int.checked_mul(100)?.checked_add(f)
}

/// Adversary shares by stake (equal stakes, so also by node count); honest nodes hold the
/// rest. Written `garbage=10,colluder=5` (percent, up to two decimals).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Mix(pub BTreeMap<Strategy, u64>);

impl Mix {
    pub fn parse(input: &str) -> Result<Mix, ConfigError> {
        let bad = |reason: String| ConfigError::BadMix {
            input: input.to_string(),
            reason,
        };
        let mut m = BTreeMap::new();
        for part in input.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, pct) = part
                .split_once('=')
                .ok_or_else(|| bad(format!("'{part}' is not strategy=percent")))?;
            let strategy = Strategy::parse(name.trim()).ok_or_else(|| {
                let names: Vec<&str> = Strategy::ALL.iter().map(|s| s.name()).collect();
                bad(format!(
                    "unknown strategy '{}', expected one of {}",
                    name.trim(),
                    names.join(", ")
                ))
            })?;
            if strategy == Strategy::Honest {
                return Err(bad(
                    "honest takes whatever share is left; do not list it".into()
                ));
            }
            let bps = parse_pct_bps(pct)
                .ok_or_else(|| bad(format!("'{}' is not a percentage like 12.5", pct.trim())))?;
            if m.insert(strategy, bps).is_some() {
                return Err(bad(format!("strategy '{strategy}' listed twice")));
            }
        }
        let mix = Mix(m);
        mix.check()?;
        Ok(mix)
    }

    pub fn from_map(map: &BTreeMap<String, f64>) -> Result<Mix, ConfigError> {
        let text: Vec<String> = map.iter().map(|(k, v)| format!("{k}={v}")).collect();
        Mix::parse(&text.join(","))
    }

    pub fn total_bps(&self) -> u64 {
        self.0.values().sum()
    }

    fn check(&self) -> Result<(), ConfigError> {
        let total_bps = self.total_bps();
        if total_bps > BPS {
            return Err(ConfigError::SharesExceed { total_bps });
        }
        Ok(())
    }

    /// How many of `nodes` nodes play each strategy (largest remainders; honest gets the rest).
    pub fn counts(&self, nodes: u32) -> BTreeMap<Strategy, u32> {
        let mut out = BTreeMap::new();
        let mut used: u64 = 0;
        for (s, bps) in &self.0 {
            let c = (u64::from(nodes) * bps + BPS / 2) / BPS;
            let c = c.min(u64::from(nodes) - used);
            used += c;
            out.insert(*s, c as u32);
        }
        out.insert(Strategy::Honest, nodes - used as u32);
        out
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("honest");
        }
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(s, b)| format!("{s}={}.{:02}", b / 100, b % 100))
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// Everything one run needs. Same config (seed included) ⇒ byte-identical run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SimConfig {
    pub seed: u64,
    pub nodes: u32,
    /// Work rounds in the safety phase (faults on).
    pub rounds: u64,
    /// Extra rounds with every fault healed, so that all earlier rounds settle (liveness).
    pub liveness_rounds: u64,
    pub mix: Mix,
    pub committee_size: u16,
    pub audit_sample: u16,
    pub round_time: u64,
    pub submission_window: u64,
    pub audit_window: u64,
    pub allowed_failed_distributions: u16,
    /// Chance a flaky node is offline for a whole round of time.
    pub flaky_rate_bps: u64,
    /// Chance a transaction is lost on its way to the validator.
    pub loss_bps: u64,
    /// Chance a transaction is delayed by 1..=`delay_slots_max` slots.
    pub delay_bps: u64,
    pub delay_slots_max: u64,
    /// Operator policy of adversary nodes: stake again (`stake_roe`) whenever a slash left
    /// the stake below the minimum, as honest nodes always do. On by default: a repeat
    /// offender that tops up keeps (or raises) its committee weight.
    pub adversary_restake: bool,
    /// Raise-transaction variants a `grinder` evaluates per raise.
    pub grind_tries: u32,
    /// Extra raises a `raise-flood` node sends per round (each its own transaction).
    pub flood_raises: u32,
    /// Threads for signing and signature checks.
    pub threads: usize,
    /// Replay every block into a fresh ledger at the end and compare roots (`None` = only
    /// when the run is small).
    pub replay: Option<bool>,
    /// Fail the run if an honest node is slashed, a bad list is paid, an honest submitter of
    /// a valid proof is left out of an honest list, or a round never settles.
    pub assert_honest: bool,
    /// Check supply conservation after every block (O(state) per block).
    pub check_supply_every_block: bool,
    /// Keep per-slot timings (scale benchmark).
    pub timing: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 0,
            nodes: 200,
            rounds: 100,
            liveness_rounds: 8,
            mix: Mix::default(),
            committee_size: gradual_types::constants::DEFAULT_COMMITTEE_SIZE,
            audit_sample: gradual_types::constants::DEFAULT_AUDIT_SAMPLE,
            round_time: 12,
            submission_window: 4,
            audit_window: 6,
            allowed_failed_distributions: 3,
            flaky_rate_bps: 3_000,
            loss_bps: 0,
            delay_bps: 0,
            delay_slots_max: 2,
            adversary_restake: true,
            grind_tries: 16,
            flood_raises: 32,
            threads: 2,
            replay: None,
            assert_honest: false,
            check_supply_every_block: true,
            timing: false,
        }
    }
}

fn range(field: &'static str, got: u64, min: u64, max: u64) -> Result<(), ConfigError> {
    if got < min || got > max {
        return Err(ConfigError::OutOfRange {
            field,
            got,
            min,
            max,
        });
    }
    Ok(())
}

impl SimConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        range("nodes", self.nodes.into(), 2, NODES_MAX.into())?;
        range("rounds", self.rounds, 1, ROUNDS_MAX)?;
        range("liveness_rounds", self.liveness_rounds, 0, 1_000)?;
        range(
            "committee_size",
            self.committee_size.into(),
            1,
            gradual_types::constants::COMMITTEE_SIZE_MAX.into(),
        )?;
        range(
            "audit_sample",
            self.audit_sample.into(),
            0,
            gradual_types::constants::AUDIT_SAMPLE_MAX.into(),
        )?;
        range("round_time", self.round_time, 4, 10_000)?;
        range("submission_window", self.submission_window, 1, 10_000)?;
        // The ledger needs AW ≥ 2·V (SPEC §5 *Vote window*) at the simulator's slot length.
        range("audit_window", self.audit_window, 2, 10_000)?;
        if !gradual_types::constants::windows_fit(
            self.submission_window,
            self.audit_window,
            self.round_time,
        ) {
            return Err(ConfigError::Windows {
                sw: self.submission_window,
                aw: self.audit_window,
                rt: self.round_time,
            });
        }
        range(
            "allowed_failed_distributions",
            self.allowed_failed_distributions.into(),
            0,
            gradual_types::constants::ALLOWED_FAILED_DISTRIBUTIONS_MAX.into(),
        )?;
        range("flaky_rate_bps", self.flaky_rate_bps, 0, BPS)?;
        range("loss_bps", self.loss_bps, 0, BPS)?;
        range("delay_bps", self.delay_bps, 0, BPS)?;
        range("delay_slots_max", self.delay_slots_max, 1, 100)?;
        range("grind_tries", self.grind_tries.into(), 1, 1_000)?;
        range("flood_raises", self.flood_raises.into(), 0, 10_000)?;
        range("threads", self.threads as u64, 1, 256)?;
        self.mix.check()
    }

    /// Whether the end-of-run replay check runs.
    pub fn replay_enabled(&self) -> bool {
        self.replay
            .unwrap_or(u64::from(self.nodes) * self.rounds <= 20_000)
    }

    /// Command-line flags that reproduce this exact run.
    pub fn to_args(&self) -> String {
        let mut a = format!(
            "--seed {:#x} --nodes {} --rounds {} --liveness-rounds {} --committee {} --audit-sample {} --round-time {} --submission-window {} --audit-window {} --allowed-failed {} --flaky-rate-bps {} --loss-bps {} --delay-bps {} --delay-slots-max {}",
            self.seed,
            self.nodes,
            self.rounds,
            self.liveness_rounds,
            self.committee_size,
            self.audit_sample,
            self.round_time,
            self.submission_window,
            self.audit_window,
            self.allowed_failed_distributions,
            self.flaky_rate_bps,
            self.loss_bps,
            self.delay_bps,
            self.delay_slots_max
        );
        if !self.mix.0.is_empty() {
            a.push_str(&format!(" --mix {}", self.mix));
        }
        if !self.adversary_restake {
            a.push_str(" --no-adversary-restake");
        }
        if self.grind_tries != SimConfig::default().grind_tries {
            a.push_str(&format!(" --grind-tries {}", self.grind_tries));
        }
        if self.flood_raises != SimConfig::default().flood_raises {
            a.push_str(&format!(" --flood-raises {}", self.flood_raises));
        }
        if self.assert_honest {
            a.push_str(" --assert-honest");
        }
        a
    }

    /// VOPR swarm: derive node count, mix, committee, faults from the seed alone. Adversary
    /// share stays ≤ 20 % and `K ≥ 32`, where a wrong verdict needs a binomial tail below
    /// 10^-4 per committee, so the honest checkers are on.
    pub fn swarm(seed: u64) -> SimConfig {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5157_4152_4d00_0000);
        let nodes = rng.gen_range(16..=48);
        let rounds = rng.gen_range(10..=24);
        // The first seven adversaries, garbage to colluder: the later ones need their own
        // assertions. Their order is part of every swarm seed's run.
        let adversaries = &Strategy::ALL[1..=7];
        let kinds = rng.gen_range(0..=3);
        let mut left: u64 = 2_000;
        let mut mix = BTreeMap::new();
        for _ in 0..kinds {
            let s = adversaries[rng.gen_range(0..adversaries.len())];
            let share = rng.gen_range(0..=left.min(1_000));
            left -= share;
            *mix.entry(s).or_insert(0) += share;
        }
        let faults = rng.gen_bool(0.5);
        SimConfig {
            seed,
            nodes,
            rounds,
            mix: Mix(mix),
            committee_size: [32, 48, 64][rng.gen_range(0..3)],
            audit_sample: rng.gen_range(3..=8),
            round_time: rng.gen_range(12..=16),
            submission_window: 4,
            audit_window: 6,
            flaky_rate_bps: rng.gen_range(0..=5_000),
            loss_bps: if faults { rng.gen_range(0..=300) } else { 0 },
            delay_bps: if faults { rng.gen_range(0..=1_000) } else { 0 },
            delay_slots_max: 1,
            assert_honest: true,
            ..SimConfig::default()
        }
    }
}

/// Parse a comma-separated list of numbers (`8,16,32`).
pub fn parse_list<T: std::str::FromStr>(input: &str) -> Result<Vec<T>, ConfigError> {
    let v: Result<Vec<T>, _> = input
        .split(',')
        .map(|p| p.trim().replace('_', "").parse::<T>())
        .collect();
    match v {
        Ok(v) if !v.is_empty() => Ok(v),
        _ => Err(ConfigError::BadList {
            input: input.to_string(),
            reason: "expected comma-separated numbers like 8,16,32".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_parses_and_names_errors() {
        let m = Mix::parse("garbage=10, colluder=5.5").unwrap();
        assert_eq!(m.0[&Strategy::Garbage], 1_000);
        assert_eq!(m.0[&Strategy::Colluder], 550);
        assert_eq!(m.to_string(), "garbage=10.00,colluder=5.50");
        assert_eq!(Mix::parse(&m.to_string()).unwrap(), m);
        assert!(matches!(
            Mix::parse("sneaky=5"),
            Err(ConfigError::BadMix { .. })
        ));
        assert!(matches!(
            Mix::parse("garbage=x"),
            Err(ConfigError::BadMix { .. })
        ));
        assert!(matches!(
            Mix::parse("honest=5"),
            Err(ConfigError::BadMix { .. })
        ));
        assert_eq!(
            Mix::parse("garbage=60,lazy=50").unwrap_err(),
            ConfigError::SharesExceed { total_bps: 11_000 }
        );
        let c = Mix::parse("garbage=25").unwrap().counts(200);
        assert_eq!((c[&Strategy::Garbage], c[&Strategy::Honest]), (50, 150));
    }

    #[test]
    fn seeds_and_lists_parse() {
        assert_eq!(parse_seed("0x2a").unwrap(), 42);
        assert_eq!(parse_seed("42").unwrap(), 42);
        assert!(matches!(
            parse_seed("0xzz"),
            Err(ConfigError::BadSeed { .. })
        ));
        assert_eq!(
            parse_list::<u32>("10_000,100000").unwrap(),
            vec![10_000, 100_000]
        );
        assert!(parse_list::<u32>("a,b").is_err());
    }

    #[test]
    fn swarm_is_a_function_of_the_seed() {
        assert_eq!(SimConfig::swarm(7), SimConfig::swarm(7));
        for s in 0..50 {
            let c = SimConfig::swarm(s);
            c.validate().unwrap();
            assert!(c.mix.total_bps() <= 2_000);
        }
    }
}
