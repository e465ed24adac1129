"""Deadline clocks of a case: started, paused and resumed by steps (the case_clock table), timers held while a clock is
paused.

The pure rules (properties, due-date arithmetic) live in core.deadline_rules and core.calendar.
"""
