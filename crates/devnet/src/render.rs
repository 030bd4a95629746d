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

/// "3" or "3 + 1 in an unsettled round": slashes counted by the verdict (settled rounds)
/// and those the live view already saw in rounds not settled yet.
fn slash_count(total: u64, unsettled: u64) -> String {
    match unsettled {
        0 => total.to_string(),
        1 => format!("{} settled + 1 in an unsettled round", total - 1),
        u => format!("{} settled + {u} in unsettled rounds", total - u),
    }
}

/// What the columns and words of the summary mean.
pub const LEGEND: &str = "\
legend (amounts in KOII):
  voided     a proof its audit committee judged invalid: it earns nothing that round
  upheld     an audit whose committee agreed with the accuser: the proof is voided and its
             node slashed (a refuted audit slashes the accuser instead)
  settled    a round whose outcome is final (paid, failed, no candidates); the verdict judges
             settled rounds only, the live view also counts slashes of rounds still open
  stake      on the task now = first stake + restaked - slashed
  restaked   what the node's auto-stake added to top its stake back up after slashes: why a
             slashed node can hold more stake than an honest one
  slashed    taken from the stake, in all (and how many times)
  balance    airdrop - first stake - restaked + claimed, where
             claimed = rewards + accuser + voter - pending
  rewards    round payouts from the bounty (rounds paid: how many rounds paid the node)
  accuser    its shares of the slashes it caused as the accuser
  voter      its shares of slashes as a voter on the winning side of a committee; with
             accuser, why honest balances differ: who accused and who sat on committees
  pending    earned, not claimed yet (nodes claim at 0.5 KOII)
";

/// The summary as plain-text tables, notes on what moved the money, a legend and the
/// verdict.
pub fn render_summary(net: &Devnet, s: &Summary) -> String {
    let mut out = String::new();
    let labels = |keys: &mut dyn Iterator<Item = &String>| {
        let v: Vec<String> = keys.map(|k| net.label(k)).collect();
        if v.is_empty() {
            "-".to_string()
        } else {
            v.join(" ")
        }
    };
    out.push_str(&format!("task {}\n\n", s.task));
    out.push_str("round  status         proofs  voided  upheld  slashed        paid to\n");
    for r in &s.rounds {
        let paid = r
            .paid
            .as_ref()
            .map(|l| labels(&mut l.iter().filter(|(_, x)| *x > 0).map(|(p, _)| p)))
            .unwrap_or_else(|| "-".into());
        out.push_str(&format!(
            "{:>5}  {:<13}  {:>6}  {:>6}  {:<6}  {:<13}  {}\n",
            r.round,
            r.status,
            r.submitters.len(),
            r.voided.len(),
            labels(&mut r.upheld.iter()),
            labels(&mut r.slashes.iter().map(|x| &x.node)),
            paid
        ));
    }
    out.push_str(
        "\nnode   role                         stake     restaked      slashed  slashes\n",
    );
    for n in &s.nodes {
        out.push_str(&format!(
            "node{:<2} {:<22} {:>11} {:>12} {:>12}  {}\n",
            n.index,
            n.role,
            format_koii(n.stake_roe),
            format_koii(n.restaked_roe),
            format_koii(n.slashed_roe),
            slash_count(n.slashes, n.slashes_unsettled),
        ));
    }
    out.push_str("\nnode       balance      pending      rewards  rounds paid      accuser        voter  restarts\n");
    for n in &s.nodes {
        out.push_str(&format!(
            "node{:<2} {:>12} {:>12} {:>12} {:>12} {:>12} {:>12} {:>9}\n",
            n.index,
            format_koii(n.balance_roe),
            format_koii(n.pending_roe),
            format_koii(n.rewards_roe),
            n.rounds_paid,
            format_koii(n.accuser_shares_roe),
            format_koii(n.voter_shares_roe),
            n.restarts
        ));
    }
    out.push('\n');
    for n in s.nodes.iter().filter(|n| n.slashes_unsettled > 0) {
        out.push_str(&format!(
            "note: node{} was slashed {} time(s): {}; the verdict counts settled rounds only\n",
            n.index,
            n.slashes,
            slash_count(n.slashes, n.slashes_unsettled)
        ));
    }
    for n in s.nodes.iter().filter(|n| !n.accounts_add_up(net.stake_roe)) {
        out.push_str(&format!(
            "note: node{}'s balance does not add up from the columns (something the devnet \
             does not observe moved its funds)\n",
            n.index
        ));
    }
    let reserved = if s.bounty_reserved_roe > 0 {
        format!(
            " ({} of it promised to a list under audit)",
            format_koii(s.bounty_reserved_roe)
        )
    } else {
        String::new()
    };
    out.push_str(&format!(
        "bounty:  {} funded - {} paid to nodes = {} left{reserved}\n",
        format_koii(s.bounty_funded_roe),
        format_koii(s.bounty_paid_roe),
        format_koii(s.bounty_left_roe),
    ));
    out.push_str(&format!(
        "slashes: {} taken from stakes -> {} to accusers, {} to voters, {} burned\n\n",
        format_koii(s.slashed_roe),
        format_koii(s.accuser_shares_roe),
        format_koii(s.voter_shares_roe),
        format_koii(s.burned_roe),
    ));
    out.push_str(LEGEND);
    out.push('\n');
    if s.ok {
        let open = match s.adversary_slashes_unsettled {
            0 => String::new(),
            u => format!(" (+{u} in rounds not settled yet, not judged)"),
        };
        out.push_str(&format!(
            "OK: {} settled round(s), every one paid the honest nodes; adversary slashed {} time(s) in settled rounds{open}; no honest node slashed; supply conserved\n",
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
    // Every slash seen, settled round or not (the final table splits them).
    let slashed = (net.rounds.values())
        .flat_map(|r| &r.slashes)
        .filter(|x| x.node == k)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slash_counts_say_which_rounds_are_not_settled() {
        assert_eq!(slash_count(0, 0), "0");
        assert_eq!(slash_count(3, 0), "3");
        assert_eq!(slash_count(4, 1), "3 settled + 1 in an unsettled round");
        assert_eq!(slash_count(4, 2), "2 settled + 2 in unsettled rounds");
    }

    #[test]
    fn the_legend_explains_every_word_of_the_tables() {
        for w in [
            "voided", "upheld", "settled", "stake", "restaked", "slashed", "balance", "rewards",
            "accuser", "voter", "pending",
        ] {
            assert!(
                LEGEND.contains(&format!("\n  {w} ")),
                "{w} is not explained"
            );
        }
    }
}
