"""Messages: letters and e-mails to complainants written into the outbox by the step that sends them, from
message templates kept as versioned rows and rendered in a Jinja sandbox (templates, template_editing), the
safe HTML subset of staff text (rendering), letters laid out as PDF (letters), the outbox sender (SMTP,
letters to print, proof of sending), and staff notifications.
"""
