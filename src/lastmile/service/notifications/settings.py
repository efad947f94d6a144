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
    sms_gateway: Literal["log", "http", "smpp"] = Field(
        default="log",
        description="How SMS leave: log (written to the service log, lastmile.sms), http "
        "(a provider's HTTP API, LASTMILE_SMS_HTTP_*) or smpp (an SMSC, LASTMILE_SMPP_*).",
    )
    sms_from: str = Field(
        default="", max_length=21, description="The sender number or name texts carry."
    )
    sms_timeout_s: float = Field(default=10.0, gt=0, description="Per request to the gateway.")
    sms_workers: int = Field(
        default=4, ge=1, description="Texts handed to the gateway at once (per process)."
    )
    sms_max_attempts: int = Field(default=6, ge=1, description="Attempts per text.")
    sms_backoff_s: float = Field(
        default=30.0, ge=0, description="Wait before a text's 2nd attempt; doubles each time."
    )
    sms_backoff_max_s: float = Field(
        default=1800.0, ge=0, description="The longest wait between a text's attempts."
    )
    sms_gateway_allow: str = Field(
        default="",
        description="Internal addresses the HTTP gateway may be at (CIDRs and host names, "
        "as LASTMILE_WEBHOOK_ALLOW; public addresses need nothing).",
    )
    sms_http_url: str = Field(default="", description="The HTTP gateway's send URL.")
    sms_http_method: Literal["POST", "GET", "PUT"] = Field(
        default="POST", description="Its HTTP method (GET sends the fields in the query)."
    )
    sms_http_auth_header: str = Field(
        default="", description="A header sent with each request, 'Name: value'."
    )
    sms_http_username: str = Field(default="", description="HTTP basic user (empty: none).")
    sms_http_password: str = Field(default="", description="HTTP basic password.")
    sms_http_body: str = Field(
        default='{"to": "{to}", "text": "{text}", "reference": "{reference}"}',
        description="The request body: {to}, {text}, {reference} and {from} are replaced.",
    )
    sms_http_body_format: Literal["json", "form"] = Field(
        default="json", description="Send the body as JSON or as a form (a=b&c=d)."
    )
    sms_http_id_path: str = Field(
        default="id",
        description="Where the answer's JSON has the message's id (dotted: messages.0.id).",
    )
    sms_callback_secret: str = Field(
        default="",
        description="The secret in the status callback URL, /sms/status/<secret> "
        "(empty: status callbacks are refused).",
    )
    sms_callback_hmac_header: str = Field(
        default="",
        description="When set, status callbacks must also carry this header with the "
        "hex HMAC-SHA256 of the body under LASTMILE_SMS_CALLBACK_SECRET.",
    )
    sms_status_id_path: str = Field(default="id", description="Callback: the message id.")
    sms_status_reference_path: str = Field(
        default="reference", description="Callback: our reference, when echoed."
    )
    sms_status_path: str = Field(default="status", description="Callback: the status word.")
    sms_status_error_path: str = Field(default="error", description="Callback: the error.")
    sms_status_delivered: str = Field(
        default="delivered,DELIVRD,success",
        description="Status words meaning delivered (comma-separated, any case).",
    )
    sms_status_failed: str = Field(
        default="failed,undelivered,UNDELIV,rejected,REJECTD,expired,deleted,error",
        description="Status words meaning failed (comma-separated, any case).",
    )
    sms_inbound_from_path: str = Field(default="from", description="Inbound: the sender.")
    sms_inbound_text_path: str = Field(default="text", description="Inbound: the text.")
    sms_inbound_to_path: str = Field(default="to", description="Inbound: the number texted.")
    smpp_host: str = Field(default="", description="The SMSC's host.")
    smpp_port: int = Field(default=2775, gt=0, lt=65536, description="The SMSC's port.")
    smpp_system_id: str = Field(default="", max_length=16, description="SMPP system_id.")
    smpp_password: str = Field(default="", max_length=9, description="SMPP password.")
    smpp_system_type: str = Field(default="", max_length=13, description="SMPP system_type.")
    smpp_source_ton: int = Field(
        default=5, ge=0, le=6, description="Type of number of sms_from (5: alphanumeric)."
    )
    smpp_source_npi: int = Field(default=0, ge=0, le=18, description="Its numbering plan.")
    smpp_dest_ton: int = Field(
        default=1, ge=0, le=6, description="Type of number of customers' phones (1: international)."
    )
    smpp_dest_npi: int = Field(
        default=1, ge=0, le=18, description="Their numbering plan (1: E.164)."
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

    @field_validator("webhook_allow", "sms_gateway_allow")
    @classmethod
    def _allow(cls, value: str) -> str:
        Allow.parse(value)
        return value

    def allow(self) -> Allow:
        """The webhook allow-list, parsed."""
        return Allow.parse(self.webhook_allow)
