//! A decoder-only transformer over GGUF weights (Qwen2 and Llama architectures) on Candle's
//! quantized CPU kernels.
//!
//! The quantized matrices are used in place from a memory map of the file ([`ModelFile`]);
//! the weights are immutable and shared (`Arc`); every generation owns a [`KvCache`], so a
//! snapshot of the cache after the fixed system prompt can be copied into new requests and
//! that prefix is never processed twice. The token embedding stays quantized (rows are
//! dequantized on lookup) and doubles as the output projection when the model ties them.

use std::io::{Read, Seek};
use std::sync::Arc;

use candle_core::quantized::{GgmlDType, QMatMul, QStorage, QTensor, QuantizedType, gguf_file};
use candle_core::{DType, Device, Module, Result, Tensor};

use super::mapped::ModelFile;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    Qwen2,
    Llama,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Hparams {
    pub arch: Arch,
    pub n_layer: usize,
    pub n_head: usize,
    pub n_kv_head: usize,
    pub head_dim: usize,
    pub hidden: usize,
    pub vocab: usize,
    /// Positions this build supports (the model's own context length, capped).
    pub context: usize,
    pub eps: f64,
    pub rope_base: f32,
}

/// Longest context we precompute rotary tables and caches for.
pub const MAX_CONTEXT: usize = 8192;

/// A quantized weight matrix `[n, k]`, held once in its compact GGUF blocks.
///
/// One-row products (decoding) run on the compact blocks: decoding is bound by memory
/// bandwidth and they are the smallest form. Many-row products (prompt processing) go
/// through Candle's `QMatMul` on a QTensor built over the same blocks for this one call:
/// Candle repacks it into SIMD tiles (fast, but a third larger), and the tiles are dropped
/// with the call, so the resident model stays the size of the file.
pub struct QLinear {
    blocks: Arc<dyn QuantizedType>,
    n: usize,
    k: usize,
}

/// Below this many rows the compact kernel beats repacking.
const PACK_MIN_ROWS: usize = 8;

/// Longest run of tokens whose logits [`Weights::forward_all`] keeps identical to one-token
/// steps: below [`PACK_MIN_ROWS`] every product runs on the compact kernel, whose per-row
/// results do not depend on how many rows share the call.
pub const EXACT_ROWS: usize = PACK_MIN_ROWS - 1;

/// Lets a QTensor use blocks that QLinear also holds (no second copy).
struct SharedBlocks(Arc<dyn QuantizedType>);

impl QuantizedType for SharedBlocks {
    fn dtype(&self) -> GgmlDType {
        self.0.dtype()
    }
    fn matmul_t(&self, mkn: (usize, usize, usize), lhs: &[f32], dst: &mut [f32]) -> Result<()> {
        self.0.matmul_t(mkn, lhs, dst)
    }
    fn matmul_t_f16(&self, mkn: (usize, usize, usize), lhs: &[half::f16], dst: &mut [half::f16]) -> Result<()> {
        self.0.matmul_t_f16(mkn, lhs, dst)
    }
    fn embedding(&self, ids: &[u32], rows: usize, hidden: usize) -> Result<candle_core::CpuStorage> {
        self.0.embedding(ids, rows, hidden)
    }
    fn dequantize(&self, elem_count: usize) -> Result<candle_core::CpuStorage> {
        self.0.dequantize(elem_count)
    }
    fn storage_size_in_bytes(&self) -> usize {
        self.0.storage_size_in_bytes()
    }
    fn as_ptr(&self) -> *const u8 {
        self.0.as_ptr()
    }
    fn block_size(&self) -> usize {
        self.0.block_size()
    }
    fn from_float(&mut self, _xs: &[f32]) {}
    fn from_float_imatrix(&mut self, _xs: &[f32], _w: &[f32], _n: usize) {}
    fn size(&self) -> usize {
        self.0.size()
    }
}

