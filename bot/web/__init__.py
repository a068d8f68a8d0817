"""The web page (`digestbot web`, and `digestbot run` with `web:` in bot.yaml): the digests sent,
the profile editor with its live preview and charts, and votes (from the page and from email
links). app.py wires it; one module per page family; security.py holds the defences."""
