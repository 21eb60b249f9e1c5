//! One turn: a buyer's message understood, the policy's plan carried out (order facts, the
//! knowledge base, a clarifying question, a handoff, a rating) and the reply assembled with
//! its provenance.

use super::dialog::Awaiting;
use super::dialog::State;
use super::policy::Decision;
use super::policy::HandoffReason;
use super::policy::Plan;
use super::provenance::OrderRef;
use super::provenance::PlanRecord;
use super::provenance::Provenance;
use super::provenance::SilentReason;
use super::provenance::Understood;
use super::{Action, Draft, Engine, EngineError, Inbound, SELLER_REPLIED, Turn, answer, policy, trace};
use crate::channels::ChannelName;
use crate::channels::registry;
use crate::marketplace::Found;
use crate::marketplace::Order;
use crate::marketplace::OrderStatus;
use crate::nlu::{Analysis, Intent};
use crate::store::messaging as msgs;
use crate::store::messaging::Author;
use crate::store::messaging::Conversation;
use crate::store::messaging::NewMessage;
use crate::store::orders as order_rows;
use crate::texts::bot;
use std::time::Instant;

impl Engine {
    pub(super) async fn process_turn(&self, item: &msgs::InboxItem) -> Result<Turn, EngineError> {
        let m: Inbound = serde_json::from_str(&item.payload).map_err(|e| EngineError::BadPayload(e.to_string()))?;
        let started = Instant::now();
        let now = self.clock.now_ms();
        let inbox_id = item.id;
        let (conversation, linked) = {
            let m = m.clone();
            self.db
                .call(move |c| {
                    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                    let customer = msgs::upsert_customer(&tx, m.channel.as_str(), &m.customer, &m.name, now)?;
                    let conv = msgs::open_conversation(&tx, customer, m.channel.as_str(), now)?;
                    let attachments = serde_json::to_string(&m.attachments).unwrap_or_else(|_| "[]".into());
                    // The seller's own message in the buyer's chat (Telegram Business): shown
                    // as a person's reply, and the conversation is theirs from now on.
                    let author = if m.from_seller { Author::Operator } else { Author::Buyer };
                    let msg = NewMessage {
                        conversation_id: conv,
                        author,
                        author_user_id: None,
                        body: &m.text,
                        attachments: &attachments,
                        provenance: None,
                        inbox_id: Some(inbox_id),
                    };
                    msgs::append_message(&tx, &msg, now)?;
                    if m.from_seller {
                        msgs::set_handler(&tx, conv, "operator", Some(SELLER_REPLIED), None, now)?;
                    }
                    if let Some(phone) = &m.verified_phone {
                        msgs::set_phone(&tx, customer, phone, now)?;
                        order_rows::link_by_phone(&tx, customer, phone, now)?;
                    }
                    let conversation = msgs::conversation(&tx, conv)?;
                    let linked = order_rows::of_customer(&tx, customer)?;
                    tx.commit()?;
                    Ok((conversation, linked))
                })
                .await?
        };
        let conv = conversation.id;
        trace::record_conversation(conv);
        if conversation.handled_by == "operator" {
            let turn = Turn {
                conversation_id: conv,
                action: Action::Silent,
                reply: None,
                provenance: Provenance { reason: Some(SilentReason::Operator), ..Provenance::of(Action::Silent) },
                facts: Vec::new(),
            };
            self.commit(item, &conversation, &turn, None, &Draft::default(), now).await?;
            return Ok(turn);
        }
        if self.pause.as_ref().is_some_and(|paused| paused()) {
            let turn = Turn {
                conversation_id: conv,
                action: Action::Silent,
                reply: None,
                provenance: Provenance { reason: Some(SilentReason::Licence), ..Provenance::of(Action::Silent) },
                facts: Vec::new(),
            };
            let draft = Draft { handoff: Some(HandoffReason::Licence), ..Draft::default() };
            self.commit(item, &conversation, &turn, None, &draft, now).await?;
            return Ok(turn);
        }
        let mut state = State::parse(&conversation.state);
        if m.verified_phone.is_some() && m.text.trim().is_empty() && m.attachments.is_empty() {
            // The buyer proved their phone: their orders are theirs now.
            let lines: Vec<String> = linked.iter().take(5).map(answer::order_line).collect();
            let reply =
                if lines.is_empty() { bot::PHONE_NO_ORDERS.to_owned() } else { bot::phone_orders(&lines.join("\n")) };
            let state = State { last_order: (linked.len() == 1).then(|| linked[0].number.clone()), ..State::default() };
            let turn = Turn {
                conversation_id: conv,
                action: Action::Answer,
                reply: Some(reply),
                provenance: Provenance {
                    plan: Some(PlanRecord::VerifiedPhone),
                    linked_orders: Some(linked.len()),
                    ..Provenance::of(Action::Answer)
                },
                facts: lines,
            };
            self.commit(item, &conversation, &turn, Some(&state), &Draft::default(), now).await?;
            return Ok(turn);
        }
        if m.text.trim().is_empty() {
            // A photo or file without words: ask what it is about (a person sees the file).
            let turn = Turn {
                conversation_id: conv,
                action: Action::Clarify,
                reply: Some(bot::GOT_ATTACHMENT.into()),
                provenance: Provenance {
                    plan: Some(PlanRecord::Attachment),
                    attachments: Some(m.attachments.len()),
                    ..Provenance::of(Action::Clarify)
                },
                facts: Vec::new(),
            };
            self.commit(item, &conversation, &turn, Some(&state), &Draft::default(), now).await?;
            return Ok(turn);
        }
        // Only the bounded beginning of a long message is understood and searched.
        let text = crate::kb::analyzer::prefix(&m.text, crate::nlu::MAX_TEXT_CHARS).to_owned();
        let analysis = self.analyze(text.clone()).await?;
        let analysis = self.in_context(analysis, &text, &state, conv).await?;
        let settings = self.settings();
        // The rules are written in Russian: a message typed in Latin letters is read in Cyrillic.
        let text = crate::kb::analyzer::cyrillic_view(&text).into_owned();
        let decision = policy::decide(
            &policy::Input {
                analysis: &analysis,
                text: &text,
                state: &state,
                linked_orders: linked.len(),
                names_linked_item: answer::names_an_item(&linked, &text),
            },
            &policy::Settings { human_only: settings.human_only.clone() },
        );
        // What a rule knows the message is about (a dispute's topic, the buyer's order looked up,
        // the shop's hours) stands over the classifier's reading.
        let analysis = match decision.topic {
            Some(topic) => analysis.about(topic),
            None => analysis,
        };
        state.last_intent = Some(analysis.intent);
        let mut draft = Draft { settings: settings.clone(), ..Draft::default() };
        self.carry_out(&decision, &analysis, &text, &conversation, &linked, &mut state, &mut draft, now).await?;
        let action = draft.action.unwrap_or(Action::Answer);
        // Marketplace answers are public: only plain answers go out without a person.
        let channel = ChannelName::parse(&conversation.channel);
        let public = channel.is_some_and(ChannelName::is_marketplace);
        draft.hold =
            channel.is_some_and(|c| settings.draft_channels.contains(&c)) || (public && action != Action::Answer);
        let mut reply = draft.parts.join("\n\n");
        if decision.greet && matches!(action, Action::Answer | Action::Clarify) {
            reply = format!("Здравствуйте! {reply}");
        }
        // The marketplace's rules for public answers (`marketplace::rules`): cleaned, or held.
        let rules = if public {
            let verdict =
                crate::marketplace::rules::public_answer(&conversation.channel, &conversation.recipient, &reply);
            Some(crate::marketplace::rules::apply(verdict, &mut reply, &mut draft.hold, &mut draft.note))
        } else {
            None
        };
        let provenance = Provenance {
            plan: Some(PlanRecord::Policy(decision.plan.clone())),
            understood: Some(Understood::new(&analysis, decision.injection)),
            handoff_reason: draft.handoff,
            sources: draft.sources.clone(),
            orders: draft.orders.clone(),
            model: draft.model.clone(),
            guard: draft.guard.clone(),
            draft: Some(draft.hold),
            marketplace_rules: rules,
            latency_ms: Some(started.elapsed().as_millis() as u64),
            ..Provenance::of(action)
        };
        let turn = Turn { conversation_id: conv, action, reply: Some(reply), provenance, facts: draft.facts.clone() };
        self.commit(item, &conversation, &turn, Some(&state), &draft, now).await?;
        Ok(turn)
    }