/// Whether Candle's x86 tile kernels take a many-row product of this type and shape
/// (mirrors `candle_core::quantized::repack_x86::select`).
fn candle_repacks(dtype: GgmlDType, n: usize, k: usize) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        let avx2 = std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma");
        let vnni = std::arch::is_x86_feature_detected!("avxvnni") || std::arch::is_x86_feature_detected!("avx512vnni");
        avx2 && n.is_multiple_of(16)
            && k.is_multiple_of(256)
            && match dtype {
                GgmlDType::Q4K | GgmlDType::Q6K => true,
                GgmlDType::Q8_0 => vnni,
                _ => false,
            }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        // aarch64 repacks inside Candle on its own terms; elsewhere the compact kernels run.
        let _ = (dtype, n, k);
        cfg!(target_arch = "aarch64")
    }
}

impl QLinear {
    fn read<R: Read + Seek>(ct: &gguf_file::Content, r: &mut R, file: &ModelFile, name: &str) -> Result<Self> {
        let info = ct
            .tensor_infos
            .get(name)
            .ok_or_else(|| candle_core::Error::Msg(format!("the model file lacks `{name}`")))?;
        let (n, k) = info.shape.dims2()?;
        let dtype = info.ggml_dtype;
        if matches!(dtype, GgmlDType::F32 | GgmlDType::F16 | GgmlDType::BF16) {
            candle_core::bail!("`{name}` is not quantized ({dtype:?})");
        }
        let start = usize::try_from(ct.tensor_data_offset + info.offset)
            .map_err(|_| candle_core::Error::Msg(format!("`{name}` lies beyond the address space")))?;
        if let Some(blocks) = file.blocks(dtype, start, n * k) {
            return Ok(Self { blocks: Arc::from(blocks), n, k });
        }
        // Types without a mapped form are read (not through the map, so its pages stay
        // untouched); the ones Candle has no SIMD kernels for become Q8_0, which holds them
        // (almost) exactly and has.
        let bytes = n * k / dtype.block_size() * dtype.type_size();
        if start + bytes > file.len() {
            candle_core::bail!("`{name}` is cut off: the model file is incomplete");
        }
        r.seek(std::io::SeekFrom::Start(start as u64))?;
        let mut raw = vec![0u8; bytes];
        r.read_exact(&mut raw)?;
        let mut blocks = dtype.from_data(std::borrow::Cow::Owned(raw));
        if matches!(dtype, GgmlDType::Q4_1 | GgmlDType::Q5_0 | GgmlDType::Q5_1 | GgmlDType::Q8_1) {
            let candle_core::CpuStorage::F32(values) = blocks.dequantize(n * k)? else {
                candle_core::bail!("unexpected dequantized storage for `{name}`");
            };
            let q8 = QTensor::quantize(&Tensor::from_vec(values, (n, k), &Device::Cpu)?, GgmlDType::Q8_0)?;
            blocks = GgmlDType::Q8_0.from_data(q8.data()?);
        }
        Ok(Self { blocks: Arc::from(blocks), n, k })
    }

    /// Rows of the matrix (embedding lookup), dequantized: `[ids.len(), k]`.
    fn rows(&self, ids: &[u32]) -> Result<Tensor> {
        if let Some(bad) = ids.iter().find(|&&i| i as usize >= self.n) {
            candle_core::bail!("token id {bad} is outside the vocabulary of {}", self.n);
        }
        match self.blocks.embedding(ids, self.n, self.k)? {
            candle_core::CpuStorage::F32(v) => Tensor::from_vec(v, (ids.len(), self.k), &Device::Cpu),
            _ => candle_core::bail!("unexpected embedding storage"),
        }
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let m = x.elem_count() / self.k;
        if m >= PACK_MIN_ROWS {
            if candle_repacks(self.blocks.dtype(), self.n, self.k) {
                let qt = QTensor::new(QStorage::Cpu(Box::new(SharedBlocks(self.blocks.clone()))), (self.n, self.k))?;
                return QMatMul::from_qtensor(qt)?.forward(x);
            }
            // No tiled kernel for this shape: a dense f32 product over the dequantized
            // matrix beats one dot product per (row, column) pair.
            let candle_core::CpuStorage::F32(w) = self.blocks.dequantize(self.n * self.k)? else {
                candle_core::bail!("unexpected dequantized storage");
            };
            let w = Tensor::from_vec(w, (self.n, self.k), &Device::Cpu)?;
            return x.broadcast_matmul(&w.t()?);
        }
        let mut dims = x.dims().to_vec();
        let lhs = x.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>()?;
        let mut dst = vec![0f32; m * self.n];
        self.blocks.matmul_t((m, self.k, self.n), &lhs, &mut dst)?;
        if let Some(last) = dims.last_mut() {
            *last = self.n;
        }
        Tensor::from_vec(dst, dims, x.device())
    }
}

