"""change_control page (under construction)."""

import streamlit as st

st.title("change_control")
