"""Task rows: claim, release, reassign, bulk actions and drafts (actions), the task list with its tabs, filters and
counts (task_list), and the breach forecast of open tasks (forecast).

Reads the indexed task table only: a workflow is never deserialized here.
"""