struct Layer {
    attn_norm: Tensor,
    wq: QLinear,
    wk: QLinear,
    wv: QLinear,
    bq: Option<Tensor>,
    bk: Option<Tensor>,
    bv: Option<Tensor>,
    wo: QLinear,
    ffn_norm: Tensor,
    gate: QLinear,
    up: QLinear,
    down: QLinear,
}

pub struct Weights {
    pub hp: Hparams,
    embed: Arc<QLinear>,
    output: Arc<QLinear>,
    norm: Tensor,
    layers: Vec<Layer>,
    cos: Tensor,
    sin: Tensor,
    device: Device,
}

/// Per-request attention cache: keys and values of every position processed so far, in
/// buffers `[1, kv_heads, capacity, head_dim]` written in place (no copy per token).
pub struct KvCache {
    layers: Vec<Option<(Tensor, Tensor)>>,
    len: usize,
    cap: usize,
}

impl KvCache {
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A private copy with room for `capacity` positions (snapshots are never written).
    pub fn fork(&self, capacity: usize) -> Result<Self> {
        self.prefix(self.len, capacity)
    }

    /// A private copy of the first `len` positions (at most all of them) with room for
    /// `capacity`: the part of a snapshot another prompt shares.
    pub fn prefix(&self, len: usize, capacity: usize) -> Result<Self> {
        let len = len.min(self.len);
        let cap = capacity.max(len);
        let mut layers = Vec::with_capacity(self.layers.len());
        for l in &self.layers {
            layers.push(match l {
                None => None,
                Some((k, v)) => Some((grow(k, len, cap)?, grow(v, len, cap)?)),
            });
        }
        Ok(Self { layers, len, cap })
    }

    /// Forgets every position from `len` on (rejected draft tokens); their slots are
    /// overwritten by the next step.
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Makes room for `total` positions.
    pub fn reserve(&mut self, total: usize) -> Result<()> {
        if total > self.cap {
            *self = self.fork(total)?;
        }
        Ok(())
    }
}

/// `t` (`[b, h, cap, d]`) copied into a buffer of `cap` positions keeping the first `len`.
fn grow(t: &Tensor, len: usize, cap: usize) -> Result<Tensor> {
    let (b, h, _, d) = t.dims4()?;
    let out = Tensor::zeros((b, h, cap, d), t.dtype(), t.device())?;
    if len > 0 {
        out.slice_set(&t.narrow(2, 0, len)?.contiguous()?, 2, 0)?;
    }
    Ok(out)
}

fn md<'a>(ct: &'a gguf_file::Content, key: &str) -> Result<&'a gguf_file::Value> {
    ct.metadata.get(key).ok_or_else(|| candle_core::Error::Msg(format!("the model file lacks `{key}`")))
}

