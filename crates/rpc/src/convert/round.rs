//! Rounds: status, committees and votes, proofs and their audits, distribution attempts.

use crate::dto::*;
use gradual_ledger::query::RoundView;
use gradual_ledger::state::*;
use gradual_ledger::tally;
use gradual_types::{Pubkey, Verdict};

mirror_pair!((Pubkey, u16) <=> SeatDto { node, seats });

impl From<&Committee> for CommitteeDto {
    fn from(c: &Committee) -> Self {
        CommitteeDto {
            seed: c.seed,
            size: c.size,
            seats: c.seats.iter().map(SeatDto::from).collect(),
        }
    }
}

impl From<&CommitteeDto> for Committee {
    fn from(c: &CommitteeDto) -> Self {
        let mut seats: Vec<(Pubkey, u16)> = c.seats.iter().map(<(Pubkey, u16)>::from).collect();
        // `Committee::seats_of` binary-searches: keep the ledger's order whatever the wire did.
        seats.sort_unstable_by_key(|(n, _)| *n);
        Committee {
            seed: c.seed,
            size: c.size,
            seats,
        }
    }
}

mirror_pair!((Pubkey, Verdict) <=> VoteDto { node, verdict });

/// `(node, proof)`.
impl From<(&Pubkey, &SubmissionRecord)> for SubmissionDto {
    fn from((node, s): (&Pubkey, &SubmissionRecord)) -> Self {
        SubmissionDto {
            node: *node,
            submission: s.clone(),
        }
    }
}

impl From<&SubmissionDto> for (Pubkey, SubmissionRecord) {
    fn from(s: &SubmissionDto) -> Self {
        (s.node, s.submission.clone())
    }
}

/// `(committee, votes)`; the tally is derived (see [`voting`]), so decoding drops it.
impl From<&VotingDto> for (Option<Committee>, Vec<(Pubkey, Verdict)>) {
    fn from(v: &VotingDto) -> Self {
        (
            v.committee.as_ref().map(Committee::from),
            v.votes.iter().map(<(Pubkey, Verdict)>::from).collect(),
        )
    }
}

/// `(candidate, audit)`.
impl From<(&Pubkey, &AuditRecord)> for AuditDto {
    fn from((candidate, a): (&Pubkey, &AuditRecord)) -> Self {
        AuditDto {
            candidate: *candidate,
            accuser: a.accuser,
            trigger_slot: a.trigger_slot,
            seed: a.seed,
            voting: voting(&a.committee, &a.votes),
            outcome: a.outcome.clone(),
        }
    }
}

impl From<&AuditDto> for (Pubkey, AuditRecord) {
    fn from(a: &AuditDto) -> Self {
        let (committee, votes) = (&a.voting).into();
        let record = AuditRecord {
            accuser: a.accuser,
            trigger_slot: a.trigger_slot,
            seed: a.seed,
            committee,
            votes,
            outcome: a.outcome.clone(),
        };
        (a.candidate, record)
    }
}

// `(node, reward)` of a distribution list.
mirror_pair!((Pubkey, u64) <=> EntryDto { node, reward });

/// `(attempt index, attempt, its uploaded entries if shown)`.
impl From<(u16, &AttemptRecord, Option<&[(Pubkey, u64)]>)> for AttemptDto {
    fn from((i, a, entries): (u16, &AttemptRecord, Option<&[(Pubkey, u64)]>)) -> Self {
        AttemptDto {
            attempt: i,
            submitter: a.submitter,
            upload: a.upload.clone(),
            list: a.list.clone(),
            entries: entries.map(|e| e.iter().map(EntryDto::from).collect()),
            voting: voting(&a.committee, &a.votes),
            outcome: a.outcome.clone(),
        }
    }
}

