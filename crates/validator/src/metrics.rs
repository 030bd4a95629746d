//! Prometheus metrics. One recorder per process (the `metrics` facade is global), shared by
//! every validator the process runs.

use gradual_ledger::block::FailReason;
use gradual_ledger::{LedgerEvent, Receipt};
use gradual_rpc::HeadDto;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Install the recorder if nothing else did; `None` if another recorder owns the process.
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| match PrometheusBuilder::new().install_recorder() {
            Ok(h) => Some(h),
            Err(e) => {
                tracing::warn!(error = %e, "metrics recorder not installed; /metrics is unavailable");
                None
            }
        })
        .as_ref()
}

pub fn render() -> Option<String> {
    HANDLE.get().and_then(|h| h.as_ref()).map(|h| h.render())
}

pub fn upkeep() {
    if let Some(Some(h)) = HANDLE.get() {
        h.run_upkeep();
    }
}

pub fn block(head: &HeadDto, receipts: &[Receipt], depth: usize, apply_s: f64, commit_s: f64) {
    metrics::gauge!("gradual_slot").set(head.slot as f64);
    metrics::gauge!("gradual_height").set(head.height as f64);
    metrics::gauge!("gradual_mempool_depth").set(depth as f64);
    metrics::histogram!("gradual_block_apply_seconds").record(apply_s);
    metrics::histogram!("gradual_block_commit_seconds").record(commit_s);
    for r in receipts {
        let result = match &r.result {
            Ok(()) => "ok".to_string(),
            Err(e) => e.kind(),
        };
        metrics::counter!("gradual_tx_processed_total", "result" => result).increment(1);
    }
}

pub fn tx_accepted() {
    metrics::counter!("gradual_tx_accepted_total").increment(1);
}

pub fn tx_rejected(reason: &str) {
    metrics::counter!("gradual_tx_rejected_total", "reason" => reason.to_string()).increment(1);
}

pub fn mempool_depth(depth: usize) {
    metrics::gauge!("gradual_mempool_depth").set(depth as f64);
}

pub fn rpc_call(method: &'static str) {
    metrics::counter!("gradual_rpc_requests_total", "method" => method).increment(1);
}

/// Count end-of-window work by kind (`gradual_ledger_events_total{kind}`); a failed payout
/// by its reason.
pub fn events(events: &[LedgerEvent]) {
    for ev in events {
        let kind = match ev {
            LedgerEvent::AuditResolved { .. } => "audit_resolved",
            LedgerEvent::CandidatesRanked { .. } => "candidates_ranked",
            LedgerEvent::PayoutSuccessful { .. } => "payout_successful",
            LedgerEvent::PayoutFailed { reason, .. } => match reason {
                FailReason::NotSubmitted => "payout_failed_not_submitted",
                FailReason::NoCommittee => "payout_failed_no_committee",
                FailReason::Rejected => "payout_failed_rejected",
            },
            LedgerEvent::RejectionSlashed { .. } => "rejection_slashed",
            LedgerEvent::Vindicated { .. } => "vindicated",
            LedgerEvent::RoundSettledUnpaid { .. } => "round_settled_unpaid",
            LedgerEvent::RoundPruned { .. } => "round_pruned",
        };
        metrics::counter!("gradual_ledger_events_total", "kind" => kind).increment(1);
    }
}
