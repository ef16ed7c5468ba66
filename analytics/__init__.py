"""Cadence analytics: the data contract, the DuckDB store, metrics and statistics.

Pure Python and SQL; never imports Streamlit. The dashboard, the CLI and the notebook call it.
"""

__version__ = "0.1.0"
