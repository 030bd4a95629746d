//! The validator's artifact store: signed and unsigned uploads, checked downloads.

use crate::{Client, ClientError, Result};
use gradual_rpc::dto::ArtifactDto;
use gradual_rpc::paths;
use gradual_types::{Hash, Keypair};

impl Client {
    /// Upload a task executable; the validator checks its digest.
    pub async fn upload_artifact(&self, bytes: Vec<u8>) -> Result<ArtifactDto> {
        let digest = Hash(*blake3::hash(&bytes).as_bytes()).to_base58();
        let url = format!("{}{}/{}", self.url, paths::ARTIFACTS, digest);
        let resp = self
            .http
            .put(&url)
            .body(bytes)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        self.artifact_answer(digest, resp).await
    }

    /// What the validator answered to an upload of `digest`.
    async fn artifact_answer(
        &self,
        digest: String,
        resp: reqwest::Response,
    ) -> Result<ArtifactDto> {
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| self.unreachable(e))?;
        if !status.is_success() {
            return Err(ClientError::Artifact {
                digest,
                reason: format!(
                    "upload refused (HTTP {}): {}",
                    status.as_u16(),
                    String::from_utf8_lossy(&body).trim()
                ),
            });
        }
        serde_json::from_slice(&body).map_err(|e| ClientError::Artifact {
            digest,
            reason: format!("unexpected upload answer: {e}"),
        })
    }

    /// Upload a task executable signed by `uploader`, an account holding at least the
    /// validator's minimum (the chain fee or more): the validator takes unsigned uploads
    /// only of digests a task already names. The signature binds the chain, digest, size,
    /// a recent slot and the uploader ([`gradual_types::ArtifactUpload`]).
    pub async fn upload_artifact_signed(
        &self,
        uploader: &Keypair,
        bytes: Vec<u8>,
    ) -> Result<ArtifactDto> {
        let digest = Hash(*blake3::hash(&bytes).as_bytes());
        let chain_id = self.genesis().await?.chain_id.clone();
        let recent_slot = self.get_slot().await?;
        let upload = gradual_types::ArtifactUpload {
            chain_id,
            digest,
            size: bytes.len() as u64,
            recent_slot,
            uploader: uploader.pubkey(),
        };
        let sig = upload.sign(uploader);
        let digest = digest.to_base58();
        let url = format!("{}{}/{}", self.url, paths::ARTIFACTS, digest);
        use gradual_types::artifact::headers as h;
        let resp = self
            .http
            .put(&url)
            .header(h::UPLOADER, uploader.pubkey().to_base58())
            .header(h::RECENT_SLOT, recent_slot.to_string())
            .header(h::SIGNATURE, sig.to_base58())
            .body(bytes)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        self.artifact_answer(digest, resp).await
    }

    /// Download an artifact from `url` and check that its bytes hash to `digest`.
    pub async fn download_artifact(&self, url: &str, digest: &Hash) -> Result<Vec<u8>> {
        let resp = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| self.unreachable(e))?;
        if !status.is_success() {
            return Err(ClientError::Artifact {
                digest: digest.to_base58(),
                reason: format!(
                    "download from {url} failed (HTTP {}): {}",
                    status.as_u16(),
                    String::from_utf8_lossy(&body).trim()
                ),
            });
        }
        let got = Hash(*blake3::hash(&body).as_bytes());
        if got != *digest {
            return Err(ClientError::Artifact {
                digest: digest.to_base58(),
                reason: format!("downloaded bytes hash to {got}; the source is corrupt or wrong"),
            });
        }
        Ok(body.to_vec())
    }

    /// The artifact URL on this validator.
    pub fn artifact_url(&self, digest: &Hash) -> String {
        format!("{}{}/{}", self.url, paths::ARTIFACTS, digest)
    }
}
