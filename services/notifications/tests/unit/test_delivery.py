import ssl

import pytest
from pydantic import ValidationError

from notifications.delivery import backoff, describe, is_permanent
from notifications.settings import NotificationsSettings
from notifications.smtp import SmtpDisconnected, SmtpError


@pytest.mark.parametrize(
    ("error", "permanent"),
    [
        (SmtpError(550, "5.1.1 no such mailbox", "RCPT"), True),
        (SmtpError(554, "5.7.1 message refused", "end of DATA"), True),
        (SmtpError(451, "4.3.0 try again later", "end of DATA"), False),
        (SmtpError(421, "4.7.0 closing", "MAIL"), False),
        # a session that cannot be set up is about the relay or the configuration: the mail waits
        (SmtpError(535, "5.7.8 bad credentials", "AUTH"), False),
        (SmtpError(502, "the relay does not offer STARTTLS", "STARTTLS"), False),
        (ConnectionRefusedError(111, "Connection refused"), False),
        (SmtpDisconnected("closed"), False),
        (TimeoutError(), False),
        (ssl.SSLCertVerificationError("hostname mismatch"), False),
    ],
)
def test_only_a_refusal_of_the_mail_itself_is_permanent(error: BaseException, permanent: bool):
    assert is_permanent(error) is permanent
    assert describe(error)


def test_the_delay_doubles_up_to_its_maximum_with_jitter():
    settings = NotificationsSettings(mail_retry_base_delay_seconds=30, mail_retry_max_delay_seconds=600)
    for attempts, full in [(1, 30), (2, 60), (3, 120), (5, 480), (6, 600), (20, 600)]:
        delays = [backoff(settings, attempts) for _ in range(200)]
        assert all(full / 2 <= d <= full for d in delays), attempts
        assert max(delays) - min(delays) > full / 10, "spread, so deferred mails do not all come back at once"


def test_a_lease_must_outlast_a_batch_of_timeouts():
    with pytest.raises(ValidationError, match="CHORUS_MAIL_LEASE_SECONDS must exceed"):
        NotificationsSettings(
            mail_send_batch=64, smtp_connections=8, smtp_timeout_seconds=10, mail_lease_seconds=60
        )
    assert NotificationsSettings().mails_a_crash_can_repeat == NotificationsSettings().smtp_connections
