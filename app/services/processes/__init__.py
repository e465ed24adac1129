"""Process owners' use cases: drafts, validation before deploy, deployment and version history (admin), comparison of
versions with the impact on running cases (compare), and the migration of running cases to another version.
`dataflow` tells, in one linear pass, which variables can be written before each element (validation's timers).
"""
