//! `task.yml`: the reference network's `config-task.yml` field names (amounts in KOII), plus
//! our additions (committee and slashing parameters). Every field is checked, and every
//! problem is reported at once, before anything is uploaded or sent.

use gradual_types::constants::*;
use gradual_types::{format_koii, parse_koii, TaskParams};
use serde_yaml::Value;
use std::path::{Path, PathBuf};

/// A parsed task file. `params.executable` holds the runtime and extra URLs; the digest and
/// the artifact-store URL are filled in after the upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFile {
    pub params: TaskParams,
    pub total_bounty: u64,
    pub executable_path: PathBuf,
    /// For a task shipped as a directory (`executable_path` is one): the file to run in it
    /// (`task_entry`). The directory is uploaded as a tar archive (`gradual_node::pack`).
    pub entry: Option<String>,
    /// Fields accepted for compatibility that this chain does not use.
    pub notes: Vec<String>,
}

/// Every problem found in a task file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFileError {
    pub path: String,
    pub problems: Vec<String>,
}

impl std::fmt::Display for TaskFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} has {} problem", self.path, self.problems.len())?;
        if self.problems.len() != 1 {
            f.write_str("s")?;
        }
        for p in &self.problems {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for TaskFileError {}

/// Fields we read, with what each means (also the list unknown-field hints choose from).
const FIELDS: &[(&str, &str)] = &[
    ("task_name", "display name, at most 24 bytes"),
    ("task_description", "description, at most 256 bytes"),
    ("description", "alias of task_description"),
    ("task_executable", "path of the task executable, relative to this file; or of a directory (with task_entry)"),
    ("task_entry", "for a task_executable that is a directory: the file to run in it, e.g. main.py (its extension gives the runtime)"),
    ("task_audit_program", "reference name of task_executable"),
    ("runtime", "how nodes run the executable (or task_entry): native, node, python3, ... (default from the file extension)"),
    ("executable_urls", "extra URLs where the executable can be fetched (list)"),
    ("task_metadata", "free-form metadata string, at most 1024 bytes"),
    ("connect_ports", "TCP ports the task's code connects to besides its node (list, e.g. [443]); shown to node operators, who allow them"),
    ("round_time", "slots per round"),
    ("submission_window", "slots of the submission window (>= 1)"),
    ("audit_window", "slots of the audit window: at least twice the vote window, i.e. 6 s of slots (>= 2 x ceil(3000 / slot_ms))"),
    ("minimum_stake_amount", "KOII a node must stake"),
    ("total_bounty_amount", "KOII escrowed in the task"),
    ("bounty_amount_per_round", "KOII paid per round, at most"),
    ("allowed_failed_distributions", "retries of a failed distribution (0-16, default 3)"),
    ("audit_sample", "peers each node checks per round, also the raises it may make (0-16, default 8)"),
    ("committee_size", "seats deciding an audit (1-256, default 64)"),
    ("slash_bps", "share of stake slashed on an upheld audit, in bps (default 7000)"),
    ("accuser_bps", "share of the slash paid to the accuser, in bps (default 2000)"),
    ("voter_bps", "share of the slash paid to voters, in bps (default 3000)"),
    ("false_accusation_bps", "share of a false accuser's stake slashed, in bps (default 1000)"),
    ("unstake_cooldown", "rounds between unstake and withdraw (1 or more, default 3)"),
    ("missed_list_bps", "share of stake slashed from a selected node that submits no distribution list, in bps (default 100)"),
];

/// Ports a task may declare (`connect_ports`).
const CONNECT_PORTS_MAX: usize = 16;

/// Reference fields kept in the task's metadata (JSON) for display.
const METADATA_FIELDS: &[&str] = &[
    "author",
    "repositoryUrl",
    "imageUrl",
    "infoUrl",
    "tags",
    "requirementsTags",
    "environment",
    "migrationDescription",
];

/// Reference fields that have no meaning on this chain; accepted with a note.
const IGNORED_FIELDS: &[(&str, &str)] = &[
    ("space", "accounts have no size here"),
    (
        "task_executable_network",
        "executables go to the validator's artifact store",
    ),
    ("token_type", "only KOII tasks exist here"),
    ("task_id", "task ids come from the manager and --nonce"),
];

fn suggest(field: &str) -> Option<&'static str> {
    let f = field.to_ascii_lowercase();
    let names = FIELDS
        .iter()
        .map(|(n, _)| *n)
        .chain(METADATA_FIELDS.iter().copied())
        .chain(IGNORED_FIELDS.iter().map(|(n, _)| *n))
        .chain(["task_type"]);
    gradual_rpc::suggest::closest(&f, names, |n| 3.max(n.len() / 4)).or(
        // Common spellings from other tools.
        match f.as_str() {
            "name" => Some("task_name"),
            "executable" => Some("task_executable"),
            "minimum_stake" => Some("minimum_stake_amount"),
            "total_bounty" => Some("total_bounty_amount"),
            "bounty_per_round" => Some("bounty_amount_per_round"),
            _ => None,
        },
    )
}

