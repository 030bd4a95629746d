//! The artifact store's bookkeeping: who stored what, the quotas, and garbage collection.
//!
//! Artifacts are files named by the base58 blake3 digest of their bytes in
//! `<data>/artifacts`; a signed upload also leaves `<digest>.uploader` (the uploader's base58
//! key), so quotas survive a restart. An upload is taken when it is signed by an account
//! that holds at least `max(fee, min_balance)` ([`gradual_types::ArtifactUpload`]), or,
//! unsigned, when a task on the ledger names its digest (anyone may re-seed an executable a
//! task needs). Every upload reserves its declared size against the uploader's quota and the
//! store's total before the body is read; a refused or failed upload releases it.
//!
//! Garbage collection removes artifacts that no task on the ledger (closed tasks excepted)
//! names as its executable, in its parameters, pending parameters or round terms, once they
//! are older than the grace period (time to send the `CreateTask` or `UpdateTask` that names
//! them). Validator wall clock only: nothing here is ledger state.

use gradual_ledger::Ledger;
use gradual_types::{Hash, Pubkey};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// Limits of the artifact store (validator configuration; defaults in [`Default`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactLimits {
    /// Bytes one uploader's artifacts may take, in all.
    pub uploader_quota_bytes: u64,
    /// Artifacts one uploader may keep.
    pub uploader_max_files: usize,
    /// Bytes all artifacts may take.
    pub total_quota_bytes: u64,
    /// Artifacts the store keeps, at most.
    pub total_max_files: usize,
    /// Least balance (ROE) an uploader must hold; the chain fee if that is higher.
    pub min_balance_roe: u64,
    /// How long an artifact no task names is kept.
    pub gc_grace: Duration,
    /// How often garbage collection runs.
    pub gc_interval: Duration,
    /// Uploads read at the same time (each may buffer up to `artifact_max_bytes`).
    pub uploads_in_flight: usize,
}

impl Default for ArtifactLimits {
    fn default() -> Self {
        ArtifactLimits {
            uploader_quota_bytes: 256 * 1024 * 1024,
            uploader_max_files: 64,
            total_quota_bytes: 4 * 1024 * 1024 * 1024,
            total_max_files: 4096,
            min_balance_roe: 1_000_000,
            gc_grace: Duration::from_secs(3600),
            gc_interval: Duration::from_secs(60),
            uploads_in_flight: 4,
        }
    }
}

/// Who an upload is charged to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payer {
    /// A signed upload: the uploader's quota and the total.
    Uploader(Pubkey),
    /// An unsigned upload of an artifact a task names: the total only.
    Referenced,
}

/// Why an upload does not fit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuotaError {
    #[error("uploader {uploader} stores {used} bytes in {files} artifacts; this upload of {size} bytes would pass its quota of {quota} bytes or {max_files} artifacts; wait until unused artifacts are collected")]
    Uploader {
        uploader: Pubkey,
        used: u64,
        files: usize,
        size: u64,
        quota: u64,
        max_files: usize,
    },
    #[error("the artifact store holds {used} bytes in {files} artifacts; this upload of {size} bytes would pass its total of {quota} bytes or {max_files} artifacts")]
    Total {
        used: u64,
        files: usize,
        size: u64,
        quota: u64,
        max_files: usize,
    },
}

#[derive(Debug, Clone)]
struct Entry {
    size: u64,
    uploader: Option<Pubkey>,
    stored_at: SystemTime,
}

#[derive(Debug, Default)]
struct Usage {
    bytes: u64,
    files: usize,
}

impl Usage {
    fn add(&mut self, size: u64) {
        self.bytes = self.bytes.saturating_add(size);
        self.files = self.files.saturating_add(1);
    }
    fn sub(&mut self, size: u64) {
        self.bytes = self.bytes.saturating_sub(size);
        self.files = self.files.saturating_sub(1);
    }
}

#[derive(Debug, Default)]
struct Index {
    files: HashMap<Hash, Entry>,
    /// Stored plus reserved, per uploader and in all.
    by_uploader: HashMap<Pubkey, Usage>,
    total: Usage,
}

/// The store's bookkeeping, shared by the HTTP handlers and the collector.
pub struct ArtifactStore {
    pub dir: PathBuf,
    pub limits: ArtifactLimits,
    index: Mutex<Index>,
    /// Uploads being read now.
    pub in_flight: tokio::sync::Semaphore,
    /// Digests the ledger's tasks name, as of a slot (recomputed when the slot moves).
    referenced: Mutex<Option<(u64, HashSet<Hash>)>>,
}

/// Name of the file recording who uploaded artifact `name`.
fn uploader_file(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.uploader"))
}

