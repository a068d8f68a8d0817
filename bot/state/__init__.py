"""The state: everything digestbot remembers between runs, in one SQLite file or one PostgreSQL
database.

backend (SQLite or PostgreSQL: what differs between them), store (the `Store` facade and the
papers), db (the SQLite connection and what its errors mean), migrations (the schema), outbox
(deliveries), fetch_log (fetches), incidents (source trouble), corpus (document frequencies and
example papers), votes (readers' votes), lock (one writer per state file), heartbeat (the
daemon's liveness file); for several workers on one PostgreSQL state: fetch_claims (who fetches
a source's day), pacing (paces kept across workers), workers (who they are, their heartbeats).
"""
