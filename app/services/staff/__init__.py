"""Staff use cases that touch people's work: signing in (local or directory accounts), deactivating an account
and absences, whose claimed tasks go back to their group or to a delegate under each case's lock, on each
case's audit trail. Sits above tasks (it moves task rows) and people (it changes accounts).
"""