struct Reader {
    problems: Vec<String>,
}

fn show(v: &Value) -> String {
    match v {
        Value::Null => "nothing".into(),
        Value::String(s) => format!("'{s}'"),
        other => serde_yaml::to_string(other)
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "?".into()),
    }
}

impl Reader {
    fn text(&mut self, field: &str, v: &Value, max: usize) -> Option<String> {
        let s = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            other => {
                self.problems
                    .push(format!("{field} must be text, got {}", show(other)));
                return None;
            }
        };
        if s.len() > max {
            self.problems.push(format!(
                "{field} is {} bytes, the most is {max}; shorten it",
                s.len()
            ));
            return None;
        }
        Some(s)
    }

    fn whole(&mut self, field: &str, v: &Value, min: u64, max: u64, unit: &str) -> Option<u64> {
        let n = match v {
            Value::Number(n) => n.as_u64(),
            _ => None,
        };
        match n {
            Some(n) if (min..=max).contains(&n) => Some(n),
            Some(n) => {
                self.problems.push(format!(
                    "{field} is {n}, it must be between {min} and {max} {unit}"
                ));
                None
            }
            None => {
                self.problems.push(format!(
                    "{field} must be a whole number of {unit} between {min} and {max}, got {}",
                    show(v)
                ));
                None
            }
        }
    }

    fn koii(&mut self, field: &str, v: &Value) -> Option<u64> {
        let text = match v {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.clone(),
            other => {
                self.problems.push(format!(
                    "{field} must be an amount in KOII (e.g. 12.5), got {}",
                    show(other)
                ));
                return None;
            }
        };
        match parse_koii(&text) {
            Ok(roe) => Some(roe),
            Err(e) => {
                self.problems.push(format!("{field}: {e}"));
                None
            }
        }
    }

    fn bps(&mut self, field: &str, v: &Value) -> Option<u16> {
        self.whole(field, v, 0, BPS_DENOMINATOR, "bps (10000 = 100 %)")
            .map(|n| n as u16)
    }
}

/// Runtime kind from the executable's extension (`gradual_types::runtime::interpreter_for`).
fn runtime_for(path: &Path) -> &'static str {
    gradual_types::runtime::interpreter_for(&path.file_name().unwrap_or_default().to_string_lossy())
}

