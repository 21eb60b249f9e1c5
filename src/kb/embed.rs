//! Sentence embeddings with multilingual-e5-small (Q4_0 weights in the "E5S1" container, see
//! MODELS.md), run with Candle on the CPU.
//!
//! The forward pass is written here over Candle ops instead of using `candle_transformers`'
//! BERT: the 250k-row word-embedding table stays 4-bit and only the rows a text uses are
//! dequantized, which keeps the model at ~150 MB of RAM instead of ~500 MB.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::{LayerNorm, Module};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("cannot read the embedding model {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("the embedding model file is invalid: {0}")]
    Format(String),
    #[error("embedding failed: {0}")]
    Candle(#[from] candle_core::Error),
}

type Result<T> = std::result::Result<T, EmbedError>;

/// Whether a text is a search query or a stored passage (e5 embeds them with different prefixes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Query,
    Passage,
}

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .at
            .checked_add(n)
            .filter(|e| *e <= self.data.len())
            .ok_or_else(|| EmbedError::Format("truncated".into()))?;
        let s = &self.data[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn i32(&mut self) -> Result<i32> {
        Ok(self.u32()?.cast_signed())
    }
    fn usize32(&mut self) -> Result<usize> {
        usize::try_from(self.i32()?).map_err(|_| EmbedError::Format("negative size".into()))
    }
    fn f32(&mut self) -> Result<f32> {
        Ok(f32::from_bits(self.u32()?))
    }
    fn u64(&mut self) -> Result<u64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
}

/// SentencePiece Unigram tokenizer with the XLM-R normalization map and "▁" metaspace.
struct Unigram {
    ids: HashMap<String, u32>,
    scores: Vec<f32>,
    max_piece_bytes: usize,
    unk: u32,
    unk_score: f32,
    bos: u32,
    eos: u32,
    norm: HashMap<u32, Vec<u32>>,
}

const META: char = '\u{2581}';

impl Unigram {
    /// Content token ids (without `<s>`/`</s>`), at most `max` of them.
    fn encode(&self, text: &str, max: usize) -> Vec<u32> {
        let mut chars: Vec<char> = Vec::with_capacity(text.len() + 1);
        for c in text.chars() {
            match self.norm.get(&u32::from(c)) {
                Some(rep) => chars.extend(rep.iter().filter_map(|u| char::from_u32(*u))),
                None => chars.push(c),
            }
        }
        chars.dedup_by(|a, b| *a == ' ' && *b == ' ');
        if chars.first() != Some(&' ') {
            chars.insert(0, ' ');
        }
        let s: String = chars.iter().map(|c| if *c == ' ' { META } else { *c }).collect();
        let bounds: Vec<usize> = s.char_indices().map(|(i, _)| i).chain(std::iter::once(s.len())).collect();
        let n = bounds.len() - 1;
        let mut best = vec![f32::NEG_INFINITY; n + 1];
        let mut back: Vec<(usize, u32)> = vec![(0, self.unk); n + 1];
        best[0] = 0.0;
        for i in 0..n {
            if best[i] == f32::NEG_INFINITY {
                continue;
            }
            for e in i + 1..=n {
                let len = bounds[e] - bounds[i];
                if len > self.max_piece_bytes {
                    break;
                }
                if let Some(&id) = self.ids.get(&s[bounds[i]..bounds[e]])
                    && id != self.unk
                {
                    let score = best[i] + self.scores[id as usize];
                    if score > best[e] {
                        best[e] = score;
                        back[e] = (i, id);
                    }
                }
            }
            let unk = best[i] + self.unk_score;
            if unk > best[i + 1] {
                best[i + 1] = unk;
                back[i + 1] = (i, self.unk);
            }
        }
        let mut out = Vec::new();
        let mut i = n;
        while i > 0 {
            let (from, id) = back[i];
            out.push(id);
            i = from;
        }
        out.reverse();
        out.truncate(max);
        out
    }
}

/// y = x·W + b with W stored transposed ([in, out], contiguous), so the matrix product reads
/// it in order instead of re-packing a strided view on every call.
/// A dense layer computed as W·xᵀ (weights [out, in] as the left operand): with a handful of
/// tokens this avoids re-packing the weight matrix on every call. The bias is a column [out, 1].
struct Linear {
    w: Tensor,
    b: Tensor,
}

