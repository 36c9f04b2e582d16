"""The labdeck part of a Hub's jupyterhub_config.py, as docs/hub.md and the
README show it and as tests/hub runs it: one text, so the documented
configuration is the tested one (test_docs_show_the_tested_configuration)."""

from __future__ import annotations

# What the docs fill in: a Hub at https://hub.example.org.
DOC_VALUES = {
    "service_port": 10101,
    "database_url": "postgresql+psycopg://labdeck:secret@db.internal/labdeck",
    "storage_url": "file:///srv/labdeck/storage",
    "public": "https://hub.example.org",
}


def labdeck_excerpt(service_port: int, database_url: str, storage_url: str, public: str) -> str:
    service_url = f"{public}/services/labdeck/"
    return f'''import sys

# labdeck: one service owns the database; users' servers and kernels are its clients.
c.JupyterHub.services = [
    {{
        "name": "labdeck",
        "url": "http://127.0.0.1:{service_port}",
        "command": [sys.executable, "-m", "labdeck.cli", "serve"],
        "environment": {{
            "LABDECK_DATABASE_URL": "{database_url}",
            "LABDECK_STORAGE_URL": "{storage_url}",
            "LABDECK_PUBLIC_URL": "{service_url}",
            # Processes serving it on its one address (docs/hub.md, "Scale").
            "LABDECK_SERVE_WORKERS": "2",
        }},
    }}
]
c.JupyterHub.load_roles = [
    # Every user may use the service, and so may their servers' tokens.
    {{"name": "user", "scopes": ["self", "access:services!service=labdeck"]}},
]
c.Spawner.server_token_scopes = [
    "access:services!service=labdeck",
    "users:activity!user",
    "access:servers!server",
]
c.Spawner.environment = {{"LABDECK_SERVICE_URL": "{service_url}"}}
'''
