"""Staff accounts: users, groups (the BPMN lanes), passwords and API tokens.
"""