impl Linear {
    /// [out, T] from x [T, in] given as xᵀ [in, T].
    fn forward_t(&self, xt: &Tensor) -> candle_core::Result<Tensor> {
        self.w.matmul(xt)?.broadcast_add(&self.b)
    }
}

struct Layer {
    /// Query, key and value projections fused into one [3·hidden, hidden] product.
    qkv: Linear,
    out: Linear,
    attn_norm: LayerNorm,
    up: Linear,
    down: Linear,
    out_norm: LayerNorm,
}

/// A loaded multilingual-e5-small.
pub struct Embedder {
    tok: Unigram,
    /// The raw Q4_0 rows of the word-embedding table.
    word_q4: Vec<u8>,
    word_rows: usize,
    positions: Tensor,
    token_type: Tensor,
    emb_norm: LayerNorm,
    layers: Vec<Layer>,
    hidden: usize,
    heads: usize,
    id: String,
    device: Device,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder").field("id", &self.id).finish_non_exhaustive()
    }
}

const Q4_BLOCK: usize = 32;
const Q4_BYTES: usize = 18;

fn dequant_q4(raw: &[u8], out: &mut Vec<f32>) {
    for block in raw.chunks_exact(Q4_BYTES) {
        let d = half::f16::from_le_bytes([block[0], block[1]]).to_f32();
        let qs = &block[2..];
        let start = out.len();
        out.resize(start + Q4_BLOCK, 0.0);
        for j in 0..16 {
            out[start + j] = (f32::from(qs[j] & 0x0F) - 8.0) * d;
            out[start + j + 16] = (f32::from(qs[j] >> 4) - 8.0) * d;
        }
    }
}

struct RawTensor<'a> {
    dtype: u8,
    elements: usize,
    bytes: &'a [u8],
}

impl RawTensor<'_> {
    fn to_f32(&self) -> Result<Vec<f32>> {
        match self.dtype {
            0 => Ok(self.bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()),
            1 => {
                let mut v = Vec::with_capacity(self.elements);
                dequant_q4(self.bytes, &mut v);
                Ok(v)
            }
            other => Err(EmbedError::Format(format!("unknown tensor type {other}"))),
        }
    }
}

impl Embedder {
    /// Loads the container from `path`.
    pub fn load(path: &Path) -> Result<Self> {
        let data = std::fs::read(path).map_err(|source| EmbedError::Io { path: path.display().to_string(), source })?;
        let digest = Sha256::digest(&data);
        let id = format!("e5s1-{}", digest.iter().take(6).map(|b| format!("{b:02x}")).collect::<String>());
        Self::parse(&data, id)
    }

