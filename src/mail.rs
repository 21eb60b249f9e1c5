//! Outgoing e-mail over an SMTP relay (password-reset links, licence warnings, scheduled
//! reports with their PDF).

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{SmtpConfig, SmtpTls};

#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("from", &self.from.to_string()).finish_non_exhaustive()
    }
}

impl Mailer {
    /// `None` when no relay is configured.
    pub fn from_config(cfg: &SmtpConfig) -> Result<Option<Self>, String> {
        if !cfg.enabled() {
            return Ok(None);
        }
        let from: Mailbox = cfg.from.parse().map_err(|e| format!("smtp.from {:?}: {e}", cfg.from))?;
        let builder = match cfg.tls {
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&cfg.host),
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&cfg.host)
                .map_err(|e| format!("smtp.host {:?}: {e}", cfg.host))?,
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&cfg.host)
                .map_err(|e| format!("smtp.host {:?}: {e}", cfg.host))?,
        };
        let mut builder = builder.port(cfg.port).timeout(Some(std::time::Duration::from_secs(cfg.timeout_secs)));
        if !cfg.username.is_empty() {
            builder = builder.credentials(Credentials::new(cfg.username.clone(), cfg.password.expose().to_owned()));
        }
        Ok(Some(Self { transport: builder.build(), from }))
    }

    pub async fn send(&self, to: &str, subject: &str, body: String) -> Result<(), String> {
        let to: Mailbox = to.parse().map_err(|e| format!("recipient: {e}"))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| e.to_string())?;
        self.transport.send(message).await.map(|_| ()).map_err(|e| e.to_string())
    }

    /// One message to several recipients with a file attached (a scheduled report's PDF).
    pub async fn send_with_attachment(
        &self,
        to: &[String],
        subject: &str,
        body: String,
        file_name: &str,
        mime: &str,
        data: Vec<u8>,
    ) -> Result<(), String> {
        use lettre::message::{Attachment, MultiPart, SinglePart};
        let mut builder = Message::builder().from(self.from.clone()).subject(subject);
        for r in to {
            builder = builder.to(r.parse::<Mailbox>().map_err(|e| format!("recipient {r:?}: {e}"))?);
        }
        let kind = ContentType::parse(mime).map_err(|e| format!("content type {mime:?}: {e}"))?;
        let message = builder
            .multipart(
                MultiPart::mixed()
                    .singlepart(SinglePart::plain(body))
                    .singlepart(Attachment::new(file_name.to_owned()).body(data, kind)),
            )
            .map_err(|e| e.to_string())?;
        self.transport.send(message).await.map(|_| ()).map_err(|e| e.to_string())
    }
}
