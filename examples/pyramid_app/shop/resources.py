"""The resources: the web root, and the context a task runs with."""


class Root:
    def __init__(self, request):
        self.request = request


class OrderResource:
    """``root_factory`` of the task: built from the message's request for each run."""

    def __init__(self, request):
        self.request = request
        self.order_id = request.params["order_id"]
