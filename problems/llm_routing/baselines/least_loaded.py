"""Least loaded: the home region's instance with the fewest outstanding requests (queued + running),
then the fewest queued prompt tokens; blind to the prefix cache."""


class Router:
    def __init__(self, cluster):
        self.local = {}
        for instance in cluster.instances:
            self.local.setdefault(instance.region, []).append(instance)

    def route(self, request, cluster):
        best = min(self.local[request.region], key=lambda i: (i.waiting + i.running, i.waiting_tokens, i.id))
        return best.id
