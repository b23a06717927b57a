"""`adrs serve`: a read-only live view of an archive in the browser.

server.py is the HTTP server and its routes, views.py the JSON each route answers, page.html the
one page (no build step; it polls the JSON every second). Nothing here writes to the archive.
"""

LOOPBACK = "127.0.0.1"  # the default address: only this machine can read the archive
DEFAULT_PORT = 8765
