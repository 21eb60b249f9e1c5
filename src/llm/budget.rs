//! Short answers by design: where a sentence ends, so generation stops at the end of the last
//! needed sentence (`GenerateRequest::max_sentences`) and streaming shows whole sentences
//! only. (The token budget comes from the chosen facts, in the engine.)

/// Byte offsets just after each complete sentence of `text`: a `.`, `!`, `?` or `…` (with
/// any closing quotes or brackets) followed by white space, or a line break. A full stop right
/// after a digit or a one-letter word («т.», «г.», «3.») ends a sentence only when white
/// space and then an upper-case letter or a digit follow.
pub fn sentence_ends(text: &str) -> Vec<usize> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut ends = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (at, c) = chars[i];
        if c == '\n' {
            if text[..at].trim().len() > ends.last().map_or(0, |&e: &usize| text[..e].trim().len()) {
                ends.push(at);
            }
            i += 1;
            continue;
        }
        if !matches!(c, '.' | '!' | '?' | '…') {
            i += 1;
            continue;
        }
        // The mark's run, then closing quotes and brackets.
        let mut j = i + 1;
        while j < chars.len() && matches!(chars[j].1, '.' | '!' | '?' | '…' | '»' | '"' | ')' | '”') {
            j += 1;
        }
        let Some(&(_, next)) = chars.get(j) else { break };
        if !next.is_whitespace() {
            i = j;
            continue;
        }
        let end = chars[j].0;
        if c == '.' && weak_stop(&chars, i) {
            // "т. е.", "3. 5": only when what follows starts like a sentence.
            let after = chars[j..].iter().map(|&(_, c)| c).find(|c| !c.is_whitespace());
            if !after.is_some_and(|a| a.is_uppercase() || a.is_ascii_digit()) {
                i = j;
                continue;
            }
        }
        ends.push(end);
        i = j;
    }
    ends
}

/// A full stop after a digit or after a word of one letter.
fn weak_stop(chars: &[(usize, char)], dot: usize) -> bool {
    let before: Vec<char> = chars[..dot].iter().rev().map(|&(_, c)| c).take_while(|c| c.is_alphanumeric()).collect();
    before.first().is_some_and(|c| c.is_ascii_digit()) || before.len() == 1
}

/// Whether `text` already holds `n` complete sentences; returns the byte length to keep.
pub fn complete_sentences(text: &str, n: usize) -> Option<usize> {
    if n == 0 {
        return None;
    }
    sentence_ends(text).get(n - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_end_at_marks_followed_by_space() {
        let t = "Здравствуйте! Вернуть можно в течение 14 дней. Деньги придут за 3.5 дня… Ещё";
        let ends = sentence_ends(t);
        let parts: Vec<&str> = ends.iter().map(|&e| &t[..e]).collect();
        assert_eq!(parts.len(), 3, "{parts:?}");
        assert!(parts[0].ends_with("Здравствуйте!"));
        assert!(parts[1].ends_with("14 дней."));
        assert!(parts[2].ends_with("3.5 дня…"));
        // No sentence is complete until something follows its mark.
        assert!(sentence_ends("Вернуть можно.").is_empty());
        // Abbreviations do not split a sentence; a numbered step before a capital does.
        assert_eq!(sentence_ends("Это т. е. одно предложение. Да ").len(), 1);
        assert_eq!(sentence_ends("Шаг 1. Откройте заказ. ").len(), 2);
        assert_eq!(sentence_ends("Срок «14 дней». Далее ").len(), 1);
        assert_eq!(complete_sentences("Раз. Два. Три. Четыре", 3), Some("Раз. Два. Три.".len()));
        assert_eq!(complete_sentences("Раз. Два", 3), None);
    }
}
