//! A tiny random-weight Qwen2 GGUF for tests: the same architecture, tensor names, metadata
//! keys, tokenizer kind and chat template as the product model, small enough to write in a
//! few milliseconds. It proves the loading, tokenizing, caching and streaming paths; its
//! answers are noise.

use std::path::Path;

use anyhow::Context as _;
use candle_core::quantized::{GgmlDType, QTensor, gguf_file};
use candle_core::{Device, Tensor};

use super::sampling::Rng;

/// A Qwen2.5-style chat template (default system prompt branch included).
pub const QWEN_TEMPLATE: &str = "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}{%- else %}{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}{%- endif %}{%- for message in messages %}{%- if not (message.role == 'system' and loop.first) %}{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}{%- endif %}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";

/// GPT-2's reversible byte → printable character map used by byte-level BPE vocabularies.
pub fn byte_chars() -> Vec<char> {
    let printable = |b: u32| (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b);
    let mut extra = 0u32;
    (0u32..256)
        .map(|b| {
            if printable(b) {
                char::from_u32(b).unwrap_or('?')
            } else {
                extra += 1;
                char::from_u32(255 + extra).unwrap_or('?')
            }
        })
        .collect()
}

pub struct TinySpec {
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub ffn: usize,
    pub context: u32,
    pub seed: u64,
}

impl Default for TinySpec {
    fn default() -> Self {
        Self { hidden: 256, layers: 2, heads: 4, kv_heads: 2, ffn: 512, context: 1024, seed: 7 }
    }
}

