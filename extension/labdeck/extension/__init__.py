"""The jupyter_server extension: REST handlers over the backend services."""
