"""Counts the RPC requests the agent sends to neutron-server, by method: a wrapper around
the oslo.messaging client of a Neutron RPC API object (L3PluginApi, DhcpPluginApi, ...),
whose every request goes through `client.prepare(...).call|cast(...)`."""


class _CountingContext:
    """A prepared client context whose call and cast count their method."""

    def __init__(self, ctx, counts):
        self._ctx = ctx
        self._counts = counts

    def __getattr__(self, name):
        return getattr(self._ctx, name)

    def call(self, ctxt, method, **kwargs):
        self._counts[method] = self._counts.get(method, 0) + 1
        return self._ctx.call(ctxt, method, **kwargs)

    def cast(self, ctxt, method, **kwargs):
        self._counts[method] = self._counts.get(method, 0) + 1
        return self._ctx.cast(ctxt, method, **kwargs)


class CountingClient:
    """An RPC client whose prepared contexts count into `counts` (method -> requests)."""

    def __init__(self, client, counts):
        self._client = client
        self._counts = counts

    def __getattr__(self, name):
        return getattr(self._client, name)

    def prepare(self, *args, **kwargs):
        return _CountingContext(self._client.prepare(*args, **kwargs), self._counts)


def count_requests(api, counts):
    """Makes the Neutron RPC API object `api` count its requests into `counts`."""
    api.client = CountingClient(api.client, counts)
