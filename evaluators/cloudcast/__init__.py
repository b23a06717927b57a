"""cloudcast (multi-cloud broadcast): trusted network data, route validation, the transfer
simulator, the Dijkstra reference and the score. The problem directory is problems/cloudcast."""
