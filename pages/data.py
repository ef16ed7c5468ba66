"""data page (under construction)."""

import streamlit as st

st.title("data")
