// Every word the panel shows people for a code of the server: channels, authors, statuses,
// reasons, intents, the bot's decisions, audit actions, error codes. One place, so the list,
// the thread and the settings say the same thing (tests/e2e/russian.test.mjs checks that no
// Latin-only label reaches the screen).
"use strict";

(function () {
  const CHANNELS = {
    telegram: "Telegram", telegram_business: "Telegram Business", whatsapp: "WhatsApp", vk: "ВКонтакте",
    widget: "Сайт", api: "API", wb_questions: "Wildberries", ozon_chat: "Ozon", cli: "Терминал", eval: "Проверка",
  };
  // "Покупатель из Telegram №12": the channel in the genitive with its preposition.
  const FROM_CHANNEL = {
    telegram: "из Telegram", telegram_business: "из Telegram", whatsapp: "из WhatsApp", vk: "из ВКонтакте",
    widget: "с сайта", api: "из API", wb_questions: "с Wildberries", ozon_chat: "с Ozon", cli: "из терминала", eval: "из проверки",
  };
  const AUTHORS = { buyer: "Покупатель", bot: "Бот", operator: "Оператор", system: "Система" };
  const ORDER_STATUSES = {
    new: "оформлен", assembled: "собран", in_transit: "в пути", ready_for_pickup: "в пункте выдачи",
    delivered: "получен", cancelled: "отменён", problem: "требует проверки",
  };
  const RETURNS = {
    review: "на рассмотрении", approved: "одобрен", rejected: "отказ", in_transit: "едет продавцу",
    done: "завершён", cancelled: "отменён",
  };
  const REASONS = {
    requested: "попросил человека", negative: "недоволен", human_only: "тема для людей", repeated_failure: "бот не справился",
    order_problem: "проблема с заказом", processing_failed: "не удалось обработать", takeover: "взят оператором",
    approval: "черновик на проверку", licence: "бот приостановлен: лицензия истекла", seller: "продавец ответил сам",
    dispute: "спорит со статусом", other: "другое",
  };
  const INTENTS = {
    order_status: "где заказ", return_request: "возврат", exchange: "обмен", cancel_order: "отмена заказа",
    delivery_time: "сроки доставки", payment: "оплата", promo: "скидки и промокоды", product_info: "вопрос о товаре",
    size: "размер", complaint: "жалоба", greeting: "приветствие", thanks: "благодарность", human_request: "просит человека", other: "другое",
  };
  const ACTIONS = {
    answer: "ответить", clarify: "уточнить", handoff: "передать человеку", close: "закрыть", rated: "оценка принята", silent: "промолчать", notify: "уведомление о заказе",
  };
  const SENTIMENTS = { positive: "доволен", neutral: "спокоен", negative: "недоволен", angry: "злится" };
  const AUDIT = {
    "auth.login": "вход", "auth.logout": "выход", "auth.login_failed": "неудачный вход", "auth.login_throttled": "вход приторможен после ошибок",
    "user.create": "новый пользователь", "user.disable": "пользователь отключён", "user.enable": "пользователь включён",
    "user.password": "смена пароля", "user.role": "смена роли", "user.reset_link": "ссылка для сброса пароля",
    "token.create": "новый API-токен", "token.revoke": "API-токен отозван",
    "credential.set": "ключ сохранён", "credential.delete": "ключ удалён",
    "settings.assistant": "настройки магазина и бота", "settings.widget": "настройки виджета", "settings.models": "настройки моделей",
    "settings.reports": "отчёты по почте", "profile.alerts": "оповещения оператора", "model.install": "установка модели",
    "channel.telegram.update": "настройки Telegram", "channel.whatsapp.update": "настройки WhatsApp", "channel.vk.update": "настройки ВКонтакте",
    "licence.install": "установлена лицензия", "privacy.erase": "удалены данные покупателя", "privacy.export": "выгружены данные покупателя",
    "backup.create": "резервная копия", "backup.restore": "восстановление из копии", "kb.import": "импорт базы знаний", "kb.article.delete": "статья удалена",
  };
  const ERRORS = {
    network: "Нет связи с сервером. Проверьте интернет и попробуйте ещё раз.",
    unauthenticated: "Сессия закончилась: войдите снова.", invalid_token: "Сессия закончилась: войдите снова.",
    forbidden: "Недостаточно прав для этого действия.", csrf_failed: "Страница устарела: обновите её.",
    not_found: "Не найдено: возможно, уже удалено.", timeout: "Сервер не ответил вовремя, попробуйте ещё раз.",
    internal: "Ошибка на сервере; подробности — в журнале сервера.", plan_limit: "Не входит в ваш тариф.",
    payload_too_large: "Слишком большой файл или текст.", too_many_requests: "Слишком много попыток, подождите немного.",
    busy: "Уже выполняется, дождитесь конца.", llm_unavailable: "Ни одна модель сейчас не отвечает.",
    origin_not_allowed: "Этот сайт не в списке разрешённых для виджета.",
    invalid_credentials: "Неверная почта или пароль.",
    too_many_attempts: "Слишком много попыток. Подождите и попробуйте снова.",
    account_disabled: "Учётная запись отключена. Обратитесь к администратору.",
    email_not_configured: "Отправка писем не настроена. Попросите администратора выдать ссылку для сброса.",
    reset_token_used: "Эта ссылка уже использована. Запросите новую.",
    reset_token_expired: "Срок действия ссылки истёк. Запросите новую.",
    invalid_reset_token: "Ссылка недействительна.",
    wrong_password: "Текущий пароль введён неверно.",
  };
  const STEPS = {
    model: "Языковая модель", embeddings: "Смысловой поиск", telegram: "Telegram-бот", marketplaces: "Маркетплейсы",
    widget: "Виджет на сайте", test_conversation: "Проверочный разговор",
  };
  const ALERT_KINDS = { handoff: "передан людям", overdue: "вопрос ждёт", failed: "не доставлено" };
  const ALERT_STATUSES = { pending: "отправляется", sent: "отправлено", failed: "ошибка", quiet: "тихие часы" };
  const ROUTES = { telegram: "Telegram", email: "почта" };

  const label = (map, code) => (code in map ? map[code] : code);
  const hasCyrillic = (s) => /[а-яё]/i.test(s);

  // A readable name for a buyer the channel gave no name for.
  function buyerName(name, channel, customerId) {
    if (name && name.trim()) return name.trim();
    return "Покупатель " + (FROM_CHANNEL[channel] || "без имени") + (customerId ? " №" + customerId : "");
  }

  // One status for a conversation, the same in the list and in the thread. `triage` (the
  // list's facts) says whether the buyer waits for a person's reply.
  function conversationState(c, triage) {
    const t = triage || c.triage;
    const waits = t ? Boolean(t.waiting_since) : c.unanswered > 0;
    if (c.status === "closed") return { key: "closed", text: "Закрыт" };
    if (c.handled_by === "operator") {
      if (c.handoff_reason === "approval") return { key: "approval", text: "Черновик на проверку" };
      return waits ? { key: "waiting", text: "Ждёт человека" } : { key: "operator", text: "У оператора" };
    }
    return { key: "bot", text: "Ведёт бот" };
  }

  // An error for people: the server's Russian message, or the code's Russian text.
  function errorText(err) {
    if (!err) return "";
    const msg = String(err.message || "");
    if (err.code && ERRORS[err.code] && !hasCyrillic(msg)) return ERRORS[err.code];
    if (!hasCyrillic(msg)) {
      return (ERRORS[err.code] || "Не получилось") + (msg && err.code !== "network" ? " (" + msg + ")" : "");
    }
    return msg;
  }

  // "5 мин", "2 ч 10 мин", "3 дн."
  function waited(ms) {
    const m = Math.max(0, Math.floor(ms / 60000));
    if (m < 1) return "меньше минуты";
    if (m < 60) return m + " мин";
    const h = Math.floor(m / 60);
    if (h < 24) return h + " ч" + (m % 60 ? " " + (m % 60) + " мин" : "");
    return Math.floor(h / 24) + " дн.";
  }

  window.supportdLabels = {
    CHANNELS, AUTHORS, ORDER_STATUSES, RETURNS, REASONS, INTENTS, ACTIONS, SENTIMENTS, AUDIT, ERRORS, STEPS,
    ALERT_KINDS, ALERT_STATUSES, ROUTES, label, buyerName, conversationState, errorText, waited, hasCyrillic,
  };
})();
