"""A client of the appliance's control socket: one JSON request per line, one JSON response
per line (README.md, "Running it"). Reconnects on the next request after any error."""

import json
import socket


class ControlError(Exception):
    """The appliance refused a request: `code` is the API's error code."""

    def __init__(self, code, message, op):
        super().__init__(f"{op}: {code}: {message}")
        self.code = code
        self.op = op


class Unreachable(Exception):
    """The control socket could not be reached or the connection broke."""


class Control:
    """One connection to the socket at `path`, opened on demand."""

    def __init__(self, path, timeout=30.0):
        self.path = path
        self.timeout = timeout
        self._sock = None
        self._reader = None
        self._next_id = 0
        # Requests sent that changed something (the scale benchmark reports them).
        self.mutations = 0
        self.requests = 0

    def close(self):
        """Drops the connection (the next request opens a new one)."""
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
        self._sock = None
        self._reader = None

    def _connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect(self.path)
        except OSError as e:
            s.close()
            raise Unreachable(f"{self.path}: {e}") from e
        self._sock = s
        self._reader = s.makefile("rb")

    def call(self, op, args=None, mutates=False):
        """Sends `op` with `args`; returns the `ok` value or raises ControlError."""
        if self._sock is None:
            self._connect()
        self._next_id += 1
        req = {"id": self._next_id, "op": op, "args": args or {}}
        try:
            self._sock.sendall(json.dumps(req).encode() + b"\n")
            line = self._reader.readline()
        except OSError as e:
            self.close()
            raise Unreachable(f"{self.path}: {e}") from e
        if not line:
            self.close()
            raise Unreachable(f"{self.path}: connection closed")
        self.requests += 1
        if mutates:
            self.mutations += 1
        resp = json.loads(line)
        if "error" in resp:
            err = resp["error"]
            raise ControlError(err.get("code"), err.get("message"), op)
        return resp.get("ok")
