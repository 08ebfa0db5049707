"""The routers this node hosts, as sync_routers returned them, and which of them to fetch
again. A notification names the routers it is about (routers_updated, router_deleted,
router_added_to_agent, router_removed_from_agent), so a sync fetches only those; every
router is fetched again at start, after a failure or a revived heartbeat, after a quiet
resync_interval, and at least once every `max_age` seconds (router_resync_interval) while
notifications keep coming, which catches a notification that was lost."""

import threading
import time


class RouterCache:
    """Routers by id, with the ids to fetch again (or all of them)."""

    def __init__(self, max_age):
        self.routers = {}
        self.max_age = max_age
        self._lock = threading.Lock()
        self._all = True
        self._stale = set()
        self._fetched_all_at = None

    def mark(self, router_ids):
        """These routers changed (or are gone): fetch them on the next sync."""
        with self._lock:
            self._stale.update(router_ids)

    def mark_all(self):
        """Fetch every router on the next sync."""
        with self._lock:
            self._all = True

    def take(self, now=None):
        """What the next fetch asks for: None for every router (get_router_ids first), else
        the ids of the routers that changed, possibly none. Marks are cleared; a fetch
        that fails must call mark_all()."""
        now = time.monotonic() if now is None else now
        with self._lock:
            old = self._fetched_all_at is None or now - self._fetched_all_at >= self.max_age
            everything = self._all or old
            stale = self._stale
            self._all, self._stale = False, set()
        if everything:
            self._fetched_all_at = now
            return None
        return stale

    def update(self, asked, fetched):
        """Takes the answer of a fetch: `asked` as take() returned it, `fetched` the routers
        Neutron returned, by id. A router asked for and not returned is no longer here."""
        if asked is None:
            self.routers = dict(fetched)
            return
        for rid in asked:
            if rid in fetched:
                self.routers[rid] = fetched[rid]
            else:
                self.routers.pop(rid, None)


def ids_of(value):
    """The router ids a notification's argument names: an id, a list of ids or of routers,
    or a dict with `router_id`; None when it names none (then every router is fetched)."""
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        rid = value.get("router_id") or value.get("id")
        return {rid} if isinstance(rid, str) else None
    if isinstance(value, (list, tuple, set)) and value:
        out = set()
        for v in value:
            ids = ids_of(v)
            if ids is None:
                return None
            out |= ids
        return out
    return None
