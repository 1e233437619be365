"""The lock of a mirror on object storage: one lock object holding a lease.

- Taken with a conditional write (``If-None-Match: *``): of two runs, the store lets one
  create the object and answers the other ``412 Precondition Failed``.
- The object says who holds it and for how long (``lease`` seconds); a background thread
  rewrites it every third of the lease with ``If-Match: <etag>``, so a run that crashed (or
  lost its network) stops renewing and its lease runs out.
- A lease has run out when the store's own clock (the ``Date`` of its answer) is more than
  ``lease`` seconds past the object's ``Last-Modified``: no two machines' clocks are
  compared. An expired lock is taken over with ``If-Match: <the etag read>``, so of two
  runs taking over at once one wins.
- A run whose renewal is refused (another run took the lock over) stops at its next write.
- Released with a conditional delete (``If-Match``; where the store refuses that, a delete
  after a ``HEAD`` shows the run's own ETag): a run never deletes a lock it lost.

Right after taking the lock, a second ``If-None-Match: *`` write of it must be refused and
an ``If-Match: <etag>`` rewrite accepted; a store that gets either wrong ignores conditional
writes, and a run refuses to go on there unless ``[s3] allow_unconditional_lock`` is set
(then the lock is advisory only: read before it is written and respected, but two runs
started at the same moment could both believe they hold it).
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import socket
import threading
import time
import uuid
from typing import Any

from ..errors import MirrorLocked, StorageError

log = logging.getLogger(__name__)

_TAKEN = frozenset(("PreconditionFailed", "412", "ConditionalRequestConflict", "409"))
_UNSUPPORTED = frozenset(("NotImplemented", "501"))


def error_code(exc: BaseException) -> str:
    """The S3 error code of a botocore ``ClientError`` ("" for anything else)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", ""))