    /// A follow-up to a question about the shop's rules that the classifier is unsure of, or
    /// reads as nothing in particular ("а на вб?"), is read with the buyer's message before
    /// it: "а от какой суммы он работает" after a promo question is about the promo code. The
    /// message's own entities, mood and urgency stay.
    async fn in_context(&self, own: Analysis, text: &str, state: &State, conv: i64) -> Result<Analysis, EngineError> {
        let after_rules = state.last_intent.is_some_and(policy::is_rule_topic);
        let unsure = own.intent == Intent::Other || own.confidence < policy::FOLLOW_UP_CONFIDENCE;
        if !after_rules || !unsure || !policy::continues_previous(text) {
            return Ok(own);
        }
        let Some(earlier) = self.earlier_question(state.last_question.clone(), conv).await? else { return Ok(own) };
        let earlier = crate::kb::analyzer::prefix(&earlier, crate::nlu::MAX_TEXT_CHARS);
        let both = self.analyze(format!("{earlier}\n{text}")).await?;
        Ok(if both.confidence > own.confidence && policy::is_rule_topic(both.intent) {
            Analysis { intent: both.intent, confidence: both.confidence, intents: both.intents, ..own }
        } else {
            own
        })
    }

    #[expect(clippy::too_many_arguments, reason = "one turn's inputs, each used once")]
    pub(super) async fn carry_out(
        &self,
        d: &Decision,
        analysis: &Analysis,
        text: &str,
        conv: &Conversation,
        linked: &[Order],
        state: &mut State,
        out: &mut Draft,
        now: i64,
    ) -> Result<(), EngineError> {
        let was_awaiting_number = state.awaiting == Some(Awaiting::OrderNumber);
        // Only the turn right after a knowledge answer goes on with its question.
        let last_question = state.last_question.take();
        let pending_question = state.pending_question.take();
        if state.awaiting == Some(Awaiting::Rating) && !matches!(d.plan, Plan::Rate(_)) {
            state.awaiting = None;
        }
        if state.awaiting == Some(Awaiting::Verification) {
            match (state.verify.clone(), &d.plan) {
                (_, Plan::Handoff(_) | Plan::Rate(_) | Plan::OptOut | Plan::Orders(_)) | (None, _) => {
                    state.awaiting = None;
                    state.verify = None;
                }
                (Some(number), _) => return self.check_proof(&number, text, state, out, now).await,
            }
        }
        match &d.plan {
            Plan::Rate(score) => {
                out.action = Some(Action::Rated);
                out.rating = Some(*score);
                out.parts.push(bot::rated(*score));
                *state = State::default();
            }
            Plan::Handoff(reason) => self.hand_off(*reason, None, out, now),
            Plan::Orders(numbers) => {
                let mut found = Vec::new();
                let mut missing = Vec::new();
                for n in numbers.iter().take(3) {
                    match self.orders.find(n).await {
                        Ok(Some(f)) => found.push(f),
                        Ok(None) => missing.push(n.clone()),
                        Err(e) => {
                            tracing::warn!(error = %e, "order lookup failed");
                            missing.push(n.clone());
                        }
                    }
                }
                if out.settings.verify_by_item
                    && let Some(f) = found.iter().find(|f| !is_linked(&f.order, linked) && !f.order.items.is_empty())
                {
                    // Shown by number only: ask for proof before anything about it is said.
                    state.verify = Some(f.order.number.clone());
                    state.awaiting = Some(Awaiting::Verification);
                    out.action = Some(Action::Clarify);
                    out.parts.push(bot::verify_order(&f.order.number, f.order.phone.is_some()));
                    return Ok(());
                }
                if found.is_empty() {
                    let number = missing.first().cloned().unwrap_or_default();
                    if state.not_found.as_deref() == Some(number.as_str()) {
                        // The same number again: the buyer is sure of it, the marketplace does
                        // not know it. A person checks.
                        self.hand_off(HandoffReason::Dispute, None, out, now);
                        *state = State::default();
                        return Ok(());
                    }
                    state.not_found = Some(number.clone());
                    self.miss(state, out, bot::order_not_found(&number), now);
                    if out.action == Some(Action::Clarify) {
                        state.awaiting = Some(Awaiting::OrderNumber);
                    }
                } else {
                    self.answer_orders(&found, &missing, state, out, now);
                    if out.action == Some(Action::Answer) {
                        self.also_knowledge(d, text, pending_question.as_deref(), state, out).await?;
                    }
                }
            }
            Plan::KnownOrders => {
                // The marketplace, item or pick-up point the buyer names chooses among their orders.
                let (meant, narrowed) = answer::meant_orders(linked, text);
                let named = crate::kb::compose::Marketplace::named_in(text).map(|m| m.market());
                // The order discussed last, unless an item or the pick-up point chose another.
                let last = state
                    .last_order
                    .clone()
                    .filter(|n| !narrowed && named.is_none_or(|m| crate::marketplace::Market::of_number(n) == m));
                let number = last.or_else(|| match meant.as_slice() {
                    [one] => Some(one.number.clone()),
                    _ => None,
                });
                match number {
                    Some(n) => match self.orders.find(&n).await {
                        Ok(Some(f)) => {
                            self.answer_orders(&[f], &[], state, out, now);
                            if out.action == Some(Action::Answer) {
                                self.also_knowledge(d, text, pending_question.as_deref(), state, out).await?;
                            }
                        }
                        _ => self.ask_number(state, out, bot::ASK_ORDER_NUMBER.into()),
                    },
                    None => {
                        let shown: Vec<&Order> = if meant.is_empty() { linked.iter().collect() } else { meant };
                        let list: Vec<String> = shown.into_iter().take(5).map(answer::order_line).collect();
                        out.facts.extend(list.iter().cloned());
                        self.ask_number(state, out, bot::which_order(&list.join("\n")));
                    }
                }
            }
            Plan::AskOrderNumber { phone } => {
                let ask = if *phone { bot::PHONE_IS_NOT_ENOUGH } else { bot::ASK_ORDER_NUMBER };
                self.ask_number(state, out, ask.into());
                state.pending_intent = Some(analysis.intent);
                state.pending_question = policy::rule_question(text);
                if ChannelName::parse(&conv.channel).is_some_and(|c| registry::of(c).phone_request) {
                    out.parts.push(bot::OR_SHARE_PHONE.into());
                    out.request_phone = true;
                }
            }
            Plan::Knowledge(intent) => {
                let earlier = if was_awaiting_number || !policy::continues_previous(text) {
                    None
                } else {
                    self.earlier_question(last_question, conv.id).await?
                };
                // "а на озоне?" after a question about WB is that question, asked of Ozon.
                let switched = earlier.as_deref().and_then(|e| policy::ask_of_other_marketplace(e, text));
                let (question, earlier) = match &switched {
                    Some(q) => (q.as_str(), None),
                    None => (text, earlier),
                };
                let market = state
                    .last_order
                    .as_deref()
                    .filter(|_| switched.is_none())
                    .map(|n| crate::marketplace::Market::of_number(n).title());
                // The intent's search words are added by `answer_knowledge`, per question.
                let context: Vec<&str> = [earlier.as_deref(), market].into_iter().flatten().collect();
                let context = (!context.is_empty()).then(|| context.join(" "));
                let asked = match &earlier {
                    Some(e) => format!("{e}, {question}"),
                    None => question.to_owned(),
                };
                if self.answer_knowledge(*intent, question, context, d.injection, conv, state, out).await? {
                    state.last_question =
                        Some(crate::kb::analyzer::prefix(&asked, crate::nlu::MAX_TEXT_CHARS).to_owned());
                } else {
                    self.miss(state, out, bot::NO_ANSWER.into(), now);
                }
            }
            Plan::Greeting => {
                out.action = Some(Action::Answer);
                out.parts.push(bot::greeting(&out.settings.shop_name, out.settings.formal));
            }
            Plan::Thanks => {
                if out.settings.ask_rating && state.answered > 0 {
                    out.action = Some(Action::Close);
                    out.parts.push(bot::ASK_RATING.into());
                    out.buttons = rating_buttons();
                    state.awaiting = Some(Awaiting::Rating);
                } else {
                    out.action = Some(Action::Answer);
                    out.parts.push(bot::YOU_ARE_WELCOME.into());
                }
            }
            Plan::NotUnderstood => self.miss(state, out, bot::NOT_UNDERSTOOD.into(), now),
            Plan::OptOut => {
                out.action = Some(Action::Answer);
                out.opt_out = true;
                out.parts.push(bot::OPTED_OUT.into());
            }
        }
        if out.action == Some(Action::Answer) && !matches!(d.plan, Plan::Greeting | Plan::Thanks | Plan::OptOut) {
            state.misses = 0;
            state.answered += 1;
        }
        Ok(())
    }

