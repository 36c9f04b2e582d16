"""Notebook UI: ipywidgets forms over backend services and Plotly charts."""
