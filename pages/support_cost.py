"""support_cost page (under construction)."""

import streamlit as st

st.title("support_cost")
