//! Text for people: the summary table, the live progress line and one line per node.

use crate::judge::Summary;
use crate::observe::{pending_by_node, stakes_by_node};
use crate::short;
use crate::{DevNode, Devnet};
use gradual_rpc::dto::TaskDto;
use gradual_types::format_koii;

impl Devnet {
    /// A one-line node label for tables.
    pub fn label(&self, key: &str) -> String {
        self.nodes
            .iter()
            .find(|n| n.pubkey().to_base58() == key)
            .map(|n| format!("node{}", n.index))
            .unwrap_or_else(|| short(key))
    }
}

/// The summary as a plain-text table.
pub fn render_summary(net: &Devnet, s: &Summary) -> String {
    let mut out = String::new();
    out.push_str(&format!("task {}\n\n", s.task));
    out.push_str("round  status         proofs  voided  upheld  paid to\n");
    for r in &s.rounds {
        let paid = r
            .paid
            .as_ref()
            .map(|l| {
                l.iter()
                    .filter(|(_, x)| *x > 0)
                    .map(|(p, _)| net.label(p))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_else(|| "-".into());
        let upheld = r
            .upheld
            .iter()
            .map(|c| net.label(c))
            .collect::<Vec<_>>()
            .join(" ");
        out.push_str(&format!(
            "{:>5}  {:<13}  {:>6}  {:>6}  {:<6}  {}\n",
            r.round,
            r.status,
            r.submitters.len(),
            r.voided.len(),
            if upheld.is_empty() {
                "-".to_string()
            } else {
                upheld
            },
            paid
        ));
    }
    out.push_str("\nnode   role                    stake      balance     pending   rounds paid  rewards  restarts\n");
    for n in &s.nodes {
        out.push_str(&format!(
            "node{:<2} {:<22} {:>7} {:>12} {:>11} {:>12} {:>8} {:>9}\n",
            n.index,
            n.role,
            format_koii(n.stake_roe),
            format_koii(n.balance_roe),
            format_koii(n.pending_roe),
            n.rounds_paid,
            format_koii(n.rewards_roe),
            n.restarts
        ));
    }
    out.push('\n');
    if s.ok {
        out.push_str(&format!(
            "OK: {} settled round(s), every one paid the honest nodes; adversary slashed {} time(s); no honest node slashed; supply conserved\n",
            s.settled_rounds, s.adversary_slashes
        ));
    } else {
        out.push_str("FAILED:\n");
        for f in &s.failures {
            out.push_str(&format!("  - {f}\n"));
        }
    }
    out
}

/// One progress line: round, open windows, the latest round's proofs/audits, payouts.
pub fn progress_line(net: &Devnet, t: &TaskDto) -> String {
    let windows: Vec<String> = t
        .open_windows
        .iter()
        .map(|w| {
            let name = gradual_rpc::wire::window_name(w.window).replace('_', " ");
            format!("{name} r{}", w.round)
        })
        .collect();
    let reviewing = net
        .rounds
        .values()
        .rev()
        .find(|r| !r.settled && !r.submitters.is_empty());
    let review = reviewing
        .map(|r| {
            format!(
                "r{}: {} proofs, {} upheld",
                r.round,
                r.submitters.len(),
                r.upheld.len()
            )
        })
        .unwrap_or_else(|| "no proofs yet".into());
    let paid = net.rounds.values().filter(|r| r.paid.is_some()).count();
    format!(
        "slot {} | round {} | {} | {} | {} round(s) paid, {} settled | bounty left {}",
        t.slot,
        t.current_round,
        if windows.is_empty() {
            "work".into()
        } else {
            windows.join(", ")
        },
        review,
        paid,
        net.settled(),
        format_koii(t.total_bounty)
    )
}

/// One line per node: role, stake, pending, rewards so far.
pub fn node_line(net: &Devnet, n: &DevNode, t: &TaskDto) -> String {
    let k = n.pubkey().to_base58();
    let stake = stakes_by_node(t).get(&k).map(|s| s.0).unwrap_or(0);
    let pending = pending_by_node(t).get(&k).copied().unwrap_or(0);
    let paid: u64 = net.payouts(&k).iter().sum();
    let slashed = net
        .rounds
        .values()
        .filter(|r| r.upheld.contains(&k))
        .count();
    format!(
        "node{} {:<22} stake {:>5}  pending {:>11}  earned {:>11}  slashed {}x  {}",
        n.index,
        n.role(),
        format_koii(stake),
        format_koii(pending),
        format_koii(paid),
        slashed,
        short(&k)
    )
}
