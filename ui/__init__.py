"""Streamlit-side helpers for the dashboard: sidebar and URL state, cached queries, widgets.

Everything that computes lives in :mod:`analytics`; this package only wires it to Streamlit.
"""
