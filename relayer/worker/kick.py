"""Quorum kicks: a submitter tick sent the moment a checkpoint reaches its quorum, not at the next beat.

Whoever stores the signature that completes a quorum (the API's `/signatures`, or a validator
writing into its operator's Redis) learns it from the store's publish script (exactly one
publisher sees the transition, and only for a nonce above what the route's submitter has sent)
and sends one `submit_route` message to the route's destination queue. The tick it starts is the
ordinary one: it takes the route's lease, so it never runs beside another tick of the route (if
one is running, the kicked one returns "busy" without reading the chain, and the running one
sees the store's quorum mark within one receipt poll). The beat schedule stays as the fallback: a
kick lost with Redis, or never sent (the threshold hint not written yet), delays a delivery by at
most one beat interval, as before.
"""

from __future__ import annotations

import logging
import threading

from celery import Celery

from relayer.config import Settings
from relayer.types import RouteId
from relayer.worker.app import SUBMIT_TASK, VISIBILITY_TIMEOUT_S, submitter_queue

log = logging.getLogger(__name__)

KICK_EXPIRES_S = 5.0
"""A kick not started within this long is dropped: by then a beat tick has done its work."""


class SubmitKicker:
    """Sends kicked submitter ticks through the relayer's broker (its own Celery client: sending
    needs no worker configuration, and the process's worker app, if any, is left alone)."""

    def __init__(self, settings: Settings) -> None:
        self._app = Celery("xmargin-kick", broker=settings.redis_url, set_as_current=False)
        self._app.conf.update(
            task_serializer="json", accept_content=["json"], broker_connection_retry_on_startup=False,
            broker_connection_max_retries=0,  # a broker away fails the kick at once, not after ~7 s of retries
            broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_S, "max_retries": 0,
                                      "socket_connect_timeout": 1},
        )
        self._lock = threading.Lock()
        self.sent = 0

    def __call__(self, route: RouteId, nonce: int) -> None:
        """Send `submit_route(route, nonce)` to the route's destination queue; a failure is only
        logged (the beat's tick delivers the checkpoint a beat later)."""
        try:
            self._app.send_task(
                SUBMIT_TASK, args=(str(route), int(nonce)), queue=submitter_queue(route.dest_chain_id),
                expires=KICK_EXPIRES_S, ignore_result=True, retry=False,
            )
        except Exception as err:  # noqa: BLE001 - a kick is an optimisation: never fail the publish for it
            log.warning("route %s: submitter kick for nonce %d not sent (the beat delivers it): %s", route, nonce,
                        err, extra={"route": str(route), "nonce": nonce})
            return
        with self._lock:
            self.sent += 1
        log.debug("route %s: quorum at nonce %d, submitter kicked", route, nonce, extra={"route": str(route)})
