//! The local model provider: one copy of the weights, one inference thread, a bounded FIFO
//! queue in front of it (a full queue answers `Busy` at once so the chain can fall back), and
//! a small cache of KV snapshots of system prompts so a typical request only processes the
//! buyer's part.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use anyhow::Context as _;
use candle_core::quantized::gguf_file;
use tokio::sync::{mpsc, oneshot};

use super::model::{KvCache, Weights};
use super::sampling::Sampler;
use super::template::{ChatFormat, Prompt};
use super::{BoxFuture, Completion, FinishReason, GenerateRequest, LlmError, Provider, StopScanner, TokenSink};

/// Prefixes shorter than this are not worth a snapshot.
const MIN_PREFIX: usize = 8;
/// System prompts kept as KV snapshots (least recently used goes first).
const PREFIX_SLOTS: usize = 4;

/// The loaded weights, tokenizer and template of one GGUF file.
pub struct LocalModel {
    pub weights: Weights,
    pub format: ChatFormat,
    pub name: String,
    pub path: PathBuf,
    pub quantization: String,
}

impl LocalModel {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let file = std::fs::File::open(path).with_context(|| format!("cannot open the model {}", path.display()))?;
        let mut r = std::io::BufReader::with_capacity(1 << 20, file);
        let ct = gguf_file::Content::read(&mut r).with_context(|| format!("{} is not a GGUF model", path.display()))?;
        let mapped = super::mapped::ModelFile::open(path).with_context(|| format!("cannot map {}", path.display()))?;
        let weights = Weights::load(&ct, &mut r, &mapped).with_context(|| format!("cannot load {}", path.display()))?;
        let format = ChatFormat::from_gguf(&ct).context("cannot build the tokenizer from the model file")?;
        let name = ct
            .metadata
            .get("general.name")
            .and_then(|v| v.to_string().ok().cloned())
            .unwrap_or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default());
        Ok(Self { weights, format, name, path: path.to_owned(), quantization: Weights::describe(&ct) })
    }
}

struct Job {
    req: GenerateRequest,
    sink: TokenSink,
    enqueued: Instant,
    reply: oneshot::Sender<Result<Completion, LlmError>>,
}

pub struct LocalProvider {
    model: Arc<LocalModel>,
    tx: mpsc::Sender<Job>,
    queue: usize,
    waiting: Arc<AtomicUsize>,
}

impl LocalProvider {
    /// Starts the inference thread over `model`; at most `queue` requests wait behind the
    /// one running.
    pub fn start(model: LocalModel, queue: usize) -> anyhow::Result<Self> {
        let model = Arc::new(model);
        let (tx, rx) = mpsc::channel::<Job>(queue.max(1));
        let waiting = Arc::new(AtomicUsize::new(0));
        let (m, w) = (model.clone(), waiting.clone());
        std::thread::Builder::new()
            .name("supportd-llm".into())
            .spawn(move || worker(&m, rx, &w))
            .context("cannot start the inference thread")?;
        Ok(Self { model, tx, queue: queue.max(1), waiting })
    }

    pub fn model_info(&self) -> &LocalModel {
        &self.model
    }

    /// Requests waiting for the model (not counting the one running).
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }
}

impl Provider for LocalProvider {
    fn name(&self) -> &str {
        "local"
    }
    fn model(&self) -> String {
        self.model.name.clone()
    }
    fn count_tokens(&self, text: &str) -> usize {
        self.model.format.count(text)
    }
    fn generate<'a>(
        &'a self,
        req: &'a GenerateRequest,
        sink: &'a TokenSink,
    ) -> BoxFuture<'a, Result<Completion, LlmError>> {
        Box::pin(async move {
            let (reply, rx) = oneshot::channel();
            let job = Job { req: req.clone(), sink: sink.clone(), enqueued: Instant::now(), reply };
            self.waiting.fetch_add(1, Ordering::Relaxed);
            if self.tx.try_send(job).is_err() {
                self.waiting.fetch_sub(1, Ordering::Relaxed);
                return Err(LlmError::Busy(self.queue));
            }
            rx.await.unwrap_or_else(|_| Err(LlmError::Model("the inference thread stopped".into())))
        })
    }
}

fn worker(model: &LocalModel, mut rx: mpsc::Receiver<Job>, waiting: &AtomicUsize) {
    let mut prefixes: Vec<(Vec<u32>, KvCache)> = Vec::new();
    while let Some(job) = rx.blocking_recv() {
        waiting.fetch_sub(1, Ordering::Relaxed);
        let result = if job.req.cancel.is_cancelled() {
            Err(LlmError::Cancelled)
        } else if job.req.past_deadline() {
            Err(LlmError::Timeout)
        } else {
            candle_core::utils::with_threadpool(|| run(model, &job, &mut prefixes))
        };
        let _ = job.reply.send(result);
    }
}

fn model_err(e: impl std::fmt::Display) -> LlmError {
    LlmError::Model(e.to_string())
}

