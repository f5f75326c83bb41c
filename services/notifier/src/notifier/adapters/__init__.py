"""notifier's adapters: notification records, SMTP, the SMS gateway."""
