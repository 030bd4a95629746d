//! Typed async client for the gradual validator: one method per JSON-RPC method, the
//! artifact store, and helpers to build, sign, send and confirm transactions. Used by the
//! `gradual` CLI and by task nodes.
//!
//! It does **not** keep state beyond a cached genesis (chain id and fee), retry failed
//! calls, or decide anything about tasks; the ledger's answers come back as typed errors.
//!
//! ```text
//!  Keypair + Instruction ──sign(recent slot, chain id, fee)──▶ Transaction
//!        │                                                     │ sendTransaction (base64)
//!        ▼                                                     ▼
//!   Client ──HTTP JSON-RPC──▶ validator ──▶ signature ──confirm (waitForSlot + status)──▶
//!                                           Ok(slot) | ClientError::TxFailed{kind, message}
//! ```

mod artifacts;
mod error;
pub mod keyfile;
pub mod pack;

use gradual_rpc::dto::*;
use gradual_rpc::{methods as m, Request, Response};
use gradual_types::window::Clock;
use gradual_types::{
    Hash, Instruction, Keypair, Pubkey, Signature, TaskId, Transaction, ValidatorInfo, VrfInput,
    VrfProof,
};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

pub use error::ClientError;
pub use gradual_rpc;
pub use keyfile::{read_keypair_file, write_keypair_file, KeyfileError};

pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// Which heavy parts `getTaskAccountInfo` includes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskInfoFlags {
    pub submissions: bool,
    pub distributions: bool,
    pub stakes: bool,
    pub rewards: bool,
}

impl TaskInfoFlags {
    pub const ALL: TaskInfoFlags = TaskInfoFlags {
        submissions: true,
        distributions: true,
        stakes: true,
        rewards: true,
    };
}

/// A transaction in a committed block that succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Confirmed {
    pub signature: Signature,
    pub slot: u64,
}

pub struct Client {
    http: reqwest::Client,
    url: String,
    next_id: AtomicI64,
    genesis: OnceCell<GenesisDto>,
    /// How long `confirm` waits for a transaction.
    pub confirm_timeout: Duration,
}

fn parse<T: DeserializeOwned>(method: &str, v: Value) -> Result<T> {
    serde_json::from_value(v).map_err(|e| ClientError::BadAnswer {
        method: method.to_string(),
        reason: e.to_string(),
    })
}