class Lease:
    """The lock object ``<prefix>.lock``, held for a ``with`` block."""

    def __init__(
        self, client: Any, bucket: str, key: str, seconds: int, *, unconditional_ok: bool
    ) -> None:
        self.client, self.bucket, self.key, self.seconds = client, bucket, key, seconds
        self.where = f"s3://{bucket}/{key}"
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self.unconditional_ok = unconditional_ok
        self.etag: str | None = None
        self.conditional = True
        """False once the store is known to ignore conditions (an advisory lock)."""
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _body(self) -> bytes:
        now = time.time()
        doc = {"owner": self.owner, "lease": self.seconds, "renewed": now}
        doc["expires"] = now + self.seconds
        return json.dumps(doc).encode()

    def _put(self, **condition: str) -> str:
        answer = self.client.put_object(
            Bucket=self.bucket,
            Key=self.key,
            Body=self._body(),
            ContentType="application/json",
            **condition,
        )
        return str(answer["ETag"])

    # -- taking and giving back ---------------------------------------------------------
    def acquire(self) -> None:
        if self.unconditional_ok:  # an advisory lock must still respect a live one
            self._check_existing()
        try:
            self.etag = self._put(IfNoneMatch="*")
        except Exception as exc:
            code = error_code(exc)
            if code in _TAKEN:
                self._take_over()
            elif code in _UNSUPPORTED:
                self._unsupported(str(exc))
                self.etag = self._put()
            else:
                raise
        else:
            self._probe()
        self._thread = threading.Thread(target=self._renew_loop, name="s3-lease", daemon=True)
        self._thread.start()

    def _probe(self) -> None:
        """The store must honour both conditions the lease relies on: a second create is
        refused (``If-None-Match``), a rewrite naming the current ETag accepted
        (``If-Match``); else the lock could not keep two runs apart."""
        try:
            self._put(IfNoneMatch="*")
        except Exception as exc:
            if error_code(exc) not in (*_TAKEN, *_UNSUPPORTED):
                self.release()
                raise
            if error_code(exc) in _UNSUPPORTED:
                self._unsupported(f"If-None-Match: {exc}")
                return
        else:
            self._unsupported("a second If-None-Match: * write of the lock was accepted")
            return
        try:
            self.etag = self._put(IfMatch=str(self.etag))
        except Exception as exc:
            if error_code(exc) in _TAKEN:
                taken = f"{self.where} (taken by another run at the same moment)"
                raise MirrorLocked(taken) from None
            if error_code(exc) not in (*_UNSUPPORTED, "InvalidArgument", "400"):
                self.release()
                raise
            self._unsupported(f"If-Match: {exc}")

    def _unsupported(self, why: str) -> None:
        if not self.unconditional_ok:
            self.release(conditional=False)
            raise StorageError(
                self.where,
                f"this object store does not honour conditional writes ({why}), so the lock "
                "cannot keep two runs apart; use a store that does (AWS S3, MinIO, moto...) or "
                "set [s3] allow_unconditional_lock = true and never start two runs at once",
            )
        self.conditional = False
        log.warning(
            "%s: the store ignores conditional writes; the lock is advisory only "
            "([s3] allow_unconditional_lock = true): never start two runs at once",
            self.where,
        )

    def refuse_if_held(self) -> None:
        """MirrorLocked if a live lease is there; reads only (for a dry run)."""
        self._check_existing()

    def _check_existing(self) -> None:
        """Refuse when a live lease is there already (read before writing)."""
        try:
            got = self.client.get_object(Bucket=self.bucket, Key=self.key)
        except Exception as exc:
            if error_code(exc) in ("NoSuchKey", "404"):
                return
            raise
        self._refuse_if_live(got, _parse(got["Body"].read()))

    def _refuse_if_live(self, got: dict[str, Any], doc: dict[str, Any]) -> float:
        """MirrorLocked unless the lease in ``doc`` has run out; else seconds since."""
        owner = str(doc.get("owner", "an unknown run"))
        lease, age = doc.get("lease"), _age(got)
        if not isinstance(lease, int | float) or age is None:
            hint = "no lease in it; if no run is active, delete it"
            raise MirrorLocked(f"{self.where} (held by {owner}, {hint})")
        if age <= lease:
            until = f"its lease runs out in {int(lease - age) + 1} s unless renewed"
            raise MirrorLocked(f"{self.where} (held by {owner}, {until})")
        return age - lease

    def _take_over(self) -> None:
        try:
            got = self.client.get_object(Bucket=self.bucket, Key=self.key)
            raw = got["Body"].read()
        except Exception as exc:
            if error_code(exc) not in ("NoSuchKey", "404"):
                raise
            self.etag = self._put(IfNoneMatch="*")  # released meanwhile: try once more
            return
        doc = _parse(raw)
        owner = str(doc.get("owner", "an unknown run"))
        expired = self._refuse_if_live(got, doc)
        try:
            self.etag = self._put(IfMatch=str(got["ETag"]))
        except Exception as exc:
            if error_code(exc) in _TAKEN:
                raise MirrorLocked(f"{self.where} (just taken over by another run)") from None
            raise
        log.warning(
            "%s: took over the lock of %s, whose lease ran out %d s ago (a run that crashed "
            "or lost its connection); its unfinished work is resumed from the saved todo",
            self.where,
            owner,
            int(expired),
        )

    def release(self, *, conditional: bool = True) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self.lost.is_set() or self.etag is None:  # lost, or never written
            return
        condition = {"IfMatch": self.etag} if conditional and self.conditional else {}
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.key, **condition)
        except Exception as exc:
            if error_code(exc) in _TAKEN or not condition:
                log.warning("%s: lock not removed (%s)", self.where, exc)
                return
            self._delete_if_ours(exc)

    def _delete_if_ours(self, why: Exception) -> None:
        """A store that refuses conditional deletes: delete after checking the ETag."""
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.key)
            if str(head.get("ETag")) == self.etag:
                self.client.delete_object(Bucket=self.bucket, Key=self.key)
        except Exception as exc:
            log.warning("%s: could not remove the lock (%s, then %s); it expires by itself",
                        self.where, why, exc)  # fmt: skip

    # -- keeping it ---------------------------------------------------------------------
    def _renew_loop(self) -> None:
        interval = max(self.seconds / 3, 0.5)
        last_ok = time.monotonic()
        while not self._stop.wait(interval):
            try:
                condition = {"IfMatch": str(self.etag)} if self.conditional else {}
                self.etag = self._put(**condition)
                last_ok = time.monotonic()
            except Exception as exc:
                if error_code(exc) in _TAKEN or time.monotonic() - last_ok > self.seconds:
                    log.error("%s: lost the lock (%s); this run stops at its next write",
                              self.where, exc)  # fmt: skip
                    self.lost.set()
                    return
                log.warning("%s: renewing the lock failed (%s); retrying", self.where, exc)

    def check(self) -> None:
        """Raise once the lease is lost: nothing may be written without the lock."""
        if self.lost.is_set():
            raise StorageError(
                self.where,
                "this run lost the lock (its lease ran out and another run took it over); "
                "stopping without writing more",
            )


def _parse(raw: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(raw)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _age(got: dict[str, Any]) -> float | None:
    """Seconds between the lock's Last-Modified and now, both by the store's clock."""
    modified = got.get("LastModified")
    headers = got.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    if modified is None:
        return None
    date = headers.get("date")
    now = email.utils.parsedate_to_datetime(date).timestamp() if date else time.time()
    return float(now - modified.timestamp())