impl Weights {
    /// Loads the weights of `ct`: matrices in place from `file`, vectors through `r`.
    pub fn load<R: Read + Seek>(ct: &gguf_file::Content, r: &mut R, file: &ModelFile) -> Result<Self> {
        let device = Device::Cpu;
        let arch_name = md(ct, "general.architecture")?.to_string()?.clone();
        let arch = match arch_name.as_str() {
            "qwen2" => Arch::Qwen2,
            "llama" => Arch::Llama,
            other => candle_core::bail!("unsupported model architecture `{other}` (qwen2 and llama are supported)"),
        };
        let p = |k: &str| format!("{arch_name}.{k}");
        let n_head = md(ct, &p("attention.head_count"))?.to_u32()? as usize;
        let n_kv_head = md(ct, &p("attention.head_count_kv"))?.to_u32()? as usize;
        let hidden = md(ct, &p("embedding_length"))?.to_u32()? as usize;
        let n_layer = md(ct, &p("block_count"))?.to_u32()? as usize;
        let eps = f64::from(md(ct, &p("attention.layer_norm_rms_epsilon"))?.to_f32()?);
        let rope_base = md(ct, &p("rope.freq_base")).and_then(|v| v.to_f32()).unwrap_or(10_000.0);
        let context = (md(ct, &p("context_length"))?.to_u32()? as usize).min(MAX_CONTEXT);
        if n_head == 0 || n_kv_head == 0 || !hidden.is_multiple_of(n_head) || !n_head.is_multiple_of(n_kv_head) {
            candle_core::bail!("inconsistent attention shape: {n_head} heads, {n_kv_head} kv heads, width {hidden}");
        }
        let head_dim = hidden / n_head;

        let embed = Arc::new(QLinear::read(ct, r, file, "token_embd.weight")?);
        let vocab = embed.n;
        let output = if ct.tensor_infos.contains_key("output.weight") {
            Arc::new(QLinear::read(ct, r, file, "output.weight")?)
        } else {
            embed.clone()
        };
        let vec = |r: &mut R, name: &str| -> Result<Tensor> { ct.tensor(r, name, &device)?.dequantize(&device) };
        let opt_vec = |r: &mut R, name: &str| -> Result<Option<Tensor>> {
            if ct.tensor_infos.contains_key(name) { Ok(Some(vec(r, name)?)) } else { Ok(None) }
        };
        let mm = |r: &mut R, name: &str| QLinear::read(ct, r, file, name);
        let norm = vec(r, "output_norm.weight")?;
        let mut layers = Vec::with_capacity(n_layer);
        for i in 0..n_layer {
            let n = |s: &str| format!("blk.{i}.{s}");
            layers.push(Layer {
                attn_norm: vec(r, &n("attn_norm.weight"))?,
                wq: mm(r, &n("attn_q.weight"))?,
                wk: mm(r, &n("attn_k.weight"))?,
                wv: mm(r, &n("attn_v.weight"))?,
                bq: opt_vec(r, &n("attn_q.bias"))?,
                bk: opt_vec(r, &n("attn_k.bias"))?,
                bv: opt_vec(r, &n("attn_v.bias"))?,
                wo: mm(r, &n("attn_output.weight"))?,
                ffn_norm: vec(r, &n("ffn_norm.weight"))?,
                gate: mm(r, &n("ffn_gate.weight"))?,
                up: mm(r, &n("ffn_up.weight"))?,
                down: mm(r, &n("ffn_down.weight"))?,
            });
        }
        let (cos, sin) = rope_tables(head_dim, rope_base, context, &device)?;
        let hp = Hparams { arch, n_layer, n_head, n_kv_head, head_dim, hidden, vocab, context, eps, rope_base };
        Ok(Self { hp, embed, output, norm, layers, cos, sin, device })
    }

    pub fn new_cache(&self) -> KvCache {
        KvCache { layers: vec![None; self.hp.n_layer], len: 0, cap: 0 }
    }

    /// Runs `tokens` after what `cache` holds and returns the logits of the last position.
    pub fn forward(&self, tokens: &[u32], cache: &mut KvCache) -> Result<Vec<f32>> {
        let logits = self.forward_rows(tokens, cache, false)?;
        logits.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>()
    }

