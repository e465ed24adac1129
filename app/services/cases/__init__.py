"""Case use cases: start, complete a task, fire timers, deliver messages (lifecycle), staff intake with duplicate
detection, attachments and comments (notes), the case pages' read models (view), case search, the incident list,
and the reply composer (replies).
"""