    fn parse(data: &[u8], id: String) -> Result<Self> {
        let bad = |m: &str| EmbedError::Format(m.to_owned());
        let mut r = Reader { data, at: 0 };
        if r.take(4)? != b"E5S1" {
            return Err(bad("not an E5S1 container"));
        }
        let _version = r.u32()?;
        let hidden = r.usize32()?;
        let n_layers = r.usize32()?;
        let heads = r.usize32()?;
        let _ffn = r.usize32()?;
        let vocab = r.usize32()?;
        let max_pos = r.usize32()?;
        let _types = r.usize32()?;
        let eps = f64::from(r.f32()?);
        let _qk = r.i32()?;
        if hidden == 0 || heads == 0 || hidden % heads != 0 || hidden % Q4_BLOCK != 0 {
            return Err(bad("inconsistent dimensions"));
        }
        // Tokenizer.
        let n = r.usize32()?;
        let bos = r.u32()?;
        let eos = r.u32()?;
        let _pad = r.u32()?;
        let unk = r.u32()?;
        let blob_len = usize::try_from(r.u64()?).map_err(|_| bad("blob too large"))?;
        let mut offsets = Vec::with_capacity(n + 1);
        for _ in 0..=n {
            offsets.push(r.u32()? as usize);
        }
        let mut scores = Vec::with_capacity(n);
        for _ in 0..n {
            scores.push(r.f32()?);
        }
        let blob = r.take(blob_len)?;
        let mut ids = HashMap::with_capacity(n);
        let mut max_piece_bytes = 1;
        for i in 0..n {
            let (a, b) = (offsets[i], offsets[i + 1]);
            let piece = blob.get(a..b).ok_or_else(|| bad("piece offsets"))?;
            let piece = String::from_utf8_lossy(piece).into_owned();
            max_piece_bytes = max_piece_bytes.max(piece.len());
            ids.entry(piece).or_insert(u32::try_from(i).unwrap_or(0));
        }
        let min_score = scores.iter().copied().fold(0.0f32, f32::min);
        let entries = r.usize32()?;
        let _bytes = r.u32()?;
        let mut norm = HashMap::with_capacity(entries);
        for _ in 0..entries {
            let cp = r.u32()?;
            let count = r.u8()?;
            let mut rep = Vec::with_capacity(usize::from(count));
            for _ in 0..count {
                rep.push(r.u32()?);
            }
            norm.insert(cp, rep);
        }
        let tok = Unigram { ids, scores, max_piece_bytes, unk, unk_score: min_score - 10.0, bos, eos, norm };
        // Tensor directory.
        let count = r.usize32()?;
        let mut tensors = HashMap::with_capacity(count);
        for _ in 0..count {
            let len = usize::from(r.u16()?);
            let name = String::from_utf8_lossy(r.take(len)?).into_owned();
            let dtype = r.u8()?;
            let elements = r.u32()? as usize;
            let offset = usize::try_from(r.u64()?).map_err(|_| bad("offset"))?;
            let bytes = usize::try_from(r.u64()?).map_err(|_| bad("size"))?;
            let slice = data.get(offset..offset + bytes).ok_or_else(|| bad("tensor outside the file"))?;
            tensors.insert(name, RawTensor { dtype, elements, bytes: slice });
        }
        let device = Device::Cpu;
        let get = |name: &str| tensors.get(name).ok_or_else(|| EmbedError::Format(format!("missing tensor {name}")));
        let tensor = |name: &str, shape: &[usize]| -> Result<Tensor> {
            let t = get(name)?;
            let v = t.to_f32()?;
            if v.len() != shape.iter().product::<usize>() {
                return Err(EmbedError::Format(format!("tensor {name} has {} values", v.len())));
            }
            Ok(Tensor::from_vec(v, shape, &device)?)
        };
        let linear = |p: &str, out_dim: usize, in_dim: usize| -> Result<Linear> {
            let w = tensor(&format!("{p}.w"), &[out_dim, in_dim])?;
            Ok(Linear { w, b: tensor(&format!("{p}.b"), &[out_dim, 1])? })
        };
        let norm_layer = |p: &str| -> Result<LayerNorm> {
            Ok(LayerNorm::new(tensor(&format!("{p}.w"), &[hidden])?, tensor(&format!("{p}.b"), &[hidden])?, eps))
        };
        let word = get("emb.word")?;
        if word.dtype != 1 || word.elements != vocab * hidden {
            return Err(bad("emb.word must be Q4_0 [vocab, hidden]"));
        }
        let ffn = get("l0.fi.b")?.elements;
        let mut layers = Vec::with_capacity(n_layers);
        for i in 0..n_layers {
            let p = format!("l{i}");
            let (q, k, v) = (
                linear(&format!("{p}.q"), hidden, hidden)?,
                linear(&format!("{p}.k"), hidden, hidden)?,
                linear(&format!("{p}.v"), hidden, hidden)?,
            );
            let qkv = Linear { w: Tensor::cat(&[&q.w, &k.w, &v.w], 0)?, b: Tensor::cat(&[&q.b, &k.b, &v.b], 0)? };
            layers.push(Layer {
                qkv,
                out: linear(&format!("{p}.ao"), hidden, hidden)?,
                attn_norm: norm_layer(&format!("{p}.aln"))?,
                up: linear(&format!("{p}.fi"), ffn, hidden)?,
                down: linear(&format!("{p}.fo"), hidden, ffn)?,
                out_norm: norm_layer(&format!("{p}.oln"))?,
            });
        }
        let positions = tensor("emb.pos", &[max_pos, hidden])?;
        let token_type = tensor("emb.type", &[get("emb.type")?.elements / hidden, hidden])?.get(0)?;
        Ok(Self {
            tok,
            word_q4: word.bytes.to_vec(),
            word_rows: vocab,
            positions,
            token_type,
            emb_norm: norm_layer("emb.ln")?,
            layers,
            hidden,
            heads,
            id,
            device,
        })
    }

