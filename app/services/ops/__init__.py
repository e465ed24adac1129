"""Operations: health and readiness checks.
"""