impl ArtifactStore {
    /// Index `dir` (created by the caller): artifacts, their uploaders, and the time they
    /// were stored (file modification time). Leftover temporary files are removed.
    pub fn open(dir: PathBuf, limits: ArtifactLimits) -> std::io::Result<ArtifactStore> {
        let mut index = Index::default();
        for item in std::fs::read_dir(&dir)? {
            let item = item?;
            let name = item.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.ends_with(".tmp") {
                let _ = std::fs::remove_file(item.path());
                continue;
            }
            let Ok(digest) = Hash::from_base58(&name) else {
                continue;
            };
            let meta = item.metadata()?;
            if !meta.is_file() {
                continue;
            }
            let uploader = std::fs::read_to_string(uploader_file(&dir, &name))
                .ok()
                .and_then(|s| s.trim().parse::<Pubkey>().ok());
            let entry = Entry {
                size: meta.len(),
                uploader,
                stored_at: meta.modified().unwrap_or_else(|_| SystemTime::now()),
            };
            index.total.add(entry.size);
            if let Some(u) = uploader {
                index.by_uploader.entry(u).or_default().add(entry.size);
            }
            index.files.insert(digest, entry);
        }
        let permits = limits.uploads_in_flight.max(1);
        Ok(ArtifactStore {
            dir,
            limits,
            index: Mutex::new(index),
            in_flight: tokio::sync::Semaphore::new(permits),
            referenced: Mutex::new(None),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Index> {
        // The index holds no invariant a panicking holder could break half-way.
        self.index.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The size of stored artifact `digest`, if any.
    pub fn stored(&self, digest: &Hash) -> Option<u64> {
        self.lock().files.get(digest).map(|e| e.size)
    }

    /// Restart the grace period of a stored artifact (its uploader sent it again).
    pub fn touch(&self, digest: &Hash) {
        let now = SystemTime::now();
        if let Some(e) = self.lock().files.get_mut(digest) {
            e.stored_at = now;
        }
        if let Ok(f) = std::fs::File::options()
            .append(true)
            .open(self.dir.join(digest.to_base58()))
        {
            let _ = f.set_modified(now);
        }
    }

    /// Reserve `size` bytes for `payer`; [`ArtifactStore::release`] or
    /// [`ArtifactStore::commit`] it afterwards.
    pub fn reserve(&self, payer: Payer, size: u64) -> Result<(), QuotaError> {
        let mut ix = self.lock();
        let l = &self.limits;
        if let Payer::Uploader(u) = payer {
            let usage = ix.by_uploader.get(&u);
            let (used, files) = usage.map_or((0, 0), |x| (x.bytes, x.files));
            if used.saturating_add(size) > l.uploader_quota_bytes || files >= l.uploader_max_files {
                return Err(QuotaError::Uploader {
                    uploader: u,
                    used,
                    files,
                    size,
                    quota: l.uploader_quota_bytes,
                    max_files: l.uploader_max_files,
                });
            }
        }
        let total_bytes = ix.total.bytes.saturating_add(size);
        if total_bytes > l.total_quota_bytes || ix.total.files >= l.total_max_files {
            return Err(QuotaError::Total {
                used: ix.total.bytes,
                files: ix.total.files,
                size,
                quota: l.total_quota_bytes,
                max_files: l.total_max_files,
            });
        }
        if let Payer::Uploader(u) = payer {
            ix.by_uploader.entry(u).or_default().add(size);
        }
        ix.total.add(size);
        Ok(())
    }

    /// Give back a reservation whose upload failed.
    pub fn release(&self, payer: Payer, size: u64) {
        let mut ix = self.lock();
        ix.total.sub(size);
        if let Payer::Uploader(u) = payer {
            if let Some(x) = ix.by_uploader.get_mut(&u) {
                x.sub(size);
                if x.files == 0 {
                    ix.by_uploader.remove(&u);
                }
            }
        }
    }

    /// Record a stored artifact against its reservation. If the same digest was stored by
    /// a concurrent upload meanwhile, this reservation is released instead.
    pub fn commit(&self, digest: Hash, payer: Payer, size: u64) {
        let mut ix = self.lock();
        if ix.files.contains_key(&digest) {
            drop(ix);
            self.release(payer, size);
            return;
        }
        let uploader = match payer {
            Payer::Uploader(u) => Some(u),
            Payer::Referenced => None,
        };
        ix.files.insert(
            digest,
            Entry {
                size,
                uploader,
                stored_at: SystemTime::now(),
            },
        );
    }

    /// Path of the file recording an artifact's uploader.
    pub fn uploader_path(&self, digest: &Hash) -> PathBuf {
        uploader_file(&self.dir, &digest.to_base58())
    }

    /// Whether a task on the ledger names `digest` as its executable.
    pub fn is_referenced(&self, ledger: &Ledger, digest: &Hash) -> bool {
        let slot = ledger.slot();
        let mut cache = self.referenced.lock().unwrap_or_else(|p| p.into_inner());
        match &*cache {
            Some((s, set)) if *s == slot => set.contains(digest),
            _ => {
                let set = referenced_digests(ledger);
                let hit = set.contains(digest);
                *cache = Some((slot, set));
                hit
            }
        }
    }

    /// Remove the artifacts no task names that were stored before `now - grace`. Returns
    /// the digests removed.
    pub fn collect(&self, referenced: &HashSet<Hash>, now: SystemTime) -> Vec<Hash> {
        let grace = self.limits.gc_grace;
        let doomed: Vec<(Hash, Entry)> = {
            let ix = self.lock();
            ix.files
                .iter()
                .filter(|(d, e)| {
                    !referenced.contains(d)
                        && now
                            .duration_since(e.stored_at)
                            .is_ok_and(|age| age >= grace)
                })
                .map(|(d, e)| (*d, e.clone()))
                .collect()
        };
        let mut removed = Vec::new();
        for (digest, entry) in doomed {
            let name = digest.to_base58();
            match std::fs::remove_file(self.dir.join(&name)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(error = %e, digest = %name, "cannot remove an unused artifact");
                    continue;
                }
            }
            let _ = std::fs::remove_file(uploader_file(&self.dir, &name));
            let mut ix = self.lock();
            ix.files.remove(&digest);
            ix.total.sub(entry.size);
            if let Some(u) = entry.uploader {
                if let Some(x) = ix.by_uploader.get_mut(&u) {
                    x.sub(entry.size);
                    if x.files == 0 {
                        ix.by_uploader.remove(&u);
                    }
                }
            }
            tracing::info!(digest = %name, size = entry.size, "unused artifact collected");
            removed.push(digest);
        }
        removed
    }
}

/// Every executable digest a task that is not closed names: in its parameters, its pending
/// parameters, or the round terms of rounds that may still run or settle.
pub fn referenced_digests(ledger: &Ledger) -> HashSet<Hash> {
    let mut set = HashSet::new();
    for id in ledger.task_ids() {
        let Some(t) = ledger.task(&id) else { continue };
        if t.closed {
            continue;
        }
        set.insert(t.params.executable.digest);
        if let Some(p) = &t.pending_params {
            set.insert(p.executable.digest);
        }
        for (_, terms) in &t.terms_log {
            set.insert(terms.executable.digest);
        }
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dir: &Path, limits: ArtifactLimits) -> ArtifactStore {
        ArtifactStore::open(dir.to_path_buf(), limits).unwrap()
    }

    #[test]
    fn a_released_reservation_frees_its_quota() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(
            dir.path(),
            ArtifactLimits {
                uploader_quota_bytes: 10,
                uploader_max_files: 2,
                ..ArtifactLimits::default()
            },
        );
        let u = Payer::Uploader(Pubkey([1; 32]));
        s.reserve(u, 10).unwrap();
        assert!(matches!(s.reserve(u, 1), Err(QuotaError::Uploader { .. })));
        s.release(u, 10);
        s.reserve(u, 4).unwrap();
        s.commit(Hash([1; 32]), u, 4);
        s.reserve(u, 4).unwrap();
        // A second copy of the same digest is not counted twice.
        s.commit(Hash([1; 32]), u, 4);
        s.reserve(u, 4).unwrap();
        s.commit(Hash([2; 32]), u, 4);
        assert!(
            matches!(s.reserve(u, 1), Err(QuotaError::Uploader { files: 2, .. })),
            "at most two artifacts"
        );
        // Unsigned uploads of referenced digests count against the total only.
        s.reserve(Payer::Referenced, 1).unwrap();
    }

    #[test]
    fn the_collector_spares_named_and_young_artifacts() {
        let dir = tempfile::tempdir().unwrap();
        let grace = Duration::from_secs(60);
        let s = store(
            dir.path(),
            ArtifactLimits {
                gc_grace: grace,
                ..ArtifactLimits::default()
            },
        );
        let u = Payer::Uploader(Pubkey([1; 32]));
        for d in [Hash([1; 32]), Hash([2; 32])] {
            std::fs::write(dir.path().join(d.to_base58()), b"x").unwrap();
            s.reserve(u, 1).unwrap();
            s.commit(d, u, 1);
        }
        let named: HashSet<Hash> = [Hash([2; 32])].into();
        let now = SystemTime::now();
        assert!(s.collect(&named, now).is_empty(), "young artifacts stay");
        assert_eq!(s.collect(&named, now + grace), vec![Hash([1; 32])]);
        assert!(!dir.path().join(Hash([1; 32]).to_base58()).exists());
        assert_eq!(s.stored(&Hash([1; 32])), None);
        assert_eq!(s.stored(&Hash([2; 32])), Some(1));
    }
}
