"""The state: everything digestbot remembers between runs, in one SQLite file.

store (the `Store` facade and the papers), db (the connection and what its errors mean),
migrations (the schema), outbox (deliveries), fetch_log (fetches), incidents (source trouble),
lock (one writer per state file), heartbeat (the daemon's liveness file).
"""
