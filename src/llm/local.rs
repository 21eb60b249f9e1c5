//! The local model provider: one copy of the weights, one inference thread, a bounded FIFO
//! queue in front of it, and a small cache of KV snapshots of system prompts: a request
//! processes only what it does not share with an earlier one (the buyer's part, and the facts
//! when they are new).
//!
//! Concurrency policy (explicit): requests are answered one at a time, in arrival order (two
//! cores cannot decode two answers faster than one after the other). A request is refused
//! with `Busy` — and the chain hands it to the next provider, the cloud — when the queue is
//! full, when the wait it would have (the requests ahead times the measured time per
//! request) exceeds `max_wait`, or when it has waited `max_wait` by the time its turn comes.
//! With no provider after the local one, the engine quotes the knowledge base instead.
//!
//! Greedy requests are decoded speculatively ([`super::draft`]): prompt-lookup drafts
//! verified in one batched step, the same tokens as plain decoding.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use candle_core::quantized::gguf_file;
use tokio::sync::{mpsc, oneshot};

use super::draft::{PromptLookup, Proposer};
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

/// How the local provider runs requests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalOptions {
    /// Requests that may wait behind the one running.
    pub queue: usize,
    /// Longest wait for the model before the request goes to the next provider (`None`:
    /// wait as long as the queue bound allows).
    pub max_wait: Option<Duration>,
    /// Draft greedy answers with prompt lookup (same tokens, fewer steps).
    pub speculative: bool,
}

impl Default for LocalOptions {
    fn default() -> Self {
        Self { queue: 4, max_wait: None, speculative: true }
    }
}

impl From<usize> for LocalOptions {
    /// Just the queue bound, everything else by default.
    fn from(queue: usize) -> Self {
        Self { queue, ..Self::default() }
    }
}

/// Measured queue state shared with the inference thread.
#[derive(Default)]
struct Load {
    /// Requests waiting (not counting the one running).
    waiting: AtomicUsize,
    /// One is running.
    busy: AtomicUsize,
    /// Moving average of the time one request holds the model, ms.
    service_ms: AtomicU64,
}

pub struct LocalProvider {
    model: Arc<LocalModel>,
    tx: mpsc::Sender<Job>,
    options: LocalOptions,
    load: Arc<Load>,
}

impl LocalProvider {
    /// Starts the inference thread over `model`.
    pub fn start(model: LocalModel, options: impl Into<LocalOptions>) -> anyhow::Result<Self> {
        let mut options = options.into();
        options.queue = options.queue.max(1);
        let model = Arc::new(model);
        let (tx, rx) = mpsc::channel::<Job>(options.queue);
        let load = Arc::new(Load::default());
        let (m, l) = (model.clone(), load.clone());
        std::thread::Builder::new()
            .name("supportd-llm".into())
            .spawn(move || worker(&m, rx, &l, options))
            .context("cannot start the inference thread")?;
        Ok(Self { model, tx, options, load })
    }

    /// The wait a request arriving now can expect: the requests ahead of it times the measured
    /// time per request.
    pub fn expected_wait(&self) -> Duration {
        let ahead = self.load.waiting.load(Ordering::Relaxed) + self.load.busy.load(Ordering::Relaxed);
        Duration::from_millis(ahead as u64 * self.load.service_ms.load(Ordering::Relaxed))
    }

    pub fn model_info(&self) -> &LocalModel {
        &self.model
    }

    /// Requests waiting for the model (not counting the one running).
    pub fn waiting(&self) -> usize {
        self.load.waiting.load(Ordering::Relaxed)
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
            if let Some(max) = self.options.max_wait
                && self.expected_wait() > max
            {
                return Err(LlmError::Busy(self.waiting()));
            }
            let job = Job { req: req.clone(), sink: sink.clone(), enqueued: Instant::now(), reply };
            self.load.waiting.fetch_add(1, Ordering::Relaxed);
            if self.tx.try_send(job).is_err() {
                self.load.waiting.fetch_sub(1, Ordering::Relaxed);
                return Err(LlmError::Busy(self.options.queue));
            }
            rx.await.unwrap_or_else(|_| Err(LlmError::Model("the inference thread stopped".into())))
        })
    }
}