    /// Identifies the weights (stored vectors of another model are recomputed).
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn dim(&self) -> usize {
        self.hidden
    }

    /// Number of tokens `text` becomes (with the prefix and the special tokens).
    pub fn token_count(&self, text: &str, role: Role) -> usize {
        self.ids(text, role).len()
    }

    fn ids(&self, text: &str, role: Role) -> Vec<u32> {
        let prefix = match role {
            Role::Query => "query: ",
            Role::Passage => "passage: ",
        };
        let max = self.positions.dims()[0].saturating_sub(2);
        // More characters than positions never reach the model: cut before the tokenizer,
        // whose work grows with the text.
        let text = super::analyzer::prefix(text, max * 8);
        let mut ids = vec![self.tok.bos];
        ids.extend(self.tok.encode(&format!("{prefix}{text}"), max));
        ids.push(self.tok.eos);
        ids
    }

    /// The L2-normalized embedding of `text`.
    pub fn embed(&self, text: &str, role: Role) -> Result<Vec<f32>> {
        // Run every op on Candle's own pool: mixing it with the global Rayon pool makes each
        // small op hop between pools (measured: 16 ms instead of 12 ms for a short query).
        // Candle sizes its pool from RAYON_NUM_THREADS, else from the physical cores it can
        // detect (1 on many VMs): install.sh sets the variable to the core count.
        candle_core::utils::with_threadpool(|| self.embed_here(text, role))
    }

    fn embed_here(&self, text: &str, role: Role) -> Result<Vec<f32>> {
        let ids = self.ids(text, role);
        let t = ids.len();
        let row_bytes = self.hidden / Q4_BLOCK * Q4_BYTES;
        let mut rows = Vec::with_capacity(t * self.hidden);
        for id in &ids {
            let id = (*id as usize).min(self.word_rows - 1);
            dequant_q4(&self.word_q4[id * row_bytes..(id + 1) * row_bytes], &mut rows);
        }
        let words = Tensor::from_vec(rows, (t, self.hidden), &self.device)?;
        let pos = self.positions.narrow(0, 0, t)?;
        let x = words.add(&pos)?.broadcast_add(&self.token_type)?;
        let mut x = self.emb_norm.forward(&x)?;
        let head_dim = self.hidden / self.heads;
        let scale = 1.0 / (head_dim as f64).sqrt();
        // Activations are kept transposed ([hidden, T]) between the dense layers, so that the
        // weights stay the left operand and only the layer norms need [T, hidden].
        for l in &self.layers {
            let h = self.hidden;
            let xt = x.t()?.contiguous()?; // [h, T]
            let qkv = l.qkv.forward_t(&xt)?; // [3h, T]
            let heads = |part: usize| qkv.narrow(0, part * h, h)?.reshape((self.heads, head_dim, t));
            let q = heads(0)?.transpose(1, 2)?.contiguous()?; // [heads, T, d]
            let kt = heads(1)?; // [heads, d, T]: already Kᵀ
            let vt = heads(2)?; // [heads, d, T]: Vᵀ
            let att = candle_nn::ops::softmax_last_dim(&(q.matmul(&kt)? * scale)?)?; // [heads, T, T]
            // ctxᵀ = Vᵀ·attᵀ, laid out as [heads·d, T] = [h, T].
            let ctx_t = vt.matmul(&att.transpose(1, 2)?.contiguous()?)?.reshape((h, t))?;
            let attn_t = (l.out.forward_t(&ctx_t)? + &xt)?;
            let x1 = l.attn_norm.forward(&attn_t.t()?.contiguous()?)?; // [T, h]
            let x1t = x1.t()?.contiguous()?;
            let mid_t = gelu(&l.up.forward_t(&x1t)?)?; // [ffn, T]
            let out_t = (l.down.forward_t(&mid_t)? + &x1t)?;
            x = l.out_norm.forward(&out_t.t()?.contiguous()?)?;
        }
        let mean = x.mean(0)?;
        let norm = mean.sqr()?.sum_all()?.sqrt()?;
        let v = mean.broadcast_div(&norm)?.to_dtype(DType::F32)?.to_vec1::<f32>()?;
        Ok(v)
    }
}

