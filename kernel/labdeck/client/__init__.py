"""How kernel-side code reaches labdeck: one interface (`base.Client`), two
ways to serve it (`direct`: the database in this process; `rest`: the
team's labdeck service over HTTP), and one module that picks (`mode`).

The kernel layer (`labdeck.monitor()`, the `%labdeck` magic, the recorder,
`labdeck.runs()`, `labdeck.chart()`, `labdeck.settings()`, `labdeck.alert()`)
only ever holds a `Client`; it never opens a database or builds a URL itself.
"""
