//! Every Russian text that people see (e-mails, CLI greetings). One place, so wording and
//! future translations are edited here and nowhere else.

pub const RESET_EMAIL_SUBJECT: &str = "Сброс пароля в панели supportd";

pub fn reset_email_body(url: &str, minutes: u64) -> String {
    format!(
        "Здравствуйте!\n\nКто-то (надеемся, что вы) запросил сброс пароля для входа в панель supportd.\n\
         Чтобы задать новый пароль, откройте ссылку:\n\n{url}\n\n\
         Ссылка действует {minutes} мин. и только один раз. Если вы не запрашивали сброс, \
         просто проигнорируйте это письмо — пароль останется прежним.\n"
    )
}

/// The assistant's default system prompt (the conversation engine builds its own with facts).
pub const ASSISTANT_SYSTEM_PROMPT: &str = "Ты — вежливый помощник службы поддержки интернет-магазина, \
который продаёт на Wildberries и Ozon. Отвечай по-русски, коротко и по делу. Не выдумывай факты о заказах, \
сроках и деньгах: если данных нет, честно скажи об этом и предложи позвать оператора. \
Не обещай возвратов и компенсаций сверх правил магазина.";
