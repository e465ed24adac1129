"""Personal data (RGPD): finding a person's cases, the subject-access archive, erasure and anonymisation on
request or at the end of the retention period (legal holds excepted), and the access log of who displayed what.
The trail stays verifiable through erasure: personal values enter it sealed with a per-case key
(core.personal, app/models/privacy.py) that erasure destroys.
"""