    /// The buyer's answer to "what is in order `number`?": the order is shown and linked when
    /// it names an item (or its article, or the phone's last four digits); otherwise ask again,
    /// and after `max_misses` a person takes over.
    pub(super) async fn check_proof(
        &self,
        number: &str,
        text: &str,
        state: &mut State,
        out: &mut Draft,
        now: i64,
    ) -> Result<(), EngineError> {
        let found = match self.orders.find(number).await {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(error = %e, "order lookup failed");
                None
            }
        };
        match found {
            Some(f) if proves(&f.order, text) => {
                state.verify = None;
                self.answer_orders(&[f], &[], state, out, now);
                state.misses = 0;
                state.answered += 1;
            }
            _ => {
                self.miss(state, out, bot::VERIFY_FAILED.into(), now);
                if out.action == Some(Action::Clarify) {
                    state.awaiting = Some(Awaiting::Verification);
                    state.verify = Some(number.to_owned());
                }
            }
        }
        Ok(())
    }

    pub(super) fn hand_off(&self, reason: HandoffReason, order: Option<&str>, out: &mut Draft, now: i64) {
        let when = out.settings.hours.promise(now);
        out.action = Some(Action::Handoff);
        out.handoff = Some(reason);
        out.parts.clear();
        out.parts.push(match (reason, order) {
            (HandoffReason::Dispute, _) => bot::handoff_dispute(&when),
            (_, Some(n)) => bot::handoff_order(n, &when),
            (_, None) => bot::handoff(&when),
        });
    }

    /// The assistant could not help: ask once more, or hand over after `max_misses`.
    pub(super) fn miss(&self, state: &mut State, out: &mut Draft, question: String, now: i64) {
        state.misses += 1;
        if state.misses >= out.settings.max_misses {
            self.hand_off(HandoffReason::RepeatedFailure, None, out, now);
            *state = State::default();
        } else {
            out.action = Some(Action::Clarify);
            out.parts.push(question);
        }
    }

    pub(super) fn ask_number(&self, state: &mut State, out: &mut Draft, question: String) {
        out.action = Some(Action::Clarify);
        out.parts.push(question);
        state.awaiting = Some(Awaiting::OrderNumber);
    }

    pub(super) fn answer_orders(
        &self,
        found: &[Found],
        missing: &[String],
        state: &mut State,
        out: &mut Draft,
        now: i64,
    ) {
        let offset = out.settings.utc_offset_minutes;
        for f in found {
            out.orders.push(OrderRef {
                market: Some(f.order.market),
                number: f.order.number.clone(),
                status: f.order.status,
                source: Some(f.source),
                stale_since: f.stale_since,
            });
            out.link.push(f.order.clone());
        }
        if let Some(problem) = found.iter().find(|f| f.order.status == OrderStatus::Problem) {
            self.hand_off(HandoffReason::OrderProblem, Some(&problem.order.number), out, now);
            *state = State::default();
            return;
        }
        for f in found {
            let mut text = answer::order(&f.order, f.stale_since, now, offset);
            if let Some(r) = answer::returns(&f.returns, offset) {
                text.push('\n');
                text.push_str(&r);
            }
            out.facts.push(text.clone());
            out.parts.push(text);
        }
        for n in missing {
            out.parts.push(bot::order_not_found(n));
        }
        out.action = Some(Action::Answer);
        state.last_order = found.last().map(|f| f.order.number.clone());
        state.not_found = None;
        state.awaiting = None;
        state.pending_intent = None;
    }
}

