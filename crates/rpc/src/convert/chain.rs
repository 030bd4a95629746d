//! Chain-level shapes: the genesis and its validator set, blocks with their transactions,
//! instructions and transaction errors.

use crate::dto::*;
use gradual_ledger::{Block, Receipt, TxError};
use gradual_types::{task_id, Genesis, Instruction, Pubkey};

/// The error as the wire carries it: its variant name, message and stable `code()`.
pub fn tx_error(e: &TxError) -> TxErrorDto {
    TxErrorDto {
        kind: e.kind(),
        message: e.to_string(),
        code: e.code().to_string(),
    }
}

/// The genesis as `getGenesis` shows it (one-way: the block limits and the initial accounts
/// stay on the server); `airdrop_available` is the server's to say.
pub fn genesis(g: &Genesis, airdrop_available: bool) -> GenesisDto {
    GenesisDto {
        protocol_version: g.protocol_version,
        chain_id: g.chain_id.clone(),
        hash: g.hash(),
        slot_ms: g.slot_ms,
        fee_roe: g.fee_roe,
        tx_max_age_slots: g.tx_max_age_slots,
        faucet: g.faucet.clone(),
        validators: g.validators.clone(),
        admin: g.admin,
        airdrop_available,
    }
}

/// An instruction with its arguments; `signer` names the task a `CreateTask` creates.
pub fn instruction(signer: &Pubkey, ix: &Instruction) -> InstructionDto {
    use InstructionDto as D;
    match ix.clone() {
        Instruction::Transfer { to, amount } => D::Transfer { to, amount },
        Instruction::FaucetMint { to, amount } => D::FaucetMint { to, amount },
        Instruction::CreateTask {
            nonce,
            params,
            total_bounty,
        } => D::CreateTask {
            task: task_id(signer, nonce),
            nonce,
            params: Box::new(params.clone()),
            total_bounty,
        },
        Instruction::FundTask { task, amount } => D::FundTask { task, amount },
        Instruction::UpdateTask { task, params } => D::UpdateTask {
            task,
            params: Box::new(params.clone()),
        },
        Instruction::SetActive { task, active } => D::SetActive { task, active },
        Instruction::CloseTask { task } => D::CloseTask { task },
        Instruction::Stake {
            task,
            amount,
            url,
            owner,
        } => D::Stake {
            task,
            amount,
            url,
            owner,
        },
        Instruction::SetNodeUrl { task, url } => D::SetNodeUrl { task, url },
        Instruction::SetStakeOwner { task, node, owner } => D::SetStakeOwner { task, node, owner },
        Instruction::SetValidators {
            validators,
            from_slot,
        } => D::SetValidators {
            validators: validators.clone(),
            from_slot,
        },
        Instruction::Unstake { task } => D::Unstake { task },
        Instruction::Withdraw { task } => D::Withdraw { task },
        Instruction::Claim { task } => D::Claim { task },
        Instruction::SubmitProof { task, round, value } => D::SubmitProof { task, round, value },
        Instruction::AuditProof {
            task,
            round,
            candidate,
            verdict,
        } => D::AuditProof {
            task,
            round,
            candidate,
            verdict,
        },
        Instruction::AuditProofs { task, round, votes } => D::AuditProofs {
            task,
            round,
            votes: votes.iter().map(VoteDto::from).collect(),
        },
        // Summarised: a chunk shows its entry count and sum, not its entries.
        Instruction::UploadDistributionChunk {
            task,
            round,
            attempt,
            index,
            entries,
        } => D::UploadDistributionChunk {
            task,
            round,
            attempt,
            index,
            entries: entries.len() as u32,
            total: entries
                .iter()
                .fold(0u64, |sum, (_, r)| sum.saturating_add(*r)),
        },
        Instruction::SubmitDistribution {
            task,
            round,
            attempt,
            digest,
            count,
        } => D::SubmitDistribution {
            task,
            round,
            attempt,
            digest,
            count,
        },
        Instruction::AuditDistribution {
            task,
            round,
            attempt,
            verdict,
        } => D::AuditDistribution {
            task,
            round,
            attempt,
            verdict,
        },
    }
}

/// Which transactions of a block to show: `limit` of them from `offset`, stopping once they
/// hold `max_bytes` (encoded; the first is always shown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxPage {
    pub offset: usize,
    pub limit: usize,
    pub max_bytes: usize,
}

