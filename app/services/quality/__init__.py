"""The CAPA register (corrective and preventive actions): create, edit, change status, link complaints, measure
recurrence after completion.
"""
