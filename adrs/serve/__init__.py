"""`adrs serve`: a live view of an archive in the browser, read-only unless started with --steer.

server.py is the HTTP server and its routes, views.py the JSON each route answers, page.html the
one page (no build step; it polls the JSON every second). steer.py (with the page's panel,
steer.js) is the one part that writes to the archive: steering actions on runs started
--steerable, behind the server's token, only with --steer.
"""

LOOPBACK = "127.0.0.1"  # the default address: only this machine can read the archive
DEFAULT_PORT = 8765