fn worker(model: &LocalModel, mut rx: mpsc::Receiver<Job>, load: &Load, options: LocalOptions) {
    let mut prefixes = Prefixes::default();
    while let Some(job) = rx.blocking_recv() {
        load.busy.store(1, Ordering::Relaxed);
        load.waiting.fetch_sub(1, Ordering::Relaxed);
        let waited = job.enqueued.elapsed();
        let started = Instant::now();
        let result = if job.req.cancel.is_cancelled() {
            Err(LlmError::Cancelled)
        } else if job.req.past_deadline() {
            Err(LlmError::Timeout)
        } else if options.max_wait.is_some_and(|max| waited > max) {
            // Its turn came too late: the next provider answers it.
            Err(LlmError::Busy(load.waiting.load(Ordering::Relaxed)))
        } else {
            let r = candle_core::utils::with_threadpool(|| run(model, &job, &mut prefixes, options.speculative));
            let ms = started.elapsed().as_millis() as u64;
            let avg = load.service_ms.load(Ordering::Relaxed);
            load.service_ms.store(if avg == 0 { ms } else { (avg * 3 + ms) / 4 }, Ordering::Relaxed);
            r
        };
        load.busy.store(0, Ordering::Relaxed);
        let _ = job.reply.send(result);
    }
}

fn model_err(e: impl std::fmt::Display) -> LlmError {
    LlmError::Model(e.to_string())
}

/// KV snapshots of the prompts' system parts (the shop's instructions and the facts), least
/// recently used first. A prompt reuses the longest run of leading tokens it shares with any
/// of them: the same facts reuse the whole system part, other facts still the shop's fixed
/// instructions before them (keys and values of a position depend only on the tokens up to
/// it).
#[derive(Default)]
struct Prefixes(Vec<(Vec<u32>, KvCache)>);

