"""Indicators over a period and filters (figures), read from the rollup and indexed columns, never from workflows; CSV
exports; French labels of indicator keys read from the deployed forms.
"""
