"""Round robin: each region's balancer cycles through its own instances in id order (score 0)."""


class Router:
    def __init__(self, cluster):
        self.local = {}
        for instance in cluster.instances:
            self.local.setdefault(instance.region, []).append(instance.id)
        self.turn = dict.fromkeys(self.local, 0)

    def route(self, request, cluster):
        local = self.local[request.region]
        choice = local[self.turn[request.region] % len(local)]
        self.turn[request.region] += 1
        return choice
