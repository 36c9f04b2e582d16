"""Services: every business rule, each public function one transaction.

Each takes the `Backend` and the acting `Actor` first, validates its input,
decides with `permissions`, changes the database, and returns plain JSON-ready
dicts in the shapes of the REST API (docs/api.md), or raises a typed error from `errors`.
"""