    /// Runs `tokens` after what `cache` holds and returns the logits of every position (the
    /// verification step of speculative decoding). Up to [`EXACT_ROWS`] tokens, each row's
    /// logits are bit-for-bit those that feeding the tokens one at a time would give.
    pub fn forward_all(&self, tokens: &[u32], cache: &mut KvCache) -> Result<Vec<Vec<f32>>> {
        let logits = self.forward_rows(tokens, cache, true)?;
        let rows = logits.squeeze(0)?.to_dtype(DType::F32)?.to_vec2::<f32>()?;
        Ok(rows)
    }

    fn forward_rows(&self, tokens: &[u32], cache: &mut KvCache, all: bool) -> Result<Tensor> {
        let s = tokens.len();
        if s == 0 {
            candle_core::bail!("nothing to process");
        }
        let pos = cache.len;
        if pos + s > self.hp.context {
            candle_core::bail!("context of {} tokens exceeded ({} needed)", self.hp.context, pos + s);
        }
        if pos + s > cache.cap {
            // Callers reserve the whole request up front; this is the fallback growth.
            cache.reserve((pos + s).max(cache.cap * 2).min(self.hp.context))?;
        }
        let mut x = self.embed.rows(tokens)?.unsqueeze(0)?;
        let mask = if s > 1 { Some(causal_mask(s, pos, &self.device)?) } else { None };
        let cos = self.cos.narrow(0, pos, s)?;
        let sin = self.sin.narrow(0, pos, s)?;
        let at = Step { pos, cap: cache.cap, mask, cos, sin };
        for (layer, slot) in self.layers.iter().zip(cache.layers.iter_mut()) {
            let h = candle_nn::ops::rms_norm(&x, &layer.attn_norm, self.hp.eps as f32)?;
            let a = self.attention(layer, &h, slot, &at)?;
            x = (x + a)?;
            let h = candle_nn::ops::rms_norm(&x, &layer.ffn_norm, self.hp.eps as f32)?;
            let (g, u) = (layer.gate.forward(&h)?, layer.up.forward(&h)?);
            let m = layer.down.forward(&(candle_nn::ops::silu(&g)? * u)?)?;
            x = (x + m)?;
        }
        cache.len = pos + s;
        let last = if all { x } else { x.narrow(1, s - 1, 1)? };
        let last = candle_nn::ops::rms_norm(&last, &self.norm, self.hp.eps as f32)?;
        self.output.forward(&last)
    }

