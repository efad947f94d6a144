"""Notification settings, read from ``LASTMILE_*`` environment variables.

Set ``app.state.notify_settings`` before the app starts to override them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from lastmile.service.notifications.guard import Allow


class NotifySettings(BaseSettings):
    """Each field maps to ``LASTMILE_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="LASTMILE_", env_file=".env", extra="ignore")

    notify_customers: bool = Field(
        default=True, description="Send customers e-mails and SMS at dispatch, on the way, ..."
    )
    smtp_host: str = Field(default="", description="SMTP server; empty: no e-mail is sent.")
    smtp_port: int = Field(default=587, gt=0, description="SMTP port.")
    smtp_username: str = Field(default="", description="SMTP login (empty: none).")
    smtp_password: str = Field(default="", description="SMTP password.")
    smtp_starttls: bool = Field(default=True, description="Upgrade the connection with STARTTLS.")
    smtp_from: str = Field(default="lastmile@localhost", description="Sender address.")
    smtp_timeout_s: float = Field(default=10.0, gt=0, description="SMTP connection timeout.")
    sms_provider: Literal["log"] = Field(
        default="log", description="SMS gateway; log: write messages to the service log."
    )
    eta_window_s: int = Field(
        default=7200,
        ge=0,
        description="Widest range told to customers for the start of service (twice the "
        "largest margin; the margin grows from 10 minutes with how far ahead it is).",
    )
    delay_renotify_s: int = Field(
        default=1800, ge=0, description="Tell a late customer again when the ETA slips this much."
    )
    delay_scan_s: float = Field(default=60.0, gt=0, description="How often delays are looked for.")
    notify_poll_s: float = Field(
        default=2.0, gt=0, description="How often queued messages and webhooks are sent."
    )
    notify_max_attempts: int = Field(
        default=5, ge=1, description="Attempts at sending one customer message."
    )
    webhook_timeout_s: float = Field(default=10.0, gt=0, description="Per webhook call.")
    webhook_allow: str = Field(
        default="",
        description="Internal receivers permitted on purpose: CIDRs and host names, "
        "comma-separated (webhooks to loopback, private, link-local and other non-public "
        "addresses are refused otherwise).",
    )
    webhook_workers: int = Field(
        default=16, ge=1, description="Webhook calls in flight at once (per process)."
    )
    webhook_per_endpoint: int = Field(
        default=2,
        ge=1,
        description="Webhook calls in flight at once to one endpoint (per process): a slow "
        "receiver only delays itself.",
    )
    webhook_max_attempts: int = Field(default=8, ge=1, description="Attempts per webhook event.")
    webhook_backoff_s: float = Field(
        default=30.0, ge=0, description="Wait before the 2nd attempt; doubles after each failure."
    )
    webhook_backoff_max_s: float = Field(
        default=3600.0, ge=0, description="The longest wait between attempts."
    )

    @field_validator("webhook_allow")
    @classmethod
    def _allow(cls, value: str) -> str:
        Allow.parse(value)
        return value

    def allow(self) -> Allow:
        """The webhook allow-list, parsed."""
        return Allow.parse(self.webhook_allow)