/// `(attempt index, attempt)`; the entries, if any, are read with [`EntryDto`]'s `From`.
impl From<&AttemptDto> for (u16, AttemptRecord) {
    fn from(a: &AttemptDto) -> Self {
        let (committee, votes) = (&a.voting).into();
        let record = AttemptRecord {
            submitter: a.submitter,
            upload: a.upload.clone(),
            list: a.list.clone(),
            committee,
            votes,
            outcome: a.outcome.clone(),
        };
        (a.attempt, record)
    }
}

pub fn committee(c: &Committee) -> CommitteeDto {
    c.into()
}

pub fn votes(v: &[(Pubkey, Verdict)]) -> Vec<VoteDto> {
    v.iter().map(VoteDto::from).collect()
}

/// Seats behind the votes cast so far (the ledger's own count).
pub fn tally_of(c: &Option<Committee>, v: &[(Pubkey, Verdict)]) -> TallyDto {
    tally(c, v).0
}

/// A committee's vote as the wire shows it, tally included.
pub fn voting(c: &Option<Committee>, v: &[(Pubkey, Verdict)]) -> VotingDto {
    VotingDto {
        committee: c.as_ref().map(CommitteeDto::from),
        votes: votes(v),
        tally: tally_of(c, v),
    }
}

pub fn submission(node: &Pubkey, s: &SubmissionRecord) -> SubmissionDto {
    (node, s).into()
}

pub fn audit(candidate: &Pubkey, a: &AuditRecord) -> AuditDto {
    (candidate, a).into()
}

pub fn attempt(i: u16, a: &AttemptRecord, entries: Option<Vec<(Pubkey, u64)>>) -> AttemptDto {
    (i, a, entries.as_deref()).into()
}

/// A round; `submissions` and `distributions` choose which heavy parts to include, each
/// list cut at `cap` items (`truncated` then says so).
pub fn round(v: &RoundView, submissions: bool, distributions: bool, cap: usize) -> RoundDto {
    let truncated = (submissions && (v.submissions.len() > cap || v.audits.len() > cap))
        || (distributions && v.attempts.len() > cap);
    RoundDto {
        round: v.round,
        record: v.record.clone(),
        submissions: submissions.then(|| {
            v.submissions
                .iter()
                .take(cap)
                .map(|(n, s)| submission(n, s))
                .collect()
        }),
        audits: submissions.then(|| {
            v.audits
                .iter()
                .take(cap)
                .map(|(n, a)| audit(n, a))
                .collect()
        }),
        attempts: distributions.then(|| {
            v.attempts
                .iter()
                .take(cap)
                .map(|(i, a)| attempt(*i, a, None))
                .collect()
        }),
        truncated,
    }
}