/// A cache for this request (room for `capacity` positions) that already holds the prompt's
/// system prefix: copied from a snapshot when that prefix was seen before (`true`), otherwise
/// computed and remembered (`false`).
fn start_cache(
    model: &LocalModel,
    prompt: &Prompt,
    capacity: usize,
    prefixes: &mut Vec<(Vec<u32>, KvCache)>,
) -> Result<(KvCache, bool), LlmError> {
    let head = &prompt.tokens[..prompt.prefix_len];
    if prompt.prefix_len < MIN_PREFIX {
        let mut cache = model.weights.new_cache();
        cache.reserve(capacity).map_err(model_err)?;
        return Ok((cache, false));
    }
    if let Some(i) = prefixes.iter().position(|(t, _)| t.as_slice() == head) {
        let entry = prefixes.remove(i);
        let cache = entry.1.fork(capacity).map_err(model_err)?;
        prefixes.push(entry);
        return Ok((cache, true));
    }
    let mut snapshot = model.weights.new_cache();
    snapshot.reserve(head.len()).map_err(model_err)?;
    model.weights.forward(head, &mut snapshot).map_err(model_err)?;
    let cache = snapshot.fork(capacity).map_err(model_err)?;
    if prefixes.len() >= PREFIX_SLOTS {
        prefixes.remove(0);
    }
    prefixes.push((head.to_vec(), snapshot));
    Ok((cache, false))
}

fn run(model: &LocalModel, job: &Job, prefixes: &mut Vec<(Vec<u32>, KvCache)>) -> Result<Completion, LlmError> {
    let req = &job.req;
    let prompt = model.format.prompt(&req.messages).map_err(model_err)?;
    let context = model.weights.hp.context;
    if prompt.tokens.len() + req.max_tokens.max(1) > context {
        return Err(LlmError::TooLong(format!(
            "{} prompt tokens + {} answer tokens exceed the model's {context}",
            prompt.tokens.len(),
            req.max_tokens
        )));
    }
    let (mut cache, reused) = start_cache(model, &prompt, prompt.tokens.len() + req.max_tokens, prefixes)?;
    let cached = if reused { cache.len() } else { 0 };
    let done = cache.len();
    let mut logits = model.weights.forward(&prompt.tokens[done..], &mut cache).map_err(model_err)?;
    let mut ttft_ms = None;
    let mut sampler = Sampler::new(req.sampling);
    let mut scanner = StopScanner::new(&req.stop);
    let mut out: Vec<u32> = Vec::new();
    let mut history: Vec<u32> = prompt.tokens.clone();
    let finish = loop {
        if req.cancel.is_cancelled() {
            return Err(LlmError::Cancelled);
        }
        if req.past_deadline() {
            return Err(LlmError::Timeout);
        }
        let tok = sampler.sample(&mut logits, &history);
        ttft_ms.get_or_insert_with(|| job.enqueued.elapsed().as_millis() as u64);
        if model.format.stop_ids.contains(&tok) {
            break FinishReason::Stop;
        }
        out.push(tok);
        history.push(tok);
        let (text, stopped) = scanner.update(&model.format.decode(&out));
        job.sink.text(&text);
        if stopped {
            break FinishReason::Stop;
        }
        if out.len() >= req.max_tokens || cache.len() + 1 >= context {
            break FinishReason::Length;
        }
        logits = model.weights.forward(&[tok], &mut cache).map_err(model_err)?;
    };
    job.sink.text(&scanner.rest());
    Ok(Completion {
        text: scanner.finish().trim().to_owned(),
        provider: "local".into(),
        model: model.name.clone(),
        prompt_tokens: prompt.tokens.len() as u32,
        cached_prompt_tokens: cached as u32,
        completion_tokens: out.len() as u32,
        ttft_ms: ttft_ms.unwrap_or_default(),
        latency_ms: job.enqueued.elapsed().as_millis() as u64,
        finish,
        cost_rub: 0.0,
        from_cache: false,
    })
}

/// The local provider as the app holds it: loaded in the background at start, so the server
/// is up at once; until the model is ready (or when its file is missing) requests get
/// `NotConfigured` and the chain moves on.
#[derive(Default)]
pub struct LocalSlot {
    state: OnceLock<Result<LocalProvider, String>>,
}

impl LocalSlot {
    pub fn set(&self, r: Result<LocalProvider, String>) {
        let _ = self.state.set(r);
    }
    pub fn get(&self) -> Option<&LocalProvider> {
        self.state.get().and_then(|r| r.as_ref().ok())
    }
    pub fn status(&self) -> String {
        match self.state.get() {
            None => "loading".into(),
            Some(Ok(p)) => format!("ready: {}", p.model_info().name),
            Some(Err(e)) => format!("unavailable: {e}"),
        }
    }
}

impl Provider for LocalSlot {
    fn name(&self) -> &str {
        "local"
    }
    fn model(&self) -> String {
        self.get().map(|p| p.model()).unwrap_or_default()
    }
    fn count_tokens(&self, text: &str) -> usize {
        self.get().map(|p| p.count_tokens(text)).unwrap_or_else(|| super::estimate_tokens(text))
    }
    fn generate<'a>(
        &'a self,
        req: &'a GenerateRequest,
        sink: &'a TokenSink,
    ) -> BoxFuture<'a, Result<Completion, LlmError>> {
        match self.get() {
            Some(p) => p.generate(req, sink),
            None => {
                let why = self.status();
                Box::pin(async move { Err(LlmError::NotConfigured("local".into(), why)) })
            }
        }
    }
}
