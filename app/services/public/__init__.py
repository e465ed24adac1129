"""Complainants without an account: the public intake form, the tracking page, additions and the satisfaction survey,
and the files they send.
"""