    fn attention(&self, l: &Layer, x: &Tensor, slot: &mut Option<(Tensor, Tensor)>, at: &Step) -> Result<Tensor> {
        let Step { pos, cap, mask, cos, sin } = at;
        let (pos, cap, mask) = (*pos, *cap, mask.as_ref());
        let (b, s, _) = x.dims3()?;
        let Hparams { n_head, n_kv_head, head_dim, .. } = self.hp;
        let (q, k, v) = (l.wq.forward(x)?, l.wk.forward(x)?, l.wv.forward(x)?);
        let bias = |t: Tensor, b: &Option<Tensor>| match b {
            Some(b) => t.broadcast_add(b),
            None => Ok(t),
        };
        let q = bias(q, &l.bq)?.reshape((b, s, n_head, head_dim))?.transpose(1, 2)?.contiguous()?;
        let k = bias(k, &l.bk)?.reshape((b, s, n_kv_head, head_dim))?.transpose(1, 2)?.contiguous()?;
        let v = bias(v, &l.bv)?.reshape((b, s, n_kv_head, head_dim))?.transpose(1, 2)?.contiguous()?;
        let (q, k) = match self.hp.arch {
            // llama.cpp stores Qwen2 in the "neox" layout and Llama with interleaved pairs.
            Arch::Qwen2 => (candle_nn::rotary_emb::rope(&q, cos, sin)?, candle_nn::rotary_emb::rope(&k, cos, sin)?),
            Arch::Llama => (candle_nn::rotary_emb::rope_i(&q, cos, sin)?, candle_nn::rotary_emb::rope_i(&k, cos, sin)?),
        };
        if slot.is_none() {
            let z = || Tensor::zeros((b, n_kv_head, cap, head_dim), DType::F32, &self.device);
            *slot = Some((z()?, z()?));
        }
        let Some((kbuf, vbuf)) = slot.as_ref() else { candle_core::bail!("kv cache missing") };
        kbuf.slice_set(&k, 2, pos)?;
        vbuf.slice_set(&v, 2, pos)?;
        let kv_len = pos + s;
        // Grouped-query attention without copying keys: fold the query heads that share a
        // key head into the row dimension.
        let groups = n_head / n_kv_head;
        if s > 1 && s <= EXACT_ROWS {
            // A few rows (a speculative verification): each attends exactly as a one-token step
            // at its position would (same shapes, same kernels), so the logits are identical.
            let scale = 1.0 / (head_dim as f64).sqrt();
            let mut rows = Vec::with_capacity(s);
            for i in 0..s {
                let qi = q.narrow(2, i, 1)?.contiguous()?.reshape((b, n_kv_head, groups, head_dim))?;
                let k = kbuf.narrow(2, 0, pos + i + 1)?;
                let v = vbuf.narrow(2, 0, pos + i + 1)?;
                let att = candle_nn::ops::softmax_last_dim(&(qi.matmul(&k.t()?)? * scale)?)?;
                let y = att.matmul(&v)?;
                rows.push(y.reshape((b, n_head, 1, head_dim))?.transpose(1, 2)?.reshape((b, 1, n_head * head_dim))?);
            }
            return l.wo.forward(&Tensor::cat(&rows, 1)?);
        }
        let k = kbuf.narrow(2, 0, kv_len)?;
        let v = vbuf.narrow(2, 0, kv_len)?;
        let q = q.reshape((b, n_kv_head, groups * s, head_dim))?;
        let scale = 1.0 / (head_dim as f64).sqrt();
        let att = (q.matmul(&k.t()?)? * scale)?;
        let att = match mask {
            None => att,
            Some(m) => att.reshape((b, n_kv_head, groups, s, kv_len))?.broadcast_add(m)?.reshape((
                b,
                n_kv_head,
                groups * s,
                kv_len,
            ))?,
        };
        let att = candle_nn::ops::softmax_last_dim(&att)?;
        let y = att.matmul(&v)?; // (b, n_kv, groups*s, hd)
        let y = y.reshape((b, n_head, s, head_dim))?.transpose(1, 2)?.reshape((b, s, n_head * head_dim))?;
        l.wo.forward(&y)
    }

    /// Quantization types of the weights, for `model list` and the bench.
    pub fn describe(ct: &gguf_file::Content) -> String {
        let mut counts: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
        for info in ct.tensor_infos.values() {
            if info.shape.rank() == 2 {
                *counts.entry(format!("{:?}", info.ggml_dtype)).or_default() += 1;
            }
        }
        counts.into_iter().map(|(k, v)| format!("{k}×{v}")).collect::<Vec<_>>().join(" ")
    }
}

/// Where one forward step sits: position, cache capacity, causal mask and rotary tables.
struct Step {
    pos: usize,
    cap: usize,
    mask: Option<Tensor>,
    cos: Tensor,
    sin: Tensor,
}

fn rope_tables(head_dim: usize, base: f32, len: usize, device: &Device) -> Result<(Tensor, Tensor)> {
    let inv: Vec<f32> = (0..head_dim).step_by(2).map(|i| 1.0 / base.powf(i as f32 / head_dim as f32)).collect();
    let inv = Tensor::new(inv.as_slice(), device)?.reshape((1, head_dim / 2))?;
    let t = Tensor::arange(0u32, len as u32, device)?.to_dtype(DType::F32)?.reshape((len, 1))?;
    let freqs = t.matmul(&inv)?;
    Ok((freqs.cos()?, freqs.sin()?))
}

/// Additive mask (`s` new rows × all key positions): -inf where a row would see the future.
fn causal_mask(s: usize, pos: usize, device: &Device) -> Result<Tensor> {
    let total = pos + s;
    let data: Vec<f32> =
        (0..s).flat_map(|i| (0..total).map(move |j| if j > pos + i { f32::NEG_INFINITY } else { 0.0 })).collect();
    Tensor::from_vec(data, (s, total), device)
}