/// Writes the tiny model to `path`.
pub fn write_tiny_qwen2(path: &Path, spec: &TinySpec) -> anyhow::Result<()> {
    let dev = Device::Cpu;
    let bc = byte_chars();
    let mut tokens: Vec<String> = bc.iter().map(|c| c.to_string()).collect();
    let mut merges = Vec::new();
    // Every Cyrillic letter of UTF-8 (D0/D1 xx) and a few English pairs become single tokens.
    for (lead, range) in [(0xD0u8, 0x90u8..=0xBF), (0xD1, 0x80..=0x8F)] {
        for b in range {
            let (a, c) = (bc[lead as usize], bc[b as usize]);
            merges.push(format!("{a} {c}"));
            tokens.push(format!("{a}{c}"));
        }
    }
    for (a, b) in [("t", "h"), ("th", "e"), ("Ġ", "a"), ("e", "r")] {
        merges.push(format!("{a} {b}"));
        tokens.push(format!("{a}{b}"));
    }
    let first_special = tokens.len();
    for s in ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] {
        tokens.push(s.to_owned());
    }
    let vocab = tokens.len();
    let types: Vec<gguf_file::Value> =
        (0..vocab).map(|i| gguf_file::Value::I32(if i >= first_special { 3 } else { 1 })).collect();

    let mut rng = Rng::new(spec.seed);
    let mut randn = |rows: usize, cols: usize, std: f32| -> candle_core::Result<Tensor> {
        let data: Vec<f32> = (0..rows * cols)
            .map(|_| {
                // Irwin–Hall approximation of a normal draw.
                let s: f32 = (0..4).map(|_| rng.next_f32()).sum::<f32>() - 2.0;
                s * std * 1.7
            })
            .collect();
        Tensor::from_vec(data, (rows, cols), &dev)
    };
    let (h, kvw) = (spec.hidden, spec.hidden / spec.heads * spec.kv_heads);
    let mut named: Vec<(String, QTensor)> = Vec::new();
    let q = |t: Tensor, d: GgmlDType| QTensor::quantize(&t, d);
    named.push(("token_embd.weight".into(), q(randn(vocab, h, 0.5)?, GgmlDType::Q6K)?));
    named.push(("output_norm.weight".into(), q(Tensor::ones(h, candle_core::DType::F32, &dev)?, GgmlDType::F32)?));
    for l in 0..spec.layers {
        let n = |s: &str| format!("blk.{l}.{s}");
        let ones = Tensor::ones(h, candle_core::DType::F32, &dev)?;
        named.push((n("attn_norm.weight"), q(ones.clone(), GgmlDType::F32)?));
        named.push((n("ffn_norm.weight"), q(ones, GgmlDType::F32)?));
        named.push((n("attn_q.weight"), q(randn(h, h, 0.1)?, GgmlDType::Q4K)?));
        named.push((n("attn_k.weight"), q(randn(kvw, h, 0.1)?, GgmlDType::Q4K)?));
        named.push((n("attn_v.weight"), q(randn(kvw, h, 0.1)?, GgmlDType::Q6K)?));
        named.push((n("attn_q.bias"), q(randn(1, h, 0.1)?.flatten_all()?, GgmlDType::F32)?));
        named.push((n("attn_k.bias"), q(randn(1, kvw, 0.1)?.flatten_all()?, GgmlDType::F32)?));
        named.push((n("attn_v.bias"), q(randn(1, kvw, 0.1)?.flatten_all()?, GgmlDType::F32)?));
        named.push((n("attn_output.weight"), q(randn(h, h, 0.1)?, GgmlDType::Q4K)?));
        named.push((n("ffn_gate.weight"), q(randn(spec.ffn, h, 0.1)?, GgmlDType::Q4K)?));
        named.push((n("ffn_up.weight"), q(randn(spec.ffn, h, 0.1)?, GgmlDType::Q4K)?));
        named.push((n("ffn_down.weight"), q(randn(h, spec.ffn, 0.1)?, GgmlDType::Q6K)?));
    }

    use gguf_file::Value as V;
    let s = |x: &str| V::String(x.to_owned());
    let meta: Vec<(&str, V)> = vec![
        ("general.architecture", s("qwen2")),
        ("general.name", s("supportd tiny qwen2 (random weights)")),
        ("qwen2.attention.head_count", V::U32(spec.heads as u32)),
        ("qwen2.attention.head_count_kv", V::U32(spec.kv_heads as u32)),
        ("qwen2.embedding_length", V::U32(h as u32)),
        ("qwen2.feed_forward_length", V::U32(spec.ffn as u32)),
        ("qwen2.block_count", V::U32(spec.layers as u32)),
        ("qwen2.context_length", V::U32(spec.context)),
        ("qwen2.attention.layer_norm_rms_epsilon", V::F32(1e-6)),
        ("qwen2.rope.freq_base", V::F32(1_000_000.0)),
        ("tokenizer.ggml.model", s("gpt2")),
        ("tokenizer.ggml.pre", s("qwen2")),
        ("tokenizer.ggml.tokens", V::Array(tokens.iter().map(|t| s(t)).collect())),
        ("tokenizer.ggml.token_type", V::Array(types)),
        ("tokenizer.ggml.merges", V::Array(merges.iter().map(|m| s(m)).collect())),
        ("tokenizer.ggml.eos_token_id", V::U32(first_special as u32 + 2)),
        ("tokenizer.ggml.padding_token_id", V::U32(first_special as u32)),
        ("tokenizer.ggml.bos_token_id", V::U32(first_special as u32)),
        ("tokenizer.ggml.add_bos_token", V::Bool(false)),
        ("tokenizer.chat_template", s(QWEN_TEMPLATE)),
    ];
    let meta_refs: Vec<(&str, &V)> = meta.iter().map(|(k, v)| (*k, v)).collect();
    let tensor_refs: Vec<(&str, &QTensor)> = named.iter().map(|(k, v)| (k.as_str(), v)).collect();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::io::BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
    );
    gguf_file::write(&mut f, &meta_refs, &tensor_refs)?;
    std::io::Write::flush(&mut f)?;
    Ok(())
}

/// SmolLM2-135M for real-weights tests: `SUPPORTD_TEST_SMOLLM` (tests/run.sh installs it and
/// sets it); `None` when absent, unless `SUPPORTD_REQUIRE_TEST_MODELS` is set (then it panics).
pub fn smollm2_path() -> Option<std::path::PathBuf> {
    let found = std::env::var_os("SUPPORTD_TEST_SMOLLM").map(std::path::PathBuf::from).filter(|p| p.exists());
    assert!(
        found.is_some() || std::env::var_os("SUPPORTD_REQUIRE_TEST_MODELS").is_none(),
        "SUPPORTD_TEST_SMOLLM must point to SmolLM2-135M-Instruct.Q4_1.gguf"
    );
    found
}
