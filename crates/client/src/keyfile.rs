//! Keypair files in the Solana format: a JSON array of 64 byte values (secret then public).

use gradual_types::Keypair;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyfileError {
    #[error("cannot read keypair file '{path}': {source}; create one with `gradual keygen`")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("keypair file '{path}' is not a JSON array of 64 numbers 0-255: {reason}")]
    Format { path: PathBuf, reason: String },
    #[error("keypair file '{path}' already exists; pass --force to overwrite it")]
    Exists { path: PathBuf },
    #[error("cannot write keypair file '{path}': {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub fn read_keypair_file(path: &Path) -> Result<Keypair, KeyfileError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeyfileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let format = |reason: String| KeyfileError::Format {
        path: path.to_path_buf(),
        reason,
    };
    let bytes: Vec<u8> = serde_json::from_str(&text).map_err(|e| format(e.to_string()))?;
    Keypair::from_bytes64(&bytes).map_err(|e| format(e.to_string()))
}

/// Write `kp` to `path` (mode 0600 on Unix), refusing to overwrite unless `force`.
pub fn write_keypair_file(path: &Path, kp: &Keypair, force: bool) -> Result<(), KeyfileError> {
    if path.exists() && !force {
        return Err(KeyfileError::Exists {
            path: path.to_path_buf(),
        });
    }
    let write = |source| KeyfileError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(write)?;
    }
    let text = serde_json::to_string(&kp.to_bytes64().to_vec()).expect("a byte vector serializes");
    std::fs::write(path, text).map_err(write)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(write)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.json");
        let kp = Keypair::from_seed([5; 32]);
        write_keypair_file(&p, &kp, false).unwrap();
        assert_eq!(read_keypair_file(&p).unwrap().pubkey(), kp.pubkey());
        assert!(matches!(
            write_keypair_file(&p, &kp, false),
            Err(KeyfileError::Exists { .. })
        ));
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.starts_with('[') && text.split(',').count() == 64);
        std::fs::write(&p, "[1,2,3]").unwrap();
        assert!(matches!(
            read_keypair_file(&p),
            Err(KeyfileError::Format { .. })
        ));
        std::fs::write(&p, "nope").unwrap();
        assert!(matches!(
            read_keypair_file(&p),
            Err(KeyfileError::Format { .. })
        ));
        assert!(matches!(
            read_keypair_file(&dir.path().join("missing.json")),
            Err(KeyfileError::Read { .. })
        ));
    }
}
