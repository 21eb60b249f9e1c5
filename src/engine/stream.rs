//! Showing an answer while the model writes it.
//!
//! The model's text streams into a [`Relay`]; it cuts the text into sentences
//! ([`crate::llm::budget::sentence_ends`]) and shows each whole sentence only after the guard
//! passed it (numbers, sums, contacts and promises only from the facts or the buyer). A
//! sentence the guard refuses is left out, as the final answer leaves it out
//! (`guard::check_sentences`). What is shown goes to
//! - the buyer's channel when it can show a reply being written (the registry's `streaming`:
//!   Telegram private chats by `sendMessageDraft`, the widget by a `draft` frame), through
//!   the [`Streamer`] the app sets; other channels (marketplaces, messengers without
//!   previews) get the final text only;
//! - the operators' event stream ([`Streams::subscribe`]: `writing` events on
//!   `/api/v1/events/stream`), for every channel.
//!
//! A preview is never a message: nothing of it is stored or queued, so the outbox keeps
//! exactly one final message per reply, and a crash mid-stream leaves the inbox item to be
//! processed again, which sends that one final message.

use std::sync::Arc;

use serde::Serialize;
use tokio::sync::{broadcast, mpsc};

use crate::BoxFuture;
use crate::channels::ChannelName;
use crate::llm::{StreamEvent, TokenSink};

/// The answer as shown so far.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Partial {
    pub conversation_id: i64,
    pub channel: ChannelName,
    #[serde(skip)]
    pub recipient: String,
    /// Identifies this reply's preview (non-zero; the same for every update of one reply).
    pub draft_id: i64,
    /// Whole sentences that passed the guard.
    pub text: String,
    /// The model finished (the final message follows through the outbox, or a quote).
    pub done: bool,
}

/// Shows a preview in the buyer's channel (set by the app; awaited in order, one at a time).
pub type Streamer = Arc<dyn Fn(Partial) -> BoxFuture<'static, ()> + Send + Sync>;

/// Previews for the operators' event stream.
#[derive(Clone)]
pub struct Streams {
    tx: broadcast::Sender<Partial>,
}

impl Default for Streams {
    fn default() -> Self {
        Self { tx: broadcast::channel(256).0 }
    }
}

impl Streams {
    pub fn subscribe(&self) -> broadcast::Receiver<Partial> {
        self.tx.subscribe()
    }
}

/// The guard for one sentence: true when it may be shown.
pub type Check = Box<dyn Fn(&str) -> bool + Send>;

/// Relays one model call's text: sentences checked, then shown.
pub struct Relay {
    task: tokio::task::JoinHandle<Shown>,
    stop: tokio::sync::oneshot::Sender<()>,
}

/// What a relay showed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shown {
    /// Milliseconds from the relay's start to the first sentence shown.
    pub first_ms: Option<u64>,
    pub text: String,
    /// Sentences the guard refused (left out).
    pub dropped: usize,
}

impl Relay {
    /// A sink for the model call and the relay behind it. `buyer_channel` is whether the
    /// buyer's channel shows previews (`streamer` is then called).
    pub fn start(
        base: Partial,
        check: Check,
        streams: &Streams,
        streamer: Option<Streamer>,
        buyer_channel: bool,
    ) -> (TokenSink, Relay) {
        let (sink, rx) = TokenSink::new();
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let state = State {
            base,
            check,
            tx: streams.tx.clone(),
            streamer: streamer.filter(|_| buyer_channel),
            started: std::time::Instant::now(),
            text: String::new(),
            sentences: 0,
            kept: Vec::new(),
            shown: Shown::default(),
        };
        let task = tokio::spawn(relay(rx, stopped, state));
        (sink, Relay { task, stop })
    }

    /// The call returned: relays what it streamed, tells the watchers the model is done, and
    /// says what was shown.
    pub async fn finish(self) -> Shown {
        let _ = self.stop.send(());
        self.task.await.unwrap_or_default()
    }
}

struct State {
    base: Partial,
    check: Check,
    tx: broadcast::Sender<Partial>,
    streamer: Option<Streamer>,
    started: std::time::Instant,
    text: String,
    /// Sentences of `text` already judged.
    sentences: usize,
    kept: Vec<String>,
    shown: Shown,
}

impl State {
    fn partial(&self, done: bool) -> Partial {
        Partial { text: self.shown.text.clone(), done, ..self.base.clone() }
    }