/// The 1–5 rating as one row of buttons.
pub(super) fn rating_buttons() -> Vec<Vec<String>> {
    vec![(1..=5).map(|n| n.to_string()).collect()]
}

fn is_linked(order: &Order, linked: &[Order]) -> bool {
    linked.iter().any(|l| l.market == order.market && l.number == order.number)
}

/// Whether `text` shows the buyer knows what is in `order`: an item's article, a word of an
/// item's name (compared by its first five letters, so "футболку" meets "Футболка"), or the
/// last four digits of the order's phone.
fn proves(order: &Order, text: &str) -> bool {
    let lower = text.to_lowercase();
    let stem = |w: &str| w.chars().take(5).collect::<String>();
    let said: Vec<String> =
        lower.split(|c: char| !c.is_alphanumeric()).filter(|w| w.chars().count() >= 4).map(stem).collect();
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let by_phone = order.phone.as_deref().is_some_and(|p| {
        let p: String = p.chars().filter(char::is_ascii_digit).collect();
        p.len() >= 4 && digits == p[p.len() - 4..]
    });
    by_phone
        || order.items.iter().any(|i| {
            let article = i.article.to_lowercase();
            (article.chars().count() >= 3 && lower.contains(&article))
                || i.name
                    .to_lowercase()
                    .split(|c: char| !c.is_alphanumeric())
                    .filter(|w| w.chars().count() >= 4 && !w.chars().all(|c| c.is_ascii_digit()))
                    .any(|w| said.contains(&stem(w)))
        })
}
