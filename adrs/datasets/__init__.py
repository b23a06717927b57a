"""Real data of the built-in problems: which problems have it, where it comes from, fetching it.

catalog.py pins each public source (repository, commit, path, sha256) and each file a problem
reads; derive.py makes the files that are repacked or converted from a public file, the same bytes
on every machine; fetch.py reads sources (the internet, or a local mirror), verifies, writes and
reports; location.py says where data lives when no --data is given. `adrs data` (adrs/api/data.py)
is the only caller of fetch.py: nothing downloads at run time on its own.
"""