/// A block as `getBlock` shows it: its header, and with `txs` one page of its transactions,
/// each with its result and the fee the ledger charged for it.
pub fn block(b: &Block, receipts: &[Receipt], txs: Option<TxPage>) -> BlockDto {
    let h = &b.header;
    let page = txs.map(|p| {
        let from = p.offset.min(b.txs.len());
        let mut to = from;
        let mut bytes = 0usize;
        while to < b.txs.len() && to - from < p.limit {
            bytes = bytes.saturating_add(b.txs[to].encode().len());
            if to > from && bytes > p.max_bytes {
                break;
            }
            to += 1;
        }
        (from, to)
    });
    BlockDto {
        slot: h.slot,
        height: h.height,
        hash: b.hash(),
        parent_hash: h.parent_hash,
        producer: h.producer,
        randomness: h.randomness,
        vrf_proof: (&h.vrf_proof).into(),
        tx_root: h.tx_root,
        state_root: h.state_root,
        tx_count: h.tx_count,
        transactions: page.map(|(from, to)| {
            b.txs[from..to]
                .iter()
                .enumerate()
                .map(|(i, tx)| {
                    // One receipt per transaction, in block order.
                    let receipt = receipts
                        .get(from + i)
                        .filter(|r| r.tx == tx.signature)
                        .or_else(|| receipts.iter().find(|r| r.tx == tx.signature));
                    TxDto {
                        signature: tx.signature.to_base58(),
                        signer: tx.message.signer.to_base58(),
                        instruction: tx.message.instruction.name().to_string(),
                        recent_slot: tx.message.recent_slot,
                        fee: tx.message.fee,
                        fee_charged: receipt.map_or(0, |r| r.fee_charged),
                        err: receipt.and_then(|r| r.result.as_ref().err()).map(tx_error),
                        details: Some(instruction(&tx.message.signer, &tx.message.instruction)),
                    }
                })
                .collect()
        }),
        next_tx_offset: page
            .filter(|(_, to)| *to < b.txs.len())
            .map(|(_, to)| to as u32),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gradual_types::{Transaction, VrfProof};

    #[test]
    fn a_tx_error_travels_with_its_kind_code_and_message() {
        let e = TxError::NothingToClaim;
        assert_eq!(
            tx_error(&e),
            TxErrorDto {
                kind: "NothingToClaim".into(),
                message: "no pending rewards to claim".into(),
                code: "nothing_to_claim".into(),
            }
        );
    }

    #[test]
    fn a_block_page_stops_at_its_limit_and_its_bytes() {
        use gradual_ledger::BlockHeader;
        use gradual_types::{Hash, Keypair};
        let kp = Keypair::from_seed([1; 32]);
        let txs: Vec<Transaction> = (0..5)
            .map(|i| {
                Transaction::new_signed(
                    &kp,
                    "c",
                    i,
                    0,
                    Instruction::Transfer {
                        to: Pubkey([3; 32]),
                        amount: 1,
                    },
                )
            })
            .collect();
        let size = txs[0].encode().len();
        let receipts: Vec<Receipt> = txs
            .iter()
            .map(|t| Receipt {
                tx: t.signature,
                result: Err(TxError::NothingToClaim),
                fee_charged: 3,
            })
            .collect();
        let b = Block {
            header: BlockHeader {
                slot: 1,
                height: 1,
                parent_hash: Hash::ZERO,
                producer: kp.pubkey(),
                randomness: Hash::ZERO,
                vrf_proof: VrfProof {
                    preout: [0; 32],
                    proof: [0; 64],
                },
                tx_root: Hash::ZERO,
                state_root: Hash::ZERO,
                tx_count: 5,
            },
            txs,
        };
        let page = |offset, limit, max_bytes| {
            block(
                &b,
                &receipts,
                Some(TxPage {
                    offset,
                    limit,
                    max_bytes,
                }),
            )
        };
        let p = page(0, 2, usize::MAX);
        assert_eq!(p.transactions.as_ref().unwrap().len(), 2);
        assert_eq!(p.next_tx_offset, Some(2));
        let p = page(1, 10, 2 * size);
        let shown = p.transactions.unwrap();
        assert_eq!(shown.len(), 2);
        assert_eq!(shown[0].signature, b.txs[1].signature.to_base58());
        assert_eq!(shown[0].err.as_ref().unwrap().code, "nothing_to_claim");
        assert_eq!(
            shown[0].fee_charged, 3,
            "the receipt's fee is shown as it is"
        );
        assert_eq!(p.next_tx_offset, Some(3));
        // The first transaction is shown whatever its size; the end has no next offset.
        let p = page(4, 10, 1);
        assert_eq!(p.transactions.unwrap().len(), 1);
        assert_eq!(p.next_tx_offset, None);
        assert_eq!(page(9, 10, 1).transactions.unwrap().len(), 0);
        assert_eq!(block(&b, &receipts, None).transactions, None);
    }

    #[test]
    fn v2_instructions_have_stable_json() {
        use gradual_types::{Hash, ValidatorKey};
        let signer = Pubkey([1; 32]);
        let task = Hash([2; 32]);
        let owner = Pubkey([3; 32]);
        let j = |ix: &Instruction| serde_json::to_value(instruction(&signer, ix)).unwrap();
        let v = j(&Instruction::Stake {
            task,
            amount: 5,
            url: "http://a".into(),
            owner: Some(owner),
        });
        assert_eq!(v["type"], "Stake");
        assert_eq!(v["owner"], owner.to_base58());
        assert_eq!(v["task"], task.to_base58());
        let v = j(&Instruction::SetNodeUrl {
            task,
            url: "https://b".into(),
        });
        assert_eq!(
            (&v["type"], &v["url"]),
            (&"SetNodeUrl".into(), &"https://b".into())
        );
        let v = j(&Instruction::SetStakeOwner {
            task,
            node: signer,
            owner,
        });
        assert_eq!(v["type"], "SetStakeOwner");
        assert_eq!(v["node"], signer.to_base58());
        let k = ValidatorKey::from_seed([4; 32]);
        let v = j(&Instruction::SetValidators {
            validators: vec![k.info()],
            from_slot: 9,
        });
        assert_eq!(v["type"], "SetValidators");
        assert_eq!(v["from_slot"], 9);
        assert_eq!(v["validators"][0]["id"], k.id().to_base58());
        assert_eq!(v["validators"][0]["vrf_key"], k.vrf_public().to_string());
        let v = j(&Instruction::UploadDistributionChunk {
            task,
            round: 1,
            attempt: 0,
            index: 2,
            entries: vec![(owner, 3), (signer, 4)],
        });
        assert_eq!((&v["entries"], &v["total"]), (&2.into(), &7.into()));
    }
}