/// Parse task file text; `base` is the directory relative paths are resolved against.
pub fn parse(text: &str, display: &str, base: &Path) -> Result<TaskFile, TaskFileError> {
    let fail = |problems: Vec<String>| TaskFileError {
        path: display.to_string(),
        problems,
    };
    let doc: Value =
        serde_yaml::from_str(text).map_err(|e| fail(vec![format!("not valid YAML: {e}")]))?;
    let Value::Mapping(map) = doc else {
        return Err(fail(vec![
            "must be a mapping of field: value (see `gradual task create --help`)".into(),
        ]));
    };
    let mut r = Reader {
        problems: Vec::new(),
    };
    let mut notes = Vec::new();
    let mut params = TaskParams::default();
    let mut total_bounty = None;
    let mut bounty_per_round = None;
    let mut minimum_stake = None;
    let mut round_time = None;
    let mut sw = None;
    let mut aw = None;
    let mut name = None;
    let mut exe: Option<PathBuf> = None;
    let mut runtime: Option<String> = None;
    let mut entry: Option<String> = None;
    let mut metadata_text: Option<String> = None;
    let mut metadata_json = serde_json::Map::new();

    for (k, v) in &map {
        let Some(key) = k.as_str() else {
            r.problems
                .push(format!("field names must be text, got {}", show(k)));
            continue;
        };
        match key {
            "task_name" => name = r.text(key, v, TASK_NAME_BYTES_MAX),
            "task_description" | "description" => {
                if let Some(d) = r.text(key, v, TASK_DESCRIPTION_BYTES_MAX) {
                    params.description = d;
                }
            }
            "task_executable" | "task_audit_program" => {
                if let Some(p) = r.text(key, v, 4096) {
                    if exe.is_some() {
                        r.problems.push(
                            "give task_executable or task_audit_program, not both".into(),
                        );
                    }
                    exe = Some(base.join(p));
                }
            }
            "runtime" => {
                runtime = r.text(key, v, RUNTIME_BYTES_MAX);
                if runtime.as_deref().is_some_and(|t| t.contains('@')) {
                    r.problems.push(
                        "runtime must not contain '@'; name a directory task's file with task_entry"
                            .into(),
                    );
                }
            }
            "task_entry" => {
                entry = r.text(key, v, TASK_ENTRY_BYTES_MAX);
                if let Some(e) = &entry {
                    if let Err(err) = gradual_types::runtime::check_entry(e) {
                        r.problems.push(format!("task_entry: {err}"));
                    }
                }
            }
            "executable_urls" => match v {
                Value::Sequence(items) => {
                    for (i, it) in items.iter().enumerate() {
                        if let Some(u) = r.text(&format!("executable_urls[{i}]"), it, URL_BYTES_MAX)
                        {
                            params.executable.urls.push(u);
                        }
                    }
                }
                other => r.problems.push(format!(
                    "executable_urls must be a list of URLs, got {}",
                    show(other)
                )),
            },
            "task_metadata" => metadata_text = r.text(key, v, TASK_METADATA_BYTES_MAX),
            "connect_ports" => match v {
                Value::Sequence(items) if items.len() <= CONNECT_PORTS_MAX => {
                    let mut ports = Vec::new();
                    for (i, it) in items.iter().enumerate() {
                        let field = format!("connect_ports[{i}]");
                        if let Some(p) = r.whole(&field, it, 1, u16::MAX.into(), "(a TCP port)") {
                            ports.push(p);
                        }
                    }
                    ports.sort_unstable();
                    ports.dedup();
                    metadata_json.insert(
                        gradual_types::CONNECT_PORTS_METADATA_KEY.into(),
                        serde_json::json!(ports),
                    );
                }
                other => r.problems.push(format!(
                    "connect_ports must be a list of at most {CONNECT_PORTS_MAX} TCP ports, e.g. [443], got {}",
                    show(other)
                )),
            },
            "round_time" => round_time = r.whole(key, v, 2, ROUND_TIME_MAX, "slots"),
            "submission_window" => sw = r.whole(key, v, 1, ROUND_TIME_MAX, "slots"),
            "audit_window" => aw = r.whole(key, v, 1, ROUND_TIME_MAX, "slots"),
            "minimum_stake_amount" => minimum_stake = r.koii(key, v),
            "total_bounty_amount" => total_bounty = r.koii(key, v),
            "bounty_amount_per_round" => bounty_per_round = r.koii(key, v),
            "allowed_failed_distributions" => {
                if let Some(n) = r.whole(
                    key,
                    v,
                    0,
                    ALLOWED_FAILED_DISTRIBUTIONS_MAX.into(),
                    "retries",
                ) {
                    params.allowed_failed_distributions = n as u16;
                }
            }
            "audit_sample" => {
                if let Some(n) = r.whole(key, v, 0, AUDIT_SAMPLE_MAX.into(), "peers") {
                    params.audit_sample = n as u16;
                }
            }
            "committee_size" => {
                if let Some(n) = r.whole(key, v, 1, COMMITTEE_SIZE_MAX.into(), "seats") {
                    params.committee_size = n as u16;
                }
            }
            "slash_bps" => params.slash_bps = r.bps(key, v).unwrap_or(params.slash_bps),
            "accuser_bps" => params.accuser_bps = r.bps(key, v).unwrap_or(params.accuser_bps),
            "voter_bps" => params.voter_bps = r.bps(key, v).unwrap_or(params.voter_bps),
            "false_accusation_bps" => {
                params.false_accusation_bps = r.bps(key, v).unwrap_or(params.false_accusation_bps)
            }
            "unstake_cooldown" => {
                if let Some(n) = r.whole(
                    key,
                    v,
                    UNSTAKE_COOLDOWN_MIN,
                    UNSTAKE_COOLDOWN_MAX,
                    "rounds",
                ) {
                    params.unstake_cooldown = n;
                }
            }
            "missed_list_bps" => {
                params.missed_list_bps = r.bps(key, v).unwrap_or(params.missed_list_bps)
            }
            "task_type" => match v.as_str() {
                Some(t) if t.eq_ignore_ascii_case("koii") => {}
                _ => r.problems.push(format!(
                    "task_type is {}, only KOII tasks exist on this chain; remove the field or set it to KOII",
                    show(v)
                )),
            },
            k if METADATA_FIELDS.contains(&k) => {
                if let Ok(j) = serde_json::to_value(v) {
                    metadata_json.insert(k.to_string(), j);
                }
            }
            k if IGNORED_FIELDS.iter().any(|(n, _)| *n == k) => {
                let why = IGNORED_FIELDS
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, w)| *w)
                    .unwrap_or("");
                notes.push(format!("{k} is ignored: {why}"));
            }
            other => {
                let hint = match suggest(other) {
                    Some(s) => format!("did you mean '{s}'?"),
                    None => format!(
                        "known fields are {}",
                        FIELDS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
                    ),
                };
                r.problems.push(format!("unknown field '{other}': {hint}"));
            }
        }
    }

    // A field that failed to parse is reported already; only a missing one is reported here.
    let has_exe = exe.is_some() || map.contains_key("task_audit_program");
    for (field, parsed, what) in [
        ("task_name", name.is_some(), "the task's display name"),
        (
            "task_executable",
            has_exe,
            "path of the executable to upload",
        ),
        ("round_time", round_time.is_some(), "slots per round"),
        (
            "submission_window",
            sw.is_some(),
            "slots nodes have to submit proofs",
        ),
        ("audit_window", aw.is_some(), "slots nodes have to audit"),
        (
            "minimum_stake_amount",
            minimum_stake.is_some(),
            "KOII a node must stake",
        ),
        (
            "total_bounty_amount",
            total_bounty.is_some(),
            "KOII to escrow",
        ),
        (
            "bounty_amount_per_round",
            bounty_per_round.is_some(),
            "KOII paid per round",
        ),
    ] {
        if !parsed && !map.contains_key(field) {
            r.problems.push(format!("{field} is missing: {what}"));
        }
    }

    if let (Some(rt), Some(s), Some(a)) = (round_time, sw, aw) {
        if !gradual_types::constants::windows_fit(s, a, rt) {
            r.problems.push(format!(
                "submission_window ({s}) + audit_window ({a}) = {} exceeds round_time ({rt}); shorten the windows or lengthen the round",
                s.saturating_add(a)
            ));
        }
    }
    if minimum_stake == Some(0) {
        r.problems
            .push("minimum_stake_amount must be more than 0 KOII".into());
    }
    if bounty_per_round == Some(0) {
        r.problems
            .push("bounty_amount_per_round must be more than 0 KOII".into());
    }
    if let (Some(t), Some(b)) = (total_bounty, bounty_per_round) {
        if b > t {
            r.problems.push(format!(
                "bounty_amount_per_round ({} KOII) is more than total_bounty_amount ({} KOII): the task could not pay one full round",
                format_koii(b),
                format_koii(t)
            ));
        }
    }
    if u64::from(params.accuser_bps) + u64::from(params.voter_bps) > BPS_DENOMINATOR {
        r.problems.push(format!(
            "accuser_bps ({}) + voter_bps ({}) exceeds 10000 (100 %)",
            params.accuser_bps, params.voter_bps
        ));
    }
    if params.executable.urls.len() > EXECUTABLE_URLS_MAX - 1 {
        r.problems.push(format!(
            "executable_urls has {} URLs, the most is {} (the artifact store's URL is added)",
            params.executable.urls.len(),
            EXECUTABLE_URLS_MAX - 1
        ));
    }
    if metadata_text.is_some()
        && metadata_json.contains_key(gradual_types::CONNECT_PORTS_METADATA_KEY)
    {
        r.problems.push(
            "connect_ports is kept in the task's metadata, which task_metadata replaces; \
             give one of them"
                .into(),
        );
    }
    let metadata = match metadata_text {
        Some(t) => t.into_bytes(),
        None if metadata_json.is_empty() => Vec::new(),
        None => serde_json::to_vec(&metadata_json).unwrap_or_default(),
    };
    if metadata.len() > TASK_METADATA_BYTES_MAX {
        r.problems.push(format!(
            "the display fields ({}) make {} bytes of metadata, the most is {TASK_METADATA_BYTES_MAX}; shorten them",
            METADATA_FIELDS.join(", "),
            metadata.len()
        ));
    }
    // A directory needs its entry; a file has none.
    if let Some(exe) = &exe {
        match (&entry, exe.is_dir()) {
            (None, true) => r.problems.push(format!(
                "task_executable '{}' is a directory: name the file nodes run in it with task_entry (e.g. task_entry: main.py)",
                exe.display()
            )),
            (Some(_), false) if exe.exists() => r.problems.push(format!(
                "task_entry is only for a task_executable that is a directory; '{}' is a file",
                exe.display()
            )),
            _ => {}
        }
    }
    if !r.problems.is_empty() {
        return Err(fail(r.problems));
    }
    let exe = exe.unwrap_or_default();
    params.name = name.unwrap_or_default();
    params.metadata = metadata;
    params.round_time = round_time.unwrap_or_default();
    params.submission_window = sw.unwrap_or_default();
    params.audit_window = aw.unwrap_or_default();
    params.minimum_stake = minimum_stake.unwrap_or_default();
    params.bounty_per_round = bounty_per_round.unwrap_or_default();
    params.executable.runtime = match &entry {
        None => runtime.unwrap_or_else(|| runtime_for(&exe).to_string()),
        // `<runtime>@<entry>` on chain (gradual_types::runtime), checked by its own rules.
        Some(e) => {
            let interpreter = runtime.unwrap_or_else(|| runtime_for(Path::new(e)).to_string());
            gradual_types::runtime::with_entry(&interpreter, e)
                .map_err(|err| fail(vec![format!("task_entry: {err}")]))?
        }
    };
    // Anything left is a rule the checks above do not cover; the ledger's own words.
    params.validate().map_err(|e| fail(vec![e.to_string()]))?;
    Ok(TaskFile {
        params,
        total_bounty: total_bounty.unwrap_or_default(),
        executable_path: exe,
        entry,
        notes,
    })
}

/// Read and parse a task file.
pub fn load(path: &Path) -> Result<TaskFile, TaskFileError> {
    let text = std::fs::read_to_string(path).map_err(|e| TaskFileError {
        path: path.display().to_string(),
        problems: vec![format!("cannot read it: {e}")],
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    parse(&text, &path.display().to_string(), base)
}

/// The rules that depend on the chain (SPEC §5 *Vote window*: `audit_window ≥ 2·V` at the
/// chain's `slot_ms`), in the ledger's own words, before anything is uploaded or sent.
pub fn check_for_chain(f: &TaskFile, display: &str, slot_ms: u64) -> Result<(), TaskFileError> {
    f.params
        .validate_for_chain(slot_ms)
        .map_err(|e| TaskFileError {
            path: display.to_string(),
            problems: vec![e.to_string()],
        })
}

#[cfg(test)]
mod tests;
