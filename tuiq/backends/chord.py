"""Chords on Redis, with the keys and entries Celery 5.7's Redis backend uses.

The caller stores the header size under ``celery-taskset-meta-<gid>.s``; each
header task, when it finishes, records ``[1, task_id, state, result]`` in the
sorted set ``.j`` (scored by its position in the header, once per task and
position, remembered in ``.d``), and the one that completes the count claims
``.c`` and sends the body with the header's results. So a chord started by a
Celery client completes on tuiq workers, and the reverse, and workers of both
kinds can share one chord's header.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from tuiq import states
from tuiq.exceptions import ChordError
from tuiq.protocol.exceptions import exception_from_dict, exception_to_dict

logger = logging.getLogger("tuiq.worker")

# Record one header result (at most once per task and position), then, when
# every result is in, take the dispatch claim. Returns {ready, totaldiff, size, claimed};
# ready is -1 when the chord already completed.
PART_RETURN_SCRIPT = """
local jkey, tkey, skey, dkey, ckey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local task_id, entry, score = ARGV[1], ARGV[2], ARGV[3]
local expires, claim_expires, token = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
if redis.call('GET', ckey) == 'done' then
  return {-1, 0, 0, 0}
end
local member = task_id .. ':' .. score
if redis.call('SISMEMBER', dkey, member) == 0 then
  redis.call('ZADD', jkey, score, entry)
  redis.call('SADD', dkey, member)
end
local ready = redis.call('ZCOUNT', jkey, '-inf', '+inf')
if expires > 0 then
  for _, key in ipairs({jkey, tkey, skey, dkey}) do redis.call('EXPIRE', key, expires) end
end
local diff = redis.call('GET', tkey)
local size = redis.call('GET', skey)
local claimed = 0
if size and ready == tonumber(size) + tonumber(diff or 0) then
  if redis.call('SET', ckey, token, 'NX', 'EX', claim_expires) then claimed = 1 end
end
return {ready, diff, size, claimed}
"""

CLEANUP_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5])
  redis.call('SET', KEYS[1], 'done', 'EX', tonumber(ARGV[2]))
  return 1
end
return 0
"""

CLAIM_SECONDS = 10
DONE_MARKER_SECONDS = 300


class RedisChords:
    """The chord bookkeeping of a :class:`~tuiq.backends.redis.RedisBackend`."""

    def __init__(self, backend) -> None:
        self.backend = backend

    def _key(self, group_id: str, suffix: str) -> str:
        return f"{self.backend.keyprefix}celery-taskset-meta-{group_id}{suffix}"

    def _expires(self) -> int:
        return self.backend._expiry_for(states.SUCCESS)

    def set_chord_size(self, group_id: str, size: int) -> None:
        """Start a chord run: its header has ``size`` tasks."""
        client = self.backend.client
        client.delete(self._key(group_id, ".c"))
        expires = self._expires()
        client.set(self._key(group_id, ".s"), size, ex=expires or None)

    def on_part_return(self, request: Any, state: str, result: Any) -> None:
        """Record a header task's outcome; the last one sends the body."""
        group_id, task_id = request.group, request.id
        if not group_id or not task_id:
            return
        backend = self.backend
        index = request.group_index
        score = "+inf" if index is None else str(index)
        value = exception_to_dict(result) if isinstance(result, BaseException) else result
        entry = backend.encode([1, task_id, state, value])
        keys = [self._key(group_id, suffix) for suffix in (".j", ".t", ".s", ".d", ".c")]
        token = uuid.uuid4().hex
        client = backend.client
        script = client.register_script(PART_RETURN_SCRIPT)
        ready, diff, size, claimed = script(
            keys=keys, args=[task_id, entry, score, self._expires(), CLAIM_SECONDS, token],
            client=client)
        if ready == -1 or not size or not claimed:
            return
        body = dict(request.chord)
        try:
            entries = client.zrange(keys[0], 0, -1)
            self._send_body(body, [backend.decode(e) for e in entries])
        except Exception as exc:  # noqa: BLE001 - the body must not wait forever
            logger.exception("Chord %s: could not send its body", group_id)
            body_id = (body.get("options") or {}).get("task_id")
            if body_id:
                backend.mark_as_failure(body_id, ChordError(f"could not send the body: {exc!r}"))
        finally:
            client.register_script(CLEANUP_SCRIPT)(
                keys=[keys[4], keys[0], keys[1], keys[2], keys[3]],
                args=[token, DONE_MARKER_SECONDS], client=client)

    def _send_body(self, body: dict[str, Any], entries: list[list[Any]]) -> None:
        from tuiq.canvas import signature_from_dict

        app = self.backend.app
        callback = signature_from_dict(body, app=app)
        values = []
        for _, task_id, state, value in entries:
            if state in states.PROPAGATE_STATES:
                exc = exception_from_dict(value) if isinstance(value, dict) else value
                error = ChordError(f"Dependency {task_id} raised {exc!r}")
                logger.error("Chord callback %s[%s] not sent: %s", callback.name, callback.id,
                             error)
                if callback.id:
                    self.backend.mark_as_failure(callback.id, error)
                return
            values.append(value)
        callback.delay(values)
