//! What an image holds against the workspace: files that differ from the learner's sources, and
//! paths (`.git`, virtual environments, caches) that should have stayed out of the build context.

use super::Ctx;
use crate::engine::{Engine, EngineError};

/// Workspace files under `sources` (directories walked by [`crate::walk`], which skips
/// caches and virtual environments), as paths relative to the workspace.
pub fn source_files(dir: &std::path::Path, sources: &[String]) -> Vec<String> {
    let mut out: Vec<String> = sources
        .iter()
        .flat_map(|s| crate::walk::files(dir, std::path::Path::new(s), 5_000))
        .map(|p| p.to_string_lossy().to_string())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// What an image holds compared with the workspace: files whose content differs, and
/// workspace paths that should have stayed out of the image (`.git`, virtual environments).
#[derive(Debug, Default)]
pub struct ImageContent {
    pub differing: Vec<String>,
    pub leaked: Vec<String>,
}

/// Compare the files under the image's working dir with the workspace's `sources`.
/// Files the image does not have (excluded by .dockerignore, say) are not counted as stale.
pub async fn compare_content(
    ctx: &Ctx,
    engine: &dyn Engine,
    image: &str,
    workdir: &str,
    sources: &[String],
) -> Result<ImageContent, EngineError> {
    use sha2::Digest;
    let workdir = if workdir.is_empty() { "/" } else { workdir };
    // What an image id holds never changes: its file hashes are kept on disk by id.
    let cached = image.starts_with("sha256:").then(|| {
        let key: String = sha2::Sha256::digest(format!("{image} {workdir}").as_bytes())
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect();
        crate::dirs::cache_dir()
            .join("image-files")
            .join(format!("{key}.json"))
    });
    let from_disk = cached.as_ref().and_then(|p| {
        let t = crate::bounded::read_text(p, 16 * 1024 * 1024, None).ok()?;
        serde_json::from_str::<std::collections::BTreeMap<String, String>>(&t).ok()
    });
    let files = match from_disk {
        Some(f) => f,
        None => {
            let f = engine
                .image_file_hashes(image, workdir, 256 * 1024 * 1024)
                .await?;
            if let Some(p) = &cached {
                if let Some(d) = p.parent() {
                    let _ = std::fs::create_dir_all(d);
                }
                let text = serde_json::to_string(&f).unwrap_or_default();
                let _ = crate::fsutil::write_atomic(p, text.as_bytes());
            }
            f
        }
    };
    let mut out = ImageContent::default();
    for rel in source_files(&ctx.dir, sources) {
        let local = crate::bounded::read_file(
            &ctx.dir.join(&rel),
            crate::bounded::MAX_SOURCE_FILE,
            Some(&ctx.dir),
        );
        if let (Some(inside), Ok(local)) = (files.get(&rel), local) {
            if *inside != format!("{:x}", sha2::Sha256::digest(&local)) {
                out.differing.push(rel);
            }
        }
    }
    let mut leaked: Vec<String> = files
        .keys()
        .filter_map(|k| {
            let top = k.split('/').next().unwrap_or(k);
            let nested_cache = k.split('/').any(|c| c == "__pycache__");
            (matches!(top, ".git" | ".venv" | "venv" | "env") || nested_cache).then(|| {
                if nested_cache {
                    "__pycache__".to_string()
                } else {
                    top.to_string()
                }
            })
        })
        .collect();
    leaked.sort();
    leaked.dedup();
    out.leaked = leaked;
    Ok(out)
}