/// GELU with the exact (erf) form the model was trained with, computed in one pass over the
/// buffer: Candle's `gelu_erf` calls a slow scalar `erf` per element, which took about a fifth
/// of a short query's time.
fn gelu(x: &Tensor) -> candle_core::Result<Tensor> {
    let shape = x.dims().to_vec();
    let mut v = x.flatten_all()?.to_vec1::<f32>()?;
    for x in &mut v {
        *x = 0.5 * *x * (1.0 + erf(*x * std::f32::consts::FRAC_1_SQRT_2));
    }
    Tensor::from_vec(v, shape, x.device())
}

/// erf by Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7, under f32 rounding of
/// the activations that follow).
fn erf(x: f32) -> f32 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * z);
    let poly = ((((1.061_405_4 * t - 1.453_152_1) * t + 1.421_413_8) * t - 0.284_496_74) * t + 0.254_829_6) * t;
    let y = 1.0 - poly * (-z * z).exp();
    y.copysign(x)
}

/// Writes a tiny random-weight E5S1 container (hidden 32, 2 layers) whose vocabulary is the
/// given pieces plus single characters. Tests use it to exercise the real loading and
/// inference path without the 72 MB model.
pub fn write_test_model(path: &Path, extra_pieces: &[&str], seed: u64) -> std::io::Result<()> {
    let (hidden, layers, heads, ffn, max_pos) = (32usize, 2usize, 2usize, 64usize, 64usize);
    let mut pieces: Vec<String> =
        ["<s>", "<pad>", "</s>", "<unk>", "\u{2581}"].iter().map(|s| (*s).to_owned()).collect();
    for c in "abcdefghijklmnopqrstuvwxyzабвгдеёжзийклмнопрстуфхцчшщъыьэюя0123456789:.,?!".chars()
    {
        pieces.push(c.to_string());
    }
    for p in extra_pieces {
        pieces.push(format!("\u{2581}{p}"));
    }
    let vocab = pieces.len();
    let mut state = seed | 1;
    let mut rand = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let x = (state >> 40) as f32 / (1u64 << 24) as f32;
        x * 2.0 - 1.0
    };
    let mut tensors: Vec<(String, u8, usize, Vec<u8>)> = Vec::new();
    let mut q4 = |name: String, elements: usize, rand: &mut dyn FnMut() -> f32| {
        let mut bytes = Vec::new();
        for _ in 0..elements / Q4_BLOCK {
            bytes.extend_from_slice(&half::f16::from_f32(0.05).to_le_bytes());
            for _ in 0..16 {
                let lo = ((rand() * 7.5 + 8.0) as u8).min(15);
                let hi = ((rand() * 7.5 + 8.0) as u8).min(15);
                bytes.push(lo | (hi << 4));
            }
        }
        tensors.push((name, 1, elements, bytes));
    };
    let f32s = |v: Vec<f32>| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let mut plain: Vec<(String, usize, Vec<u8>)> = Vec::new();
    q4("emb.word".into(), vocab * hidden, &mut rand);
    plain.push(("emb.pos".into(), max_pos * hidden, f32s((0..max_pos * hidden).map(|_| rand() * 0.1).collect())));
    plain.push(("emb.type".into(), 2 * hidden, f32s(vec![0.0; 2 * hidden])));
    plain.push(("emb.ln.w".into(), hidden, f32s(vec![1.0; hidden])));
    plain.push(("emb.ln.b".into(), hidden, f32s(vec![0.0; hidden])));
    for i in 0..layers {
        for (n, o, inp) in [
            ("q", hidden, hidden),
            ("k", hidden, hidden),
            ("v", hidden, hidden),
            ("ao", hidden, hidden),
            ("fi", ffn, hidden),
            ("fo", hidden, ffn),
        ] {
            q4(format!("l{i}.{n}.w"), o * inp, &mut rand);
            plain.push((format!("l{i}.{n}.b"), o, f32s(vec![0.0; o])));
        }
        for n in ["aln", "oln"] {
            plain.push((format!("l{i}.{n}.w"), hidden, f32s(vec![1.0; hidden])));
            plain.push((format!("l{i}.{n}.b"), hidden, f32s(vec![0.0; hidden])));
        }
    }
    for (name, elements, bytes) in plain {
        tensors.push((name, 0, elements, bytes));
    }
    let mut head = Vec::new();
    let i32b = |v: usize| i32::try_from(v).unwrap_or(0).to_le_bytes();
    head.extend_from_slice(b"E5S1");
    head.extend_from_slice(&1u32.to_le_bytes());
    for v in [hidden, layers, heads, ffn, vocab, max_pos, 2] {
        head.extend_from_slice(&i32b(v));
    }
    head.extend_from_slice(&1e-12f32.to_le_bytes());
    head.extend_from_slice(&i32b(32));
    head.extend_from_slice(&i32b(vocab));
    for v in [0, 2, 1, 3] {
        head.extend_from_slice(&i32b(v));
    }
    let blob: Vec<u8> = pieces.iter().flat_map(|p| p.bytes()).collect();
    head.extend_from_slice(&(blob.len() as u64).to_le_bytes());
    let mut off = 0u32;
    head.extend_from_slice(&off.to_le_bytes());
    for p in &pieces {
        off += u32::try_from(p.len()).unwrap_or(0);
        head.extend_from_slice(&off.to_le_bytes());
    }
    for (i, p) in pieces.iter().enumerate() {
        let score = if i < 4 { 0.0 } else { -1.0 - (p.chars().count() as f32).recip() };
        head.extend_from_slice(&score.to_le_bytes());
    }
    head.extend_from_slice(&blob);
    head.extend_from_slice(&i32b(1));
    head.extend_from_slice(&9u32.to_le_bytes());
    head.extend_from_slice(&0xA0u32.to_le_bytes());
    head.push(1);
    head.extend_from_slice(&0x20u32.to_le_bytes());
    head.extend_from_slice(&i32b(tensors.len()));
    let dir_len: usize = tensors.iter().map(|(n, ..)| 2 + n.len() + 1 + 4 + 8 + 8).sum();
    let mut data_off = head.len() + dir_len;
    let mut dir = Vec::new();
    for (name, dtype, elements, bytes) in &tensors {
        dir.extend_from_slice(&u16::try_from(name.len()).unwrap_or(0).to_le_bytes());
        dir.extend_from_slice(name.as_bytes());
        dir.push(*dtype);
        dir.extend_from_slice(&u32::try_from(*elements).unwrap_or(0).to_le_bytes());
        dir.extend_from_slice(&(data_off as u64).to_le_bytes());
        dir.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        data_off += bytes.len();
    }
    let mut file = head;
    file.extend_from_slice(&dir);
    for (_, _, _, bytes) in &tensors {
        file.extend_from_slice(bytes);
    }
    std::fs::write(path, file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiny_model_loads_and_embeds() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tiny.bin");
        write_test_model(&path, &["возврат", "доставка"], 7).expect("write");
        let m = Embedder::load(&path).expect("load");
        assert_eq!(m.dim(), 32);
        let a = m.embed("возврат товара", Role::Query).expect("embed");
        assert_eq!(a.len(), 32);
        let norm: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{norm}");
        assert_eq!(a, m.embed("возврат товара", Role::Query).expect("embed"), "deterministic");
        assert_ne!(a, m.embed("доставка", Role::Query).expect("embed"));
        // Whole-word pieces win over single characters.
        assert_eq!(m.tok.encode("возврат", 10).len(), 1);
        assert!(m.token_count("x".repeat(500).as_str(), Role::Passage) <= 64);
    }

    #[test]
    fn erf_matches_the_reference() {
        // Reference values of erf from tables.
        for (x, want) in [(0.0, 0.0), (0.5, 0.520_499_9), (1.0, 0.842_700_8), (-1.5, -0.966_105_2), (3.0, 0.999_977_9)]
        {
            assert!((erf(x) - want).abs() < 1e-6, "erf({x}) = {} not {want}", erf(x));
        }
    }

    #[test]
    fn rejects_other_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bad.bin");
        std::fs::write(&path, b"GGUF....").expect("write");
        assert!(matches!(Embedder::load(&path), Err(EmbedError::Format(_))));
    }
}
