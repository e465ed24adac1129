"""The mailbox: incoming e-mail read over IMAP becomes cases, threaded replies, recorded automatic replies,
applied delivery reports or quarantined mail, exactly once (the ingested_mail table), and the mailbox is only
changed after the transaction commits. It opens cases through the public intake rules, so it sits above
`public` in the layers.
"""
