//! The validator's identity: the ed25519 key the validator set names it by, from which its
//! VRF key is derived (`ValidatorKey::from_keypair`). Kept in the data directory as
//! `validator-identity.json`, in the same JSON format as every other key file (an array of
//! the 64 secret-then-public bytes, mode 0600).
//!
//! ```text
//!  config.identity ──▶ use it
//!        │ none
//!        ▼
//!  <data_dir>/validator-identity.json ──▶ load it
//!        │ missing
//!        ▼
//!  new chain, genesis names no validators ──▶ generate, save, name it in the genesis
//!  set is the public devnet key            ──▶ use it (tests, throwaway devnets)
//!  otherwise                               ──▶ refuse to start
//! ```

use crate::config::{describe_set, ConfigError};
use crate::ValidatorError;
use gradual_types::{Keypair, ValidatorInfo, ValidatorKey};
use std::path::Path;

/// Name of the identity key file inside the data directory.
pub const IDENTITY_FILE: &str = "validator-identity.json";

/// Read a key file (a JSON array of 64 bytes).
pub fn read_identity(path: &Path) -> Result<Keypair, ValidatorError> {
    let bad = |reason: String| {
        ValidatorError::Config(ConfigError::IdentityFile {
            path: path.display().to_string(),
            reason,
        })
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
    let bytes: Vec<u8> = serde_json::from_str(&text)
        .map_err(|e| bad(format!("not a JSON array of 64 numbers 0-255: {e}")))?;
    Keypair::from_bytes64(&bytes).map_err(|e| bad(e.to_string()))
}

/// Write `kp` to `path` (mode 0600 on Unix) so that a crash leaves either no file or the
/// whole key: written aside, synced, renamed into place, directory synced.
pub fn write_identity(path: &Path, kp: &Keypair) -> Result<(), ValidatorError> {
    use std::io::Write;
    let io = |what: &'static str| crate::io(what, path);
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".creating");
    let tmp = std::path::PathBuf::from(tmp);
    let text = serde_json::to_string(&kp.to_bytes64().to_vec()).expect("a byte vector serializes");
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts
            .open(&tmp)
            .map_err(io("cannot write the validator identity"))?;
        f.write_all(text.as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(io("cannot write the validator identity"))?;
    }
    std::fs::rename(&tmp, path).map_err(io("cannot move the validator identity into place"))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io("cannot sync the directory of"))?;
    }
    Ok(())
}

/// Where the identity came from (for the log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentitySource {
    Config,
    File,
    Generated,
    Devnet,
}

/// Find the validator's identity. `creating`: the chain is about to be created, `set` is
/// its genesis validator set (empty: the identity found or generated here becomes it);
/// otherwise `set` is the set in force on the existing chain.
pub fn resolve(
    given: Option<&Keypair>,
    data_dir: &Path,
    creating: bool,
    set: &[ValidatorInfo],
) -> Result<(ValidatorKey, IdentitySource), ValidatorError> {
    if let Some(kp) = given {
        return Ok((
            ValidatorKey::from_keypair(kp.clone()),
            IdentitySource::Config,
        ));
    }
    let path = data_dir.join(IDENTITY_FILE);
    if path.exists() {
        let kp = read_identity(&path)?;
        return Ok((ValidatorKey::from_keypair(kp), IdentitySource::File));
    }
    if creating && set.is_empty() {
        let kp = Keypair::generate();
        write_identity(&path, &kp)?;
        return Ok((ValidatorKey::from_keypair(kp), IdentitySource::Generated));
    }
    let devnet = ValidatorKey::devnet();
    if set == [devnet.info()] {
        return Ok((devnet, IdentitySource::Devnet));
    }
    Err(ConfigError::NoIdentity {
        path: path.display().to_string(),
        set: describe_set(set),
    }
    .into())
}

/// Refuse an identity the validator set (for the next block) does not name, or names with
/// another VRF key.
pub fn check_member(
    key: &ValidatorKey,
    set: &[ValidatorInfo],
    slot: u64,
) -> Result<(), ConfigError> {
    match set.iter().find(|v| v.id == key.id()) {
        Some(v) if v.vrf_key == key.vrf_public() => Ok(()),
        Some(v) => Err(ConfigError::VrfKeyMismatch {
            id: key.id(),
            named: v.vrf_key,
            derived: key.vrf_public(),
        }),
        None => Err(ConfigError::NotAValidator {
            id: key.id(),
            slot,
            set: describe_set(set),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_file_round_trip_is_a_plain_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(IDENTITY_FILE);
        let kp = Keypair::from_seed([9; 32]);
        write_identity(&p, &kp).unwrap();
        assert_eq!(read_identity(&p).unwrap().pubkey(), kp.pubkey());
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.starts_with('[') && text.split(',').count() == 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&p, "[1,2]").unwrap();
        assert!(matches!(
            read_identity(&p),
            Err(ValidatorError::Config(ConfigError::IdentityFile { .. }))
        ));
    }

    #[test]
    fn resolve_order_and_membership() {
        let dir = tempfile::tempdir().unwrap();
        let given = Keypair::from_seed([1; 32]);
        let (k, src) = resolve(Some(&given), dir.path(), true, &[]).unwrap();
        assert_eq!((k.id(), src), (given.pubkey(), IdentitySource::Config));
        assert!(
            !dir.path().join(IDENTITY_FILE).exists(),
            "a given key is not copied"
        );

        // A chain that names validators: no key is generated for it.
        let other = ValidatorKey::from_seed([2; 32]);
        let err = resolve(None, dir.path(), true, &[other.info()]).unwrap_err();
        assert!(
            matches!(err, ValidatorError::Config(ConfigError::NoIdentity { .. })),
            "{err}"
        );
        // The public devnet key, when it is the whole set.
        let (k, src) = resolve(None, dir.path(), false, &[ValidatorKey::devnet().info()]).unwrap();
        assert_eq!(
            (k.id(), src),
            (ValidatorKey::devnet().id(), IdentitySource::Devnet)
        );

        // A new chain without named validators: a fresh key, saved, then loaded again.
        let (fresh, src) = resolve(None, dir.path(), true, &[]).unwrap();
        assert_eq!(src, IdentitySource::Generated);
        let (again, src) = resolve(None, dir.path(), false, &[fresh.info()]).unwrap();
        assert_eq!((again.info(), src), (fresh.info(), IdentitySource::File));

        assert_eq!(check_member(&fresh, &[fresh.info()], 1), Ok(()));
        assert!(matches!(
            check_member(&fresh, &[other.info()], 1),
            Err(ConfigError::NotAValidator { slot: 1, .. })
        ));
        let wrong_vrf = ValidatorInfo {
            id: fresh.id(),
            vrf_key: other.vrf_public(),
        };
        assert!(matches!(
            check_member(&fresh, &[wrong_vrf], 1),
            Err(ConfigError::VrfKeyMismatch { .. })
        ));
    }
}
