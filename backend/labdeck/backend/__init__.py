"""The labdeck backend: models, migrations, services, permissions and notifications.

It imports nothing of the extension, kernel or widgets layers; every rule of the
product lives here so that the REST API, the notebook forms and the kernel all
enforce the same ones.
"""
