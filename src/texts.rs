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
