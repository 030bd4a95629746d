//! Distribution lists and their audits: upload, submission, votes (SPEC §6).

use super::*;

impl Ledger {
    /// Checks shared by the distribution instructions, window first (SPEC §3).
    pub(super) fn selected_attempt(
        &self,
        signer: &Pubkey,
        task: &TaskId,
        round: u64,
        attempt: u16,
        window: Window,
    ) -> Result<(), TxError> {
        self.known_task(task)?;
        let rec = self
            .rounds
            .get(&(*task, round))
            .ok_or(TxError::NotDistributing {
                round,
                status: RoundState::Unknown,
            })?;
        // SPEC §3: a transaction outside its window is rejected with an error naming the
        // window. Check the window first, so that e.g. a vote at the slot where the
        // distribution audit window closed (the attempt has just been paid or failed) says
        // so instead of "not distributing". While the round distributes, the open window is
        // the current attempt's; a wrong attempt number inside it is `WrongAttempt`.
        let open_attempt = if rec.status == RoundStatus::Distributing {
            rec.current_attempt
        } else {
            attempt
        };
        self.in_window(task, window, round, open_attempt)?;
        if rec.status != RoundStatus::Distributing {
            return Err(TxError::NotDistributing {
                round,
                status: RoundState::of(&rec.status),
            });
        }
        if attempt != rec.current_attempt {
            return Err(TxError::WrongAttempt {
                round,
                got: attempt,
                current: rec.current_attempt,
            });
        }
        let att = self
            .attempts
            .get(&(*task, round, attempt))
            .expect("current attempt exists");
        if window == Window::DistributionSubmission && att.submitter != *signer {
            return Err(TxError::NotSelected {
                attempt,
                selected: att.submitter,
            });
        }
        // The list's submitter must have stake at risk when it submits: a candidate that has
        // since unstaked or been slashed below the minimum forfeits its attempt.
        if window == Window::DistributionSubmission {
            self.full_staker(task, signer, rec.terms.minimum_stake)?;
        }
        Ok(())
    }

    pub(super) fn submit_distribution(
        &mut self,
        signer: &Pubkey,
        task: &TaskId,
        round: u64,
        attempt: u16,
        digest: &Hash,
        count: u32,
    ) -> Result<(), TxError> {
        self.selected_attempt(signer, task, round, attempt, Window::DistributionSubmission)?;
        let akey = (*task, round, attempt);
        if self.attempts.get(&akey).expect("checked").list.is_some() {
            return Err(TxError::ListAlreadySubmitted);
        }
        let up = self.attempts.get(&akey).expect("checked").upload.clone();
        if up.chunks == 0 {
            return Err(TxError::MissingChunk { index: 0 });
        }
        if up.entries != count {
            return Err(TxError::CountMismatch {
                got: up.entries,
                expected: count,
            });
        }
        // O(1) checks first: after the hash only a digest mismatch (which keeps the hash)
        // or success can follow.
        let sum = up.sum_roe;
        let limit = self.payable_limit(task, round);
        if sum > limit {
            return Err(TxError::RewardsExceedLimit { sum, limit });
        }
        // Entries were checked chunk by chunk at upload; only the digest is left. It is
        // computed once and kept, sealing the upload: hashing is O(entries), and a submitter
        // repeating a wrong digest must not make every block pay for it again.
        let got = match up.digest {
            Some(got) => got,
            None => {
                let mut hasher = DistributionHasher::new();
                for (_, entries) in self
                    .chunks
                    .range((*task, round, attempt, 0)..=(*task, round, attempt, u32::MAX))
                {
                    for e in entries {
                        hasher.update(e);
                    }
                }
                let got = hasher.finalize();
                let att = self.attempts.get_mut(&akey).expect("checked");
                att.upload.digest = Some(got);
                got
            }
        };
        if got != *digest {
            return Err(TxError::DigestMismatch {
                got,
                expected: *digest,
            });
        }
        self.tasks.get_mut(task).expect("checked").reserved_bounty += sum;
        self.attempts.get_mut(&akey).expect("checked").list = Some(SubmittedList {
            digest: *digest,
            count,
            chunks: up.chunks,
            total_roe: sum,
            slot: self.slot,
            seed: distribution_seed(&self.randomness, task, round, attempt),
        });
        // SPEC §6 *Vindication*: the submitter stays slashable until the round settles.
        self.lock(task, signer);
        self.schedule_at(self.slot, *task, Work::DrawDistribution { round, attempt });
        Ok(())
    }