/// The round back; parts the answer left out come back empty.
impl From<&RoundDto> for RoundView {
    fn from(r: &RoundDto) -> Self {
        RoundView {
            round: r.round,
            record: r.record.clone(),
            submissions: r
                .submissions
                .iter()
                .flatten()
                .map(<(Pubkey, SubmissionRecord)>::from)
                .collect(),
            audits: r
                .audits
                .iter()
                .flatten()
                .map(<(Pubkey, AuditRecord)>::from)
                .collect(),
            attempts: r
                .attempts
                .iter()
                .flatten()
                .map(<(u16, AttemptRecord)>::from)
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gradual_types::Hash;

    /// `committee`, `votes` and `tally` come from the flattened [`VotingDto`]: the JSON text
    /// must stay byte for byte what the fields written out in each DTO gave.
    #[test]
    fn audit_and_attempt_json_text_is_pinned() {
        let pk = |b| Pubkey([b; 32]);
        let audit_record = AuditRecord {
            accuser: pk(2),
            trigger_slot: 9,
            seed: Hash([3; 32]),
            committee: Some(Committee {
                seed: Hash([4; 32]),
                size: 3,
                seats: vec![(pk(5), 2)],
            }),
            votes: vec![(pk(5), Verdict::Valid)],
            outcome: Some(AuditOutcome::Unresolved),
        };
        let a = audit(&pk(1), &audit_record);
        let text = serde_json::to_string(&a).unwrap();
        assert_eq!(
            text,
            concat!(
                r#"{"candidate":"4vJ9JU1bJJE96FWSJKvHsmmFADCg4gpZQff4P3bkLKi","#,
                r#""accuser":"8qbHbw2BbbTHBW1sbeqakYXVKRQM8Ne7pLK7m6CVfeR","trigger_slot":9,"#,
                r#""seed":"CktRuQ2mttgRGkXJtyksdKHjUdc2C4TgDzyB98oEzy8","#,
                r#""committee":{"seed":"GgBaCs3NCBuZN12kCJgAW63ydqohFkHEdfdEXBPzLHq","size":3,"#,
                r#""seats":[{"node":"LbUiWL3xVV8hTFYBVdbTNrpDo41NKS6o3LHHuDzjfcY","seats":2}]},"#,
                r#""votes":[{"node":"LbUiWL3xVV8hTFYBVdbTNrpDo41NKS6o3LHHuDzjfcY","verdict":"valid"}],"#,
                r#""tally":{"valid":2,"invalid":0,"abstain":0},"outcome":{"result":"unresolved"}}"#,
            )
        );
        assert_eq!(serde_json::from_str::<AuditDto>(&text).unwrap(), a);
        assert_eq!(<(Pubkey, AuditRecord)>::from(&a), (pk(1), audit_record));

        let attempt_record = AttemptRecord {
            submitter: pk(1),
            upload: UploadProgress::default(),
            list: None,
            committee: None,
            votes: vec![],
            outcome: None,
        };
        let a = attempt(1, &attempt_record, Some(vec![(pk(2), 7)]));
        let text = serde_json::to_string(&a).unwrap();
        assert_eq!(
            text,
            concat!(
                r#"{"attempt":1,"submitter":"4vJ9JU1bJJE96FWSJKvHsmmFADCg4gpZQff4P3bkLKi","#,
                r#""upload":{"chunks":0,"entries":0,"total":0,"last_node":null,"digest":null},"#,
                r#""list":null,"entries":[{"node":"8qbHbw2BbbTHBW1sbeqakYXVKRQM8Ne7pLK7m6CVfeR","reward":7}],"#,
                r#""committee":null,"votes":[],"tally":{"valid":0,"invalid":0,"abstain":0},"outcome":null}"#,
            )
        );
        assert_eq!(serde_json::from_str::<AttemptDto>(&text).unwrap(), a);
        assert_eq!(<(u16, AttemptRecord)>::from(&a), (1, attempt_record));
        // A missing `committee` still reads as not drawn, as before the flatten.
        let no_committee = text.replace(r#""committee":null,"#, "");
        assert_eq!(
            serde_json::from_str::<AttemptDto>(&no_committee).unwrap(),
            a
        );
    }

    #[test]
    fn v2_outcomes_have_stable_json() {
        let signer = Pubkey([1; 32]);
        let o = |o: AttemptOutcome| {
            let a = AttemptRecord {
                submitter: signer,
                upload: UploadProgress::default(),
                list: None,
                committee: None,
                votes: vec![],
                outcome: Some(o),
            };
            serde_json::to_value(attempt(0, &a, None).outcome).unwrap()
        };
        assert_eq!(
            o(AttemptOutcome::FailedNotSubmitted { slashed: 7 }),
            serde_json::json!({"result": "failed_not_submitted", "slashed": 7})
        );
        assert_eq!(
            o(AttemptOutcome::FailedNoCommittee),
            serde_json::json!({"result": "failed_no_committee"})
        );
        assert_eq!(
            o(AttemptOutcome::FailedRejected {
                slashed: None,
                vindicated: true
            }),
            serde_json::json!({"result": "failed_rejected", "slashed": null, "vindicated": true})
        );
    }
}