/// A transaction signature answer (base58 text).
#[derive(serde::Deserialize)]
struct SignatureAnswer(#[serde(with = "gradual_rpc::wire::b58")] Signature);

fn signature(method: &str, v: Value) -> Result<Signature> {
    parse(method, v).map(|SignatureAnswer(s)| s)
}

impl Client {
    /// `url` like `http://127.0.0.1:8899`.
    pub fn new(url: &str) -> Client {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap_or_default();
        Client {
            http,
            url: url.trim_end_matches('/').to_string(),
            next_id: AtomicI64::new(1),
            genesis: OnceCell::new(),
            confirm_timeout: Duration::from_secs(30),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn unreachable(&self, e: reqwest::Error) -> ClientError {
        ClientError::Unreachable {
            url: self.url.clone(),
            reason: e.to_string(),
        }
    }

    /// Call any method with raw JSON params; the typed methods below use this.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let req = Request::new(id, method, params);
        let resp = self
            .http
            .post(&self.url)
            .json(&req)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| self.unreachable(e))?;
        let parsed: Response = match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => {
                if !status.is_success() {
                    return Err(ClientError::Http {
                        url: self.url.clone(),
                        status: status.as_u16(),
                        body: String::from_utf8_lossy(&body).chars().take(300).collect(),
                    });
                }
                return Err(ClientError::BadAnswer {
                    method: method.to_string(),
                    reason: format!("not a JSON-RPC response: {e}"),
                });
            }
        };
        if let Some(error) = parsed.error {
            return Err(ClientError::Rpc {
                method: method.to_string(),
                error,
            });
        }
        Ok(parsed.result.unwrap_or(Value::Null))
    }

    async fn typed<T: DeserializeOwned>(&self, method: &str, params: Value) -> Result<T> {
        let v = self.call(method, params).await?;
        parse(method, v)
    }

    /// A query about one round of a task: params `[task, round]`, then `extra` if any (a
    /// config object, or the audited candidate).
    async fn round_query<T: DeserializeOwned>(
        &self,
        method: &str,
        task: &TaskId,
        round: u64,
        extra: Option<Value>,
    ) -> Result<T> {
        let mut params = vec![json!(task.to_base58()), json!(round)];
        params.extend(extra);
        self.typed(method, Value::Array(params)).await
    }

    pub async fn get_health(&self) -> Result<String> {
        self.typed(m::GET_HEALTH, json!([])).await
    }

    pub async fn get_genesis(&self) -> Result<GenesisDto> {
        self.typed(m::GET_GENESIS, json!([])).await
    }

    /// The genesis, fetched once and cached.
    pub async fn genesis(&self) -> Result<&GenesisDto> {
        self.genesis.get_or_try_init(|| self.get_genesis()).await
    }

    pub async fn get_slot(&self) -> Result<u64> {
        self.typed(m::GET_SLOT, json!([])).await
    }

    pub async fn get_head(&self) -> Result<HeadDto> {
        self.typed(m::GET_HEAD, json!([])).await
    }

    /// A block; with `transactions`, all of them (fetched page by page).
    pub async fn get_block(&self, slot: u64, transactions: bool) -> Result<Option<BlockDto>> {
        let first: Option<BlockDto> = self
            .typed(m::GET_BLOCK, json!([slot, {"transactions": transactions}]))
            .await?;
        let Some(mut block) = first else {
            return Ok(None);
        };
        let mut next = block.next_tx_offset.take();
        while let Some(offset) = next {
            let page: Option<BlockDto> = self
                .typed(
                    m::GET_BLOCK,
                    json!([slot, {"transactions": true, "offset": offset}]),
                )
                .await?;
            let Some(page) = page else { break };
            let txs = page.transactions.unwrap_or_default();
            if txs.is_empty() || page.next_tx_offset.is_some_and(|n| n <= offset) {
                break;
            }
            block.transactions.get_or_insert_with(Vec::new).extend(txs);
            next = page.next_tx_offset;
        }
        Ok(Some(block))
    }

    pub async fn get_blocks(
        &self,
        from: u64,
        limit: u64,
        transactions: bool,
    ) -> Result<Vec<BlockDto>> {
        self.typed(
            m::GET_BLOCKS,
            json!([from, limit, {"transactions": transactions}]),
        )
        .await
    }

    pub async fn get_balance(&self, who: &Pubkey) -> Result<u64> {
        self.typed(m::GET_BALANCE, json!([who.to_base58()])).await
    }

    /// An account with its stakes and rewards in every task (fetched page by page).
    pub async fn get_account(&self, who: &Pubkey) -> Result<AccountDto> {
        let mut acct: AccountDto = self.typed(m::GET_ACCOUNT, json!([who.to_base58()])).await?;
        while let Some(after) = acct.next.take() {
            let page: AccountDto = self
                .typed(
                    m::GET_ACCOUNT,
                    json!([who.to_base58(), {"after": after.to_base58()}]),
                )
                .await?;
            acct.stakes.extend(page.stakes);
            acct.pending_rewards.extend(page.pending_rewards);
            acct.next = page.next.filter(|n| *n != after);
        }
        Ok(acct)
    }

    /// Send a signed transaction; returns its signature once the validator accepted it into
    /// its mempool (not yet applied: see [`Client::confirm`]).
    pub async fn send_transaction(&self, tx: &Transaction) -> Result<Signature> {
        let encoded = gradual_rpc::wire::encode_b64(&tx.encode());
        let v = self
            .call(
                m::SEND_TRANSACTION,
                json!([encoded, {"encoding": "base64"}]),
            )
            .await?;
        signature(m::SEND_TRANSACTION, v)
    }

    pub async fn get_signature_status(
        &self,
        sig: &Signature,
    ) -> Result<Option<SignatureStatusDto>> {
        self.typed(m::GET_SIGNATURE_STATUS, json!([sig.to_base58()]))
            .await
    }

    pub async fn get_signature_statuses(
        &self,
        sigs: &[Signature],
    ) -> Result<Vec<Option<SignatureStatusDto>>> {
        let list: Vec<String> = sigs.iter().map(|s| s.to_base58()).collect();
        self.typed(m::GET_SIGNATURE_STATUSES, json!([list])).await
    }

    /// A task account; with `stakes`/`rewards`, all of them (fetched page by page).
    pub async fn get_task_account_info(
        &self,
        task: &TaskId,
        flags: TaskInfoFlags,
    ) -> Result<TaskDto> {
        let config = |after: Option<&Pubkey>| {
            json!([task.to_base58(), {
                "submissions": flags.submissions,
                "distributions": flags.distributions,
                "stakes": flags.stakes,
                "rewards": flags.rewards,
                "after": after.map(Pubkey::to_base58),
            }])
        };
        let mut t: TaskDto = self.typed(m::GET_TASK_ACCOUNT_INFO, config(None)).await?;
        while let Some(after) = t.next.take() {
            let page: TaskDto = self
                .typed(m::GET_TASK_ACCOUNT_INFO, config(Some(&after)))
                .await?;
            if let (Some(all), Some(more)) = (&mut t.stakes, page.stakes) {
                all.extend(more);
            }
            if let (Some(all), Some(more)) = (&mut t.pending_rewards, page.pending_rewards) {
                all.extend(more);
            }
            t.next = page.next.filter(|n| *n != after);
        }
        Ok(t)
    }

    /// A round's proofs and audits, all of them (fetched page by page).
    pub async fn get_task_submission_info(
        &self,
        task: &TaskId,
        round: u64,
    ) -> Result<SubmissionInfoDto> {
        let mut info: SubmissionInfoDto = self
            .round_query(m::GET_TASK_SUBMISSION_INFO, task, round, None)
            .await?;
        while let Some(after) = info.next.take() {
            let config = json!({"after": after.to_base58()});
            let page: SubmissionInfoDto = self
                .round_query(m::GET_TASK_SUBMISSION_INFO, task, round, Some(config))
                .await?;
            info.submissions.extend(page.submissions);
            info.audits.extend(page.audits);
            info.next = page.next.filter(|n| *n != after);
        }
        Ok(info)
    }

    /// A round's distribution, with every attempt's uploaded entries (fetched page by
    /// page).
    pub async fn get_task_distribution_info(
        &self,
        task: &TaskId,
        round: u64,
    ) -> Result<DistributionInfoDto> {
        let mut info: DistributionInfoDto = self
            .round_query(m::GET_TASK_DISTRIBUTION_INFO, task, round, None)
            .await?;
        let shown = info.entries_attempt;
        let mut next = info.next_offset.take();
        for i in 0..info.attempts.len() {
            let attempt = info.attempts[i].attempt;
            let mut offset = if Some(attempt) == shown {
                match next.take() {
                    Some(o) => o,
                    None => continue,
                }
            } else {
                0
            };
            loop {
                let config = json!({"attempt": attempt, "offset": offset});
                let page: DistributionInfoDto = self
                    .round_query(m::GET_TASK_DISTRIBUTION_INFO, task, round, Some(config))
                    .await?;
                let more = page
                    .attempts
                    .into_iter()
                    .find(|a| a.attempt == attempt)
                    .and_then(|a| a.entries)
                    .unwrap_or_default();
                let n = more.len() as u64;
                info.attempts[i]
                    .entries
                    .get_or_insert_with(Vec::new)
                    .extend(more);
                match page.next_offset {
                    Some(o) if n > 0 && o > offset => offset = o,
                    _ => break,
                }
            }
        }
        Ok(info)
    }

    /// The committee of the proof audit against `candidate`.
    pub async fn get_audit_committee(
        &self,
        task: &TaskId,
        round: u64,
        candidate: &Pubkey,
    ) -> Result<AuditCommitteeDto> {
        let candidate = json!(candidate.to_base58());
        self.round_query(m::GET_AUDIT_COMMITTEE, task, round, Some(candidate))
            .await
    }

    /// The committee auditing distribution attempt `attempt`.
    pub async fn get_distribution_committee(
        &self,
        task: &TaskId,
        round: u64,
        attempt: u16,
    ) -> Result<AuditCommitteeDto> {
        self.typed(
            m::GET_AUDIT_COMMITTEE,
            json!([task.to_base58(), round, null, attempt]),
        )
        .await
    }

    pub async fn get_distribution_candidates(
        &self,
        task: &TaskId,
        round: u64,
    ) -> Result<CandidatesDto> {
        self.round_query(m::GET_DISTRIBUTION_CANDIDATES, task, round, None)
            .await
    }

    /// Every task (fetched page by page).
    pub async fn get_program_tasks(&self, active_only: bool) -> Result<Vec<TaskSummaryDto>> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .get_program_tasks_page(active_only, after.as_deref(), None)
                .await?;
            out.extend(page.tasks);
            match page.next.map(|n| n.to_base58()) {
                Some(n) if after.as_deref() != Some(n.as_str()) => after = Some(n),
                _ => return Ok(out),
            }
        }
    }

    /// One page of tasks after task id `after` (`limit` defaults to
    /// [`gradual_rpc::limits::TASKS_PAGE_MAX`]).
    pub async fn get_program_tasks_page(
        &self,
        active_only: bool,
        after: Option<&str>,
        limit: Option<u64>,
    ) -> Result<TasksPageDto> {
        self.typed(
            m::GET_PROGRAM_TASKS,
            json!([{"active_only": active_only, "after": after, "limit": limit}]),
        )
        .await
    }

    /// Devnet only: the validator's faucet mints `amount` ROE to `to`.
    pub async fn request_airdrop(&self, to: &Pubkey, amount: u64) -> Result<Signature> {
        let v = self
            .call(m::REQUEST_AIRDROP, json!([to.to_base58(), amount]))
            .await?;
        signature(m::REQUEST_AIRDROP, v)
    }

    /// Long poll: returns once the head reaches `slot` or after `timeout_ms`.
    pub async fn wait_for_slot(&self, slot: u64, timeout_ms: u64) -> Result<WaitDto> {
        self.typed(m::WAIT_FOR_SLOT, json!([slot, timeout_ms]))
            .await
    }

    /// Wait until the head reaches `slot` (however long it takes, in long polls).
    pub async fn wait_until_slot(&self, slot: u64) -> Result<HeadDto> {
        loop {
            let w = self.wait_for_slot(slot, 10_000).await?;
            if w.reached {
                return Ok(w.head);
            }
        }
    }

    // ----- transactions ------------------------------------------------------------------------

    /// Sign `ix` with the current head as the recent slot and the chain's fee.
    pub async fn sign(&self, signer: &Keypair, ix: Instruction) -> Result<Transaction> {
        let g = self.genesis().await?;
        let (chain, fee) = (g.chain_id.clone(), g.fee_roe);
        let slot = self.get_slot().await?;
        Ok(Transaction::new_signed(signer, &chain, slot, fee, ix))
    }

    /// Sign and send; returns once the validator accepted it into its mempool.
    pub async fn send(&self, signer: &Keypair, ix: Instruction) -> Result<Signature> {
        let tx = self.sign(signer, ix).await?;
        self.send_transaction(&tx).await
    }

    /// Wait until the transaction is in a committed block; its error if the ledger refused
    /// it.
    pub async fn confirm(&self, sig: &Signature) -> Result<Confirmed> {
        let started = Instant::now();
        let mut seen_slot = self.get_slot().await?;
        loop {
            if let Some(st) = self.get_signature_status(sig).await? {
                if st.state == TxState::Processed {
                    let slot = st.slot.unwrap_or(0);
                    return match st.err {
                        None => Ok(Confirmed {
                            signature: *sig,
                            slot,
                        }),
                        Some(error) => Err(ClientError::TxFailed {
                            signature: *sig,
                            error: Box::new(error),
                        }),
                    };
                }
            }
            let waited = started.elapsed();
            if waited >= self.confirm_timeout {
                return Err(ClientError::NotConfirmed {
                    signature: *sig,
                    waited_ms: waited.as_millis() as u64,
                });
            }
            let left = (self.confirm_timeout - waited).as_millis() as u64;
            let w = self
                .wait_for_slot(seen_slot + 1, left.clamp(1, 5_000))
                .await?;
            seen_slot = w.head.slot;
        }
    }

    /// Sign, send and confirm.
    pub async fn send_and_confirm(&self, signer: &Keypair, ix: Instruction) -> Result<Confirmed> {
        let sig = self.send(signer, ix).await?;
        self.confirm(&sig).await
    }

    /// Airdrop and wait for it to land.
    pub async fn airdrop_and_confirm(&self, to: &Pubkey, amount: u64) -> Result<Confirmed> {
        let sig = self.request_airdrop(to, amount).await?;
        self.confirm(&sig).await
    }
}

/// A task's round clock, from its account info (window arithmetic as the ledger does it).
pub fn task_clock(t: &TaskDto) -> Clock {
    Clock {
        starting_slot: t.starting_slot,
        round_time: t.params.round_time,
        submission_window: t.params.submission_window,
        audit_window: t.params.audit_window,
    }
}

/// Check a block's randomness (SPEC §1 *Randomness*): its producer's VRF proof on
/// `(chain_id, slot, parent randomness)` must verify under `producer`'s VRF key and give
/// the block's `randomness`. `parent_randomness` is the previous block's randomness (the
/// genesis hash for the first block). `Ok(false)`: the block's randomness is not the one
/// its producer's key gives.
pub fn verify_block_randomness(
    chain_id: &str,
    block: &BlockDto,
    parent_randomness: Hash,
    producer: &ValidatorInfo,
) -> Result<bool> {
    if block.producer != producer.id {
        return Ok(false);
    }
    let input = VrfInput {
        chain_id: chain_id.to_string(),
        slot: block.slot,
        parent_randomness,
    };
    let proof = VrfProof::from(&block.vrf_proof);
    Ok(input.verify(&producer.vrf_key, &proof) == Some(block.randomness))
}
