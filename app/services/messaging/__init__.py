"""Messages: letters and e-mails to complainants written into the outbox by the step that sends them, the outbox sender
(SMTP, letters to print), and staff notifications.
"""
