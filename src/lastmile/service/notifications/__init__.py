"""Customer notifications (e-mail over SMTP, SMS through a provider), webhooks
signed with HMAC-SHA256 and retried with backoff, and customer replies through
the tracking link."""
