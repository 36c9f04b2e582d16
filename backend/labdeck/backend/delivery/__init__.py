"""Delivery of the outbox (`notifications`): mail by SMTP, Slack by incoming
webhook. `outbox` claims and settles rows in short transactions of their own;
`mail` and `slack` talk to the peers outside any transaction; `deliverer`
runs the loop in a server (the embedded one, or `labdeck serve`)."""
