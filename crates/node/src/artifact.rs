//! Task executables: fetched from the task creator's URLs (untrusted, guarded) or the
//! operator's own validator, checked against the task's digest, cached by digest.

use crate::outbound::{read_capped, Outbound};
use crate::supervisor::Launch;
use gradual_client::{Client, TaskInfoFlags};
use gradual_types::{Hash, TaskId};
use std::time::Duration;

pub use gradual_types::constants::ARTIFACT_BYTES_MAX;

/// How long one artifact download may take.
const ARTIFACT_TIMEOUT: Duration = Duration::from_secs(120);

/// The two clients artifact downloads use.
pub struct ArtifactFetch {
    /// For the task creator's `executable.urls`.
    pub untrusted: Outbound,
    /// For the artifact store of the operator's own validator (`rpc_url`).
    pub validator: Outbound,
}

/// Download `url` and check that its bytes hash to `digest`.
async fn download(out: &Outbound, url: &str, digest: &Hash) -> Result<Vec<u8>, String> {
    let resp = out
        .get(url, ARTIFACT_TIMEOUT)
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status();
    if !status.is_success() {
        let text = read_capped(url, resp, 300)
            .await
            .map(|b| String::from_utf8_lossy(&b).trim().to_string())
            .unwrap_or_default();
        return Err(format!("{url} answered HTTP {}: {text}", status.as_u16()));
    }
    let body = read_capped(url, resp, ARTIFACT_BYTES_MAX)
        .await
        .map_err(|e| e.to_string())?;
    let got = Hash(*blake3::hash(&body).as_bytes());
    if got != *digest {
        return Err(format!(
            "{url}: the bytes hash to {got}, not {digest}; the source is corrupt or wrong"
        ));
    }
    Ok(body)
}

/// Fetch (or take from the cache) a task's executable, checking its digest. A task shipped
/// as a directory (`runtime` = `<interpreter>@<entry>`) is unpacked after the check
/// ([`crate::unpack`]); its [`Launch::artifact`] is then the unpacked directory.
pub async fn prepare_artifact(
    client: &Client,
    fetch: &ArtifactFetch,
    task: &TaskId,
    cache: &std::path::Path,
) -> Result<Launch, String> {
    let t = client
        .get_task_account_info(task, TaskInfoFlags::default())
        .await
        .map_err(|e| format!("cannot read the task account: {e}"))?;
    let digest = t.params.executable.digest;
    let runtime = t.params.executable.runtime.clone();
    let entry = gradual_types::runtime::parse(&runtime)
        .map_err(|e| format!("the task's runtime '{runtime}' cannot be used: {e}"))?
        .entry
        .map(|e| {
            (
                e.to_string(),
                crate::unpack::interpreter(&runtime) == "native",
            )
        });
    let path = cache.join(digest.to_base58());
    let bytes = match cached(&path, &digest).await {
        Some(bytes) => bytes,
        None => fetch_checked(client, fetch, task, &t.params.executable, &path).await?,
    };
    let artifact = match entry {
        None => path,
        Some((entry, native)) => {
            let cache = cache.to_path_buf();
            let task = *task;
            tokio::task::spawn_blocking(move || {
                crate::unpack::unpack_artifact(
                    &cache,
                    &digest,
                    &task,
                    &bytes,
                    &entry,
                    native,
                    crate::unpack::UnpackLimits::default(),
                )
            })
            .await
            .map_err(|e| format!("unpacking the task's archive: {e}"))?
            .map_err(|e| format!("cannot unpack the task's archive {digest}: {e}"))?
        }
    };
    Ok(Launch { artifact, runtime })
}

/// The cached artifact's bytes, if they match `digest`.
async fn cached(path: &std::path::Path, digest: &Hash) -> Option<Vec<u8>> {
    let bytes = tokio::fs::read(path).await.ok()?;
    if Hash(*blake3::hash(&bytes).as_bytes()) == *digest {
        return Some(bytes);
    }
    tracing::warn!(path = %path.display(), "cached artifact does not match its digest; fetching it again");
    None
}

