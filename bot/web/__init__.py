"""The web page: digests archive, live profile editor, votes, and the landing place of the vote
links in email digests (issue 16).

`settings` is the `web:` section of bot.yaml; `tokens` signs and checks the vote links;
`vote_link` records a confirmed one. They import no web framework, because every command reads
the config and emails carry the links; the ASGI app lives in its own module, imported only by
the commands that serve it.

The page itself: app.py wires it (served by server.py: `digestbot web`, and `digestbot run` with
`web:`), one module per page family (digests.py, vote_page.py, editor.py), charts.py draws the
SVG charts, security.py holds the defences.
"""