/// How many leading tokens `a` and `b` share.
pub(super) fn shared_len(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

impl Prefixes {
    /// A cache for `prompt` (room for `capacity` positions) that already holds as much of its
    /// start as the snapshots share, and its whole system part: when that part is new it is
    /// computed from the shared start and remembered. Returns the cache and how many of its
    /// positions earlier requests computed.
    fn start(&mut self, weights: &Weights, prompt: &Prompt, capacity: usize) -> Result<(KvCache, usize), LlmError> {
        let tokens = &prompt.tokens;
        // The last token is always run: its logits are the first answer token's.
        let usable = tokens.len().saturating_sub(1);
        let best = self
            .0
            .iter()
            .enumerate()
            .map(|(i, (t, _))| (i, shared_len(t, tokens).min(usable)))
            .max_by_key(|&(_, n)| n)
            .filter(|&(_, n)| n >= MIN_PREFIX);
        let shared = best.map_or(0, |(_, n)| n);
        let head = prompt.prefix_len.min(usable);
        if head >= MIN_PREFIX && shared < head {
            let mut snapshot = match best {
                Some((i, n)) => self.0[i].1.prefix(n, head).map_err(model_err)?,
                None => {
                    let mut c = weights.new_cache();
                    c.reserve(head).map_err(model_err)?;
                    c
                }
            };
            weights.forward(&tokens[snapshot.len()..head], &mut snapshot).map_err(model_err)?;
            let cache = snapshot.fork(capacity).map_err(model_err)?;
            if self.0.len() >= PREFIX_SLOTS {
                self.0.remove(0);
            }
            self.0.push((tokens[..head].to_vec(), snapshot));
            return Ok((cache, shared));
        }
        match best {
            Some((i, n)) => {
                let entry = self.0.remove(i);
                let cache = entry.1.prefix(n, capacity).map_err(model_err)?;
                self.0.push(entry);
                Ok((cache, n))
            }
            None => {
                let mut cache = weights.new_cache();
                cache.reserve(capacity).map_err(model_err)?;
                Ok((cache, 0))
            }
        }
    }
}

fn run(model: &LocalModel, job: &Job, prefixes: &mut Prefixes, speculative: bool) -> Result<Completion, LlmError> {
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
    // Room for the answer and one verification step beyond it.
    let capacity = prompt.tokens.len() + req.max_tokens + super::model::EXACT_ROWS;
    let (mut cache, cached) = prefixes.start(&model.weights, &prompt, capacity.min(context))?;
    let done = cache.len();
    let logits = model.weights.forward(&prompt.tokens[done..], &mut cache).map_err(model_err)?;
    let mut ttft_ms = None;
    let mut sampler = Sampler::new(req.sampling);
    let mut scanner = StopScanner::new(&req.stop);
    let mut out: Vec<u32> = Vec::new();
    let mut history: Vec<u32> = prompt.tokens.clone();
    let prompt_len = prompt.tokens.len();
    let mut emit = |tok: u32| -> Option<FinishReason> {
        ttft_ms.get_or_insert_with(|| job.enqueued.elapsed().as_millis() as u64);
        if model.format.stop_ids.contains(&tok) {
            return Some(FinishReason::Stop);
        }
        out.push(tok);
        let full = model.format.decode(&out);
        if let Some(n) = req.max_sentences
            && let Some(cut) = super::budget::complete_sentences(&full, n)
        {
            // The last needed sentence is complete: stop there.
            let (text, _) = scanner.update(&full[..cut]);
            job.sink.text(&text);
            return Some(FinishReason::Stop);
        }
        let (text, stopped) = scanner.update(&full);
        job.sink.text(&text);
        if stopped {
            return Some(FinishReason::Stop);
        }
        if out.len() >= req.max_tokens || prompt_len + out.len() >= context {
            return Some(FinishReason::Length);
        }
        None
    };
    let abort = || {
        if req.cancel.is_cancelled() {
            Some(LlmError::Cancelled)
        } else if req.past_deadline() {
            Some(LlmError::Timeout)
        } else {
            None
        }
    };
    let mut lookup = PromptLookup::default();
    let proposer: Option<&mut dyn Proposer> =
        (speculative && req.sampling.temperature <= 0.0).then_some(&mut lookup as &mut dyn Proposer);
    let (finish, drafts) = super::draft::decode(
        &model.weights,
        &mut cache,
        logits,
        &mut history,
        &mut sampler,
        proposer,
        &abort,
        &mut emit,
    )?;
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
        drafted_tokens: drafts.proposed,
        accepted_tokens: drafts.accepted,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::testing::{TinySpec, write_tiny_qwen2};

    fn close(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
    }

    #[test]
    fn prompts_reuse_the_start_they_share_with_earlier_system_parts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tiny.gguf");
        write_tiny_qwen2(&path, &TinySpec::default()).expect("write");
        let model = LocalModel::load(&path).expect("load");
        let w = &model.weights;
        let shop: Vec<u32> = (0..20).map(|i| (i * 7 + 3) % 250).collect();
        let prompt = |facts: u32, user: u32| {
            let mut tokens = shop.clone();
            tokens.extend((0..10).map(|i| (i * 5 + facts) % 250));
            let prefix_len = tokens.len();
            tokens.extend((0..5).map(|i| (i * 3 + user) % 250));
            Prompt { tokens, prefix_len }
        };
        let mut prefixes = Prefixes::default();
        let check = |prefixes: &mut Prefixes, p: &Prompt, expect_cached: usize| {
            let (mut cache, cached) = prefixes.start(w, p, 64).expect("start");
            assert_eq!(cached, expect_cached, "positions from earlier requests");
            let done = cache.len();
            assert!(done >= p.prefix_len, "the system part is in the cache");
            let logits = w.forward(&p.tokens[done..], &mut cache).expect("rest");
            let whole = w.forward(&p.tokens, &mut w.new_cache()).expect("one pass");
            assert!(close(&whole, &logits) < 1e-3, "reused start + rest differs by {}", close(&whole, &logits));
        };
        // The first prompt computes its system part and keeps it.
        check(&mut prefixes, &prompt(1, 1), 0);
        // Other facts: the shop's instructions before them are reused.
        check(&mut prefixes, &prompt(2, 1), shop.len());
        // The same facts, another question: the whole system part is reused.
        check(&mut prefixes, &prompt(1, 9), 30);
        assert_eq!(prefixes.0.len(), 2);
        // Snapshots are bounded; the least recently used goes first.
        for f in 3..3 + PREFIX_SLOTS as u32 {
            check(&mut prefixes, &prompt(f, 1), shop.len());
        }
        assert_eq!(prefixes.0.len(), PREFIX_SLOTS);
        // A prompt shorter than any snapshot still runs its last token.
        let short = Prompt { tokens: shop[..12].to_vec(), prefix_len: 0 };
        check(&mut prefixes, &short, 11);
    }
}