/// Index of the largest logit.
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0usize;
    for (i, &v) in logits.iter().enumerate() {
        if v > logits[best] {
            best = i;
        }
    }
    best as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::testing::{TinySpec, write_tiny_qwen2};

    fn tiny() -> (tempfile::TempDir, Weights) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tiny.gguf");
        write_tiny_qwen2(&path, &TinySpec::default()).expect("write");
        let mut r = std::io::BufReader::new(std::fs::File::open(&path).expect("open"));
        let ct = gguf_file::Content::read(&mut r).expect("gguf");
        let w = Weights::load(&ct, &mut r, &ModelFile::open(&path).expect("map")).expect("load");
        (dir, w)
    }

    fn close(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
    }

    #[test]
    fn shapes_follow_the_file() {
        let (_d, w) = tiny();
        assert_eq!((w.hp.arch, w.hp.n_layer, w.hp.n_head, w.hp.n_kv_head, w.hp.hidden), (Arch::Qwen2, 2, 4, 2, 256));
        assert_eq!(w.hp.head_dim, 64);
        let logits = w.forward(&[1, 2, 3], &mut w.new_cache()).expect("forward");
        assert_eq!(logits.len(), w.hp.vocab);
        assert!(logits.iter().all(|x| x.is_finite()));
    }

    #[test]
    fn cached_and_stepwise_processing_equal_one_pass() {
        let (_d, w) = tiny();
        // Long enough for the many-row (repacked) path and the one-row path both.
        let tokens: Vec<u32> = (0..40).map(|i| (i * 7 + 3) % 250).collect();
        let whole = w.forward(&tokens, &mut w.new_cache()).expect("one pass");

        let mut cache = w.new_cache();
        cache.reserve(64).expect("reserve");
        w.forward(&tokens[..30], &mut cache).expect("prefix");
        let snapshot = cache.fork(64).expect("fork");
        let split = w.forward(&tokens[30..], &mut cache).expect("rest");
        assert!(close(&whole, &split) < 1e-3, "prefix + rest differs by {}", close(&whole, &split));

        let mut from_snapshot = snapshot.fork(64).expect("fork");
        let mut last = Vec::new();
        for t in &tokens[30..] {
            last = w.forward(&[*t], &mut from_snapshot).expect("step");
        }
        assert!(close(&whole, &last) < 1e-3, "token by token differs by {}", close(&whole, &last));
        // The snapshot itself was not changed by the requests that started from it.
        assert_eq!(snapshot.len(), 30);
        let again = w.forward(&tokens[30..], &mut snapshot.fork(64).expect("fork")).expect("rest again");
        assert!(close(&whole, &again) < 1e-3);
    }

    #[test]
    fn a_truncated_file_is_an_error_not_a_crash() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tiny.gguf");
        write_tiny_qwen2(&path, &TinySpec::default()).expect("write");
        let len = std::fs::metadata(&path).expect("meta").len();
        let f = std::fs::OpenOptions::new().write(true).open(&path).expect("open");
        f.set_len(len - 4096).expect("truncate");
        let mut r = std::io::BufReader::new(std::fs::File::open(&path).expect("open"));
        let ct = gguf_file::Content::read(&mut r).expect("the header is intact");
        let err = Weights::load(&ct, &mut r, &ModelFile::open(&path).expect("map")).err().expect("must fail");
        assert!(err.to_string().contains("cut off"), "{err}");
    }

    #[test]
    fn context_overflow_is_an_error() {
        let (_d, w) = tiny();
        let too_many: Vec<u32> = vec![5; w.hp.context + 1];
        assert!(w.forward(&too_many, &mut w.new_cache()).is_err());
        assert!(w.forward(&[], &mut w.new_cache()).is_err());
        assert!(w.forward(&[u32::MAX], &mut w.new_cache()).is_err());
    }
}