    pub(super) fn vote_distribution(
        &mut self,
        signer: &Pubkey,
        task: &TaskId,
        round: u64,
        attempt: u16,
        verdict: Verdict,
    ) -> Result<(), TxError> {
        self.selected_attempt(signer, task, round, attempt, Window::DistributionAudit)?;
        let akey = (*task, round, attempt);
        let att = self.attempts.get(&akey).expect("checked");
        let list = att.list.as_ref().ok_or(TxError::ListNotSubmitted)?;
        check_vote(att.committee.as_ref(), list.slot + 1, &att.votes, signer)?;
        self.attempts
            .get_mut(&akey)
            .expect("checked")
            .votes
            .push((*signer, verdict));
        // A voter may be slashed if a later attempt vindicates the list (SPEC §6).
        self.lock(task, signer);
        Ok(())
    }

    /// Most a list of `round` may pay: the round's `bounty_per_round`, within what the task
    /// holds and has not promised to other lists.
    pub(super) fn payable_limit(&self, task: &TaskId, round: u64) -> u64 {
        let t = self.tasks.get(task).expect("checked");
        let per_round = self
            .rounds
            .get(&(*task, round))
            .map_or(0, |r| r.terms.bounty_per_round);
        per_round.min(t.total_bounty - t.reserved_bounty)
    }

    /// Chunks are checked as they arrive (SPEC §6 [v2]): in order, entries strictly
    /// ascending across the whole list, only non-voided submitters, never more entries than
    /// the round has submitters, never more than the round may pay. So no attempt can park
    /// more data than one full list.
    pub(super) fn upload_chunk(
        &mut self,
        task: &TaskId,
        round: u64,
        attempt: u16,
        index: u32,
        entries: &[(Pubkey, u64)],
    ) -> Result<(), TxError> {
        let akey = (*task, round, attempt);
        let att = self.attempts.get(&akey).expect("checked");
        if att.list.is_some() {
            return Err(TxError::ListAlreadySubmitted);
        }
        let mut up = att.upload.clone();
        if let Some(digest) = up.digest {
            return Err(TxError::UploadSealed { digest });
        }
        if index != up.chunks {
            return Err(TxError::ChunkOutOfOrder {
                got: index,
                expected: up.chunks,
            });
        }
        let submitters = self.rounds.get(&(*task, round)).map_or(0, |r| r.submitters);
        if u64::from(up.entries) + entries.len() as u64 > submitters {
            return Err(TxError::TooManyEntries { max: submitters });
        }
        for (i, e) in entries.iter().enumerate() {
            if up.last_node.is_some_and(|p| p >= e.0) {
                return Err(TxError::EntriesNotSorted {
                    index: up.entries + i as u32,
                });
            }
            up.last_node = Some(e.0);
            match self.submissions.get(&(*task, round, e.0)) {
                Some(s) if !s.voided => {}
                _ => return Err(TxError::NotASubmitter { node: e.0, round }),
            }
            up.sum_roe = up.sum_roe.checked_add(e.1).ok_or(TxError::Overflow)?;
        }
        up.entries += entries.len() as u32;
        up.chunks += 1;
        let limit = self.payable_limit(task, round);
        if up.sum_roe > limit {
            return Err(TxError::RewardsExceedLimit {
                sum: up.sum_roe,
                limit,
            });
        }
        self.chunks
            .insert((*task, round, attempt, index), entries.to_vec());
        self.attempts.get_mut(&akey).expect("checked").upload = up;
        Ok(())
    }
}