/// Download the executable from its URLs, check it, and store it at `path` (the cache).
async fn fetch_checked(
    client: &Client,
    fetch: &ArtifactFetch,
    task: &TaskId,
    exe: &gradual_types::Executable,
    path: &std::path::Path,
) -> Result<Vec<u8>, String> {
    let digest = exe.digest;
    let cache = path.parent().unwrap_or(std::path::Path::new("."));
    // The task creator's URLs are untrusted; the operator's own validator is not (and may
    // well sit on loopback), so its artifact URL is tried last with the unguarded client.
    let own = client.artifact_url(&digest);
    let mut urls: Vec<(&str, &Outbound)> = exe
        .urls
        .iter()
        .filter(|u| **u != own)
        .map(|u| (u.as_str(), &fetch.untrusted))
        .collect();
    urls.push((own.as_str(), &fetch.validator));
    let mut errors = Vec::new();
    for (url, out) in urls {
        match download(out, url, &digest).await {
            Ok(bytes) => {
                // Unique per download: tasks sharing an executable fetch it concurrently.
                let tmp = cache.join(format!(
                    "{}.{:016x}.tmp",
                    digest.to_base58(),
                    rand::random::<u64>()
                ));
                tokio::fs::write(&tmp, &bytes)
                    .await
                    .map_err(|e| format!("cannot write '{}': {e}", tmp.display()))?;
                {
                    use std::os::unix::fs::PermissionsExt;
                    let _ = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755));
                }
                if let Err(e) = tokio::fs::rename(&tmp, path).await {
                    let _ = tokio::fs::remove_file(&tmp).await;
                    return Err(format!("cannot write '{}': {e}", path.display()));
                }
                tracing::info!(task = %task, digest = %digest, "artifact fetched and checked");
                return Ok(bytes);
            }
            Err(e) => {
                tracing::warn!(task = %task, error = %e, "cannot fetch the task executable from this URL");
                errors.push(e);
            }
        }
    }
    Err(format!(
        "cannot fetch the task executable {digest}: {}",
        errors.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::testing::serve;
    use crate::outbound::OutboundPolicy;
    use std::sync::atomic::Ordering as AtomicOrdering;

    const EXE: &str = "#!/bin/sh\necho task\n";

    fn exe_digest() -> Hash {
        Hash(*blake3::hash(EXE.as_bytes()).as_bytes())
    }

    #[tokio::test]
    async fn artifact_url_on_a_private_address_is_refused() {
        let (addr, hits) = serve(200, None, EXE).await;
        let url = format!("http://{addr}/exe");
        let guarded = Outbound::guarded(OutboundPolicy::default()).unwrap();
        let e = download(&guarded, &url, &exe_digest()).await.unwrap_err();
        assert!(e.contains("127.0.0.1 is a loopback address"), "{e}");
        assert_eq!(hits.load(AtomicOrdering::SeqCst), 0);
        // Private-network and metadata addresses are refused before any connection.
        for url in [
            "http://10.0.0.7/exe",
            "http://192.168.1.1/exe",
            "http://[fd00::1]/exe",
            "http://169.254.169.254/exe",
        ] {
            let e = download(&guarded, url, &exe_digest()).await.unwrap_err();
            assert!(e.contains("refused to connect"), "{url}: {e}");
        }
        // Allowed by the operator, the same URL works (and the digest is still checked).
        let allowed = Outbound::guarded(OutboundPolicy::with_loopback()).unwrap();
        let bytes = download(&allowed, &url, &exe_digest()).await.unwrap();
        assert_eq!(bytes, EXE.as_bytes());
        let e = download(&allowed, &url, &Hash([1; 32])).await.unwrap_err();
        assert!(e.contains("corrupt or wrong"), "{e}");
    }

    #[tokio::test]
    async fn artifact_download_does_not_follow_redirects() {
        let (inner, inner_hits) = serve(200, None, EXE).await;
        let (addr, _) = serve(301, Some(format!("http://{inner}/exe")), "").await;
        let url = format!("http://{addr}/exe");
        for out in [
            Outbound::guarded(OutboundPolicy::with_loopback()).unwrap(),
            Outbound::trusted().unwrap(),
        ] {
            let e = download(&out, &url, &exe_digest()).await.unwrap_err();
            assert!(e.contains(&url) && e.contains("HTTP 301"), "{e}");
        }
        assert_eq!(inner_hits.load(AtomicOrdering::SeqCst), 0);
    }
}