    async fn take(&mut self, event: StreamEvent) {
        match event {
            StreamEvent::Reset => {
                // Another provider starts over: so does the preview.
                self.text.clear();
                self.sentences = 0;
                self.kept.clear();
                self.shown.dropped = 0;
            }
            StreamEvent::Text(t) => self.text.push_str(&t),
        }
        let ends = crate::llm::budget::sentence_ends(&self.text);
        let mut changed = false;
        while self.sentences < ends.len() {
            let start = if self.sentences == 0 { 0 } else { ends[self.sentences - 1] };
            let sentence = self.text[start..ends[self.sentences]].trim().to_owned();
            self.sentences += 1;
            if sentence.is_empty() {
                continue;
            }
            if (self.check)(&sentence) {
                self.kept.push(sentence);
                changed = true;
            } else {
                self.shown.dropped += 1;
            }
        }
        if !changed {
            return;
        }
        self.shown.first_ms.get_or_insert(self.started.elapsed().as_millis() as u64);
        self.shown.text = self.kept.join(" ");
        let p = self.partial(false);
        let _ = self.tx.send(p.clone());
        if let Some(s) = &self.streamer {
            // A slow messenger must not hold the relay (and so the final answer) for long.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(3), s(p)).await;
        }
    }
}

async fn relay(
    mut rx: mpsc::UnboundedReceiver<StreamEvent>,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
    mut state: State,
) -> Shown {
    loop {
        tokio::select! {
            biased;
            event = rx.recv() => match event {
                Some(e) => state.take(e).await,
                None => break,
            },
            _ = &mut stopped => {
                // What the call streamed before it returned; a sink still held elsewhere (a
                // request left in a queue) is not waited for.
                while let Ok(e) = rx.try_recv() {
                    state.take(e).await;
                }
                break;
            }
        }
    }
    let _ = state.tx.send(state.partial(true));
    state.shown
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn base() -> Partial {
        Partial {
            conversation_id: 7,
            channel: ChannelName::Telegram,
            recipient: "900".into(),
            draft_id: 7,
            text: String::new(),
            done: false,
        }
    }

    #[tokio::test]
    async fn whole_sentences_are_shown_once_checked() {
        let streams = Streams::default();
        let mut watch = streams.subscribe();
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let s2 = seen.clone();
        let streamer: Streamer = Arc::new(move |p: Partial| {
            s2.lock().expect("lock").push(p.text);
            Box::pin(async {})
        });
        // The guard refuses any sentence with a phone number: it is left out.
        let check: Check = Box::new(|t: &str| !t.contains("+7"));
        let (sink, relay) = Relay::start(base(), check, &streams, Some(streamer), true);
        for piece in ["Здравст", "вуйте! Вернуть", " можно.", " Звоните +7 900", " 000-00-00. Ещё", " раз. Конец"]
        {
            sink.text(piece);
        }
        drop(sink);
        let shown = relay.finish().await;
        assert_eq!(
            *seen.lock().expect("lock"),
            vec!["Здравствуйте!", "Здравствуйте! Вернуть можно.", "Здравствуйте! Вернуть можно. Ещё раз."]
        );
        assert!(shown.dropped == 1 && shown.first_ms.is_some());
        assert_eq!(shown.text, "Здравствуйте! Вернуть можно. Ещё раз.");
        let mut events = Vec::new();
        while let Ok(p) = watch.try_recv() {
            events.push((p.text, p.done));
        }
        assert_eq!(events.last(), Some(&("Здравствуйте! Вернуть можно. Ещё раз.".to_owned(), true)));
        assert_eq!(events.len(), 4);
    }

    #[tokio::test]
    async fn channels_without_previews_get_nothing_and_resets_start_over() {
        let streams = Streams::default();
        let called: Arc<Mutex<usize>> = Arc::default();
        let c2 = called.clone();
        let streamer: Streamer = Arc::new(move |_| {
            *c2.lock().expect("lock") += 1;
            Box::pin(async {})
        });
        let (sink, relay) = Relay::start(base(), Box::new(|_: &str| true), &streams, Some(streamer.clone()), false);
        sink.text("Первое. Второе. ");
        drop(sink);
        assert_eq!(relay.finish().await.text, "Первое. Второе.");
        assert_eq!(*called.lock().expect("lock"), 0);

        let (sink, relay) = Relay::start(base(), Box::new(|_: &str| true), &streams, Some(streamer), true);
        sink.text("Неверно. ");
        sink.reset();
        sink.text("Верно. И так ");
        drop(sink);
        assert_eq!(relay.finish().await.text, "Верно.");
    }
}
