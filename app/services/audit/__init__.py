"""What auditors use: the timeline, path and export of a case's trail (trail), rebuilding a case's state at any event
from its audit log (replay), and replay verification against the stored state (verification).
"""
