//! Fitting a conversation into the model's token budget.
//!
//! The system prompt and the facts (knowledge-base passages, order data) always go in whole;
//! history fills what is left, newest first, and the buyer's latest message is never
//! dropped. When older turns are left out, one line says so, so the model knows the history
//! is partial.

use super::ChatMessage;

/// Tokens a chat template adds around each message (role markers, separators).
pub const PER_MESSAGE_OVERHEAD: usize = 5;

#[derive(Debug, Clone, PartialEq)]
pub struct Fitted {
    pub messages: Vec<ChatMessage>,
    /// Tokens of the prompt as counted (without the answer).
    pub prompt_tokens: usize,
    /// History messages left out (oldest ones).
    pub dropped: usize,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FitError {
    #[error("the system prompt, facts and latest message need {needed} tokens, but only {budget} are available")]
    TooLong { needed: usize, budget: usize },
    #[error("there is no message to answer")]
    Empty,
}

/// Builds the messages for one call: `system` + facts as the system message, then as much
/// of `history` (oldest first; the last one is the message to answer) as fits into `budget`
/// tokens minus `answer_tokens`.
pub fn fit(
    system: &str,
    facts: &[String],
    history: &[ChatMessage],
    budget: usize,
    answer_tokens: usize,
    count: &dyn Fn(&str) -> usize,
) -> Result<Fitted, FitError> {
    let Some((latest, earlier)) = history.split_last() else { return Err(FitError::Empty) };
    let mut sys = system.trim_end().to_owned();
    if !facts.is_empty() {
        sys.push_str("\n\nФакты:\n");
        for (i, f) in facts.iter().enumerate() {
            sys.push_str(&format!("[{}] {}\n", i + 1, f.trim()));
        }
    }
    let available = budget.saturating_sub(answer_tokens);
    let note = |n: usize| format!("(Ранние сообщения диалога опущены: {n}.)");
    let fixed = count(&sys) + count(&latest.content) + 2 * PER_MESSAGE_OVERHEAD;
    if fixed > available {
        return Err(FitError::TooLong { needed: fixed + answer_tokens, budget });
    }
    let mut used = fixed;
    let mut kept = 0;
    for m in earlier.iter().rev() {
        let cost = count(&m.content) + PER_MESSAGE_OVERHEAD;
        // Leave room for the note in case something older is dropped.
        let reserve = if kept + 1 < earlier.len() { count(&note(earlier.len())) + 1 } else { 0 };
        if used + cost + reserve > available {
            break;
        }
        used += cost;
        kept += 1;
    }
    let dropped = earlier.len() - kept;
    if dropped > 0 {
        let n = note(dropped);
        used += count(&n) + 1;
        sys.push_str("\n\n");
        sys.push_str(&n);
    }
    let mut messages = Vec::with_capacity(kept + 2);
    messages.push(ChatMessage::system(sys));
    messages.extend(earlier[earlier.len() - kept..].iter().cloned());
    messages.push(latest.clone());
    Ok(Fitted { messages, prompt_tokens: used, dropped })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::Role;

    fn words(s: &str) -> usize {
        s.split_whitespace().count()
    }

    fn turn(i: usize) -> ChatMessage {
        let role = if i.is_multiple_of(2) { Role::User } else { Role::Assistant };
        ChatMessage { role, content: format!("сообщение номер {i} ") + &"слово ".repeat(20) }
    }

    #[test]
    fn keeps_everything_when_it_fits() {
        let history: Vec<_> = (0..5).map(turn).collect();
        let f = fit("Ты помощник.", &["Доставка 3 дня.".into()], &history, 4000, 256, &words).expect("fits");
        assert_eq!(f.dropped, 0);
        assert_eq!(f.messages.len(), 6);
        assert!(f.messages[0].content.contains("[1] Доставка 3 дня."));
        assert_eq!(f.messages.last(), history.last());
    }

    #[test]
    fn drops_the_oldest_turns_first_and_says_so() {
        let history: Vec<_> = (0..40).map(turn).collect();
        let f = fit("Ты помощник.", &["Факт".into()], &history, 400, 100, &words).expect("fits");
        assert!(f.dropped > 0 && f.dropped < 40);
        assert!(f.prompt_tokens <= 300, "{}", f.prompt_tokens);
        // The kept turns are the newest, in order, ending with the latest message.
        let kept = &f.messages[1..];
        assert_eq!(kept, &history[history.len() - kept.len()..]);
        assert!(f.messages[0].content.contains(&format!("опущены: {}", f.dropped)));
        assert!(f.messages[0].content.contains("Факт"));
    }

    #[test]
    fn never_drops_facts_or_the_latest_message() {
        let facts = vec!["длинный факт ".repeat(100)];
        let history = vec![turn(0), turn(1), ChatMessage::user("где заказ?")];
        let err = fit("Ты помощник.", &facts, &history, 150, 50, &words).expect_err("too long");
        assert!(matches!(err, FitError::TooLong { .. }));
        let f = fit("Ты помощник.", &facts, &history, 400, 50, &words).expect("fits");
        assert!(f.messages[0].content.contains("длинный факт"));
        assert_eq!(f.messages.last().map(|m| m.content.as_str()), Some("где заказ?"));
        assert_eq!(fit("x", &[], &[], 100, 10, &words), Err(FitError::Empty));
    }
}
