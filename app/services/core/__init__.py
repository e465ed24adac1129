"""What every use case shares: the transaction helper, the audit log, the case row lock, process definitions, service-
task handlers, deadline rules and calendar, the indicator rollup kept by the session, SQL helpers and the service
errors.

Nothing here imports another service package: it is the bottom layer.
"""
