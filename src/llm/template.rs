//! The model's own tokenizer and chat template, both read from the GGUF file.
//!
//! The tokenizer is the byte-level BPE built from `tokenizer.ggml.*` (exact token counts);
//! the chat template is the file's `tokenizer.chat_template` (Jinja), rendered with
//! minijinja. Buyers' text can never forge control tokens: their `<|...|>` markers are
//! broken up before rendering.

use candle_core::quantized::gguf_file;
use candle_core::quantized::tokenizer::TokenizerFromGguf;
use tokenizers::Tokenizer;

use super::{ChatMessage, Role};

pub struct ChatFormat {
    tokenizer: Tokenizer,
    template: Option<String>,
    bos: String,
    eos: String,
    /// Tokens that end the assistant's turn.
    pub stop_ids: Vec<u32>,
    /// Control tokens (never allowed to come from message text).
    specials: Vec<String>,
}

/// A rendered prompt; the first `prefix_len` tokens are the system part (cacheable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    pub tokens: Vec<u32>,
    pub prefix_len: usize,
}

fn err(e: impl std::fmt::Display) -> candle_core::Error {
    candle_core::Error::Msg(e.to_string())
}

impl ChatFormat {
    pub fn from_gguf(ct: &gguf_file::Content) -> candle_core::Result<Self> {
        let tokenizer = Tokenizer::from_gguf(ct)?;
        let tokens = match ct.metadata.get("tokenizer.ggml.tokens") {
            Some(v) => v.to_vec()?.iter().map(|t| t.to_string().cloned().unwrap_or_default()).collect::<Vec<_>>(),
            None => Vec::new(),
        };
        let id = |k: &str| ct.metadata.get(k).and_then(|v| v.to_u32().ok());
        let name = |i: Option<u32>| i.and_then(|i| tokens.get(i as usize)).cloned().unwrap_or_default();
        let (bos_id, eos_id) = (id("tokenizer.ggml.bos_token_id"), id("tokenizer.ggml.eos_token_id"));
        let types: Vec<u32> = match ct.metadata.get("tokenizer.ggml.token_type") {
            Some(v) => v.to_vec()?.iter().map(|t| t.to_i32().map(|x| x as u32).unwrap_or(1)).collect(),
            None => Vec::new(),
        };
        let specials: Vec<String> = types
            .iter()
            .enumerate()
            .filter(|(_, t)| **t == 3 || **t == 4)
            .filter_map(|(i, _)| tokens.get(i).cloned())
            .filter(|t| !t.is_empty())
            .collect();
        let mut stop_ids: Vec<u32> = eos_id.into_iter().collect();
        for t in ["<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<end_of_turn>"] {
            if let Some(i) = tokenizer.token_to_id(t) {
                stop_ids.push(i);
            }
        }
        stop_ids.sort_unstable();
        stop_ids.dedup();
        let template = ct.metadata.get("tokenizer.chat_template").and_then(|v| v.to_string().ok()).cloned();
        Ok(Self { tokenizer, template, bos: name(bos_id), eos: name(eos_id), stop_ids, specials })
    }

    pub fn encode(&self, text: &str) -> candle_core::Result<Vec<u32>> {
        Ok(self.tokenizer.encode(text, false).map_err(err)?.get_ids().to_vec())
    }

    /// Exact token count of `text` as plain content.
    pub fn count(&self, text: &str) -> usize {
        self.encode(&self.defuse(text)).map(|t| t.len()).unwrap_or_else(|_| super::estimate_tokens(text))
    }

    pub fn decode(&self, ids: &[u32]) -> String {
        self.tokenizer.decode(ids, true).unwrap_or_default()
    }

    /// Breaks control-token markers in untrusted text ("<|im_start|>" → "< |im_start| >").
    pub fn defuse(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for s in &self.specials {
            if out.contains(s.as_str()) {
                let broken: String = s.chars().flat_map(|c| [c, ' ']).collect::<String>().trim_end().to_owned();
                out = out.replace(s.as_str(), &broken);
            }
        }
        out
    }

    /// Renders `messages` with the model's chat template.
    pub fn render(&self, messages: &[ChatMessage], add_generation_prompt: bool) -> candle_core::Result<String> {
        let msgs: Vec<serde_json::Value> = messages
            .iter()
            .map(|m| serde_json::json!({"role": m.role.as_str(), "content": self.defuse(&m.content)}))
            .collect();
        match &self.template {
            Some(src) => {
                let mut env = minijinja::Environment::new();
                env.set_trim_blocks(true);
                env.set_lstrip_blocks(true);
                env.add_function("raise_exception", |msg: String| -> Result<String, minijinja::Error> {
                    Err(minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, msg))
                });
                let ctx = minijinja::context! {
                    messages => msgs,
                    add_generation_prompt => add_generation_prompt,
                    bos_token => self.bos.clone(),
                    eos_token => self.eos.clone(),
                };
                env.render_str(src, ctx).map_err(|e| err(format!("the model's chat template failed: {e}")))
            }
            None => Ok(chatml(messages, add_generation_prompt, |s| self.defuse(s))),
        }
    }

    /// Tokens of the prompt for `messages`, with the system part marked as a cacheable prefix.
    pub fn prompt(&self, messages: &[ChatMessage]) -> candle_core::Result<Prompt> {
        let full = self.render(messages, true)?;
        let system: Vec<ChatMessage> = messages.iter().take_while(|m| m.role == Role::System).cloned().collect();
        if !system.is_empty() && system.len() < messages.len() {
            let head = self.render(&system, false)?;
            if let Some(rest) = full.strip_prefix(head.as_str()) {
                let mut tokens = self.encode(&head)?;
                let prefix_len = tokens.len();
                tokens.extend(self.encode(rest)?);
                return Ok(Prompt { tokens, prefix_len });
            }
        }
        Ok(Prompt { tokens: self.encode(&full)?, prefix_len: 0 })
    }
}

/// ChatML, the format of Qwen and SmolLM2, for files without a template.
pub fn chatml(messages: &[ChatMessage], add_generation_prompt: bool, clean: impl Fn(&str) -> String) -> String {
    let mut s = String::new();
    for m in messages {
        s.push_str(&format!("<|im_start|>{}\n{}<|im_end|>\n", m.role.as_str(), clean(&m.content)));
    }
    if add_generation_prompt {
        s.push_str("<|im_start|>assistant\n");
    }
    s
}
