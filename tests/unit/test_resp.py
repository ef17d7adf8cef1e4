"""The worker's Redis command packer writes what redis-py's does."""

from __future__ import annotations

import pytest
from redis.connection import Encoder, PythonRespSerializer

from tuiq.transport.resp import pack_command, pack_commands

COMMANDS = [
    ("LPUSH", "queue", '{"body": "é"}'),
    ("ZADD", "unacked_index", 1795313829.123456, "tag-1", 1795313829.5, "tag-2"),
    ("HSET", "unacked", "tag-1", b"\x00\xffraw"),
    ("BLMPOP", 1, 2, "q", "q\x06\x163", "RIGHT", "COUNT", 64),
    ("HDEL", "unacked", ""),
]


def _redis_py(args) -> bytes:
    encoder = Encoder("utf-8", "strict", False)
    return b"".join(PythonRespSerializer(6000, encoder.encode).pack(*args))


@pytest.mark.parametrize("args", COMMANDS)
def test_each_command_packs_as_redis_py_packs_it(args):
    assert pack_command(args) == _redis_py(args)


def test_several_commands_go_in_one_buffer_in_order():
    assert pack_commands(COMMANDS) == b"".join(_redis_py(args) for args in COMMANDS)


@pytest.mark.parametrize("value", [None, True, ["list"]])
def test_a_value_redis_cannot_take_is_refused(value):
    with pytest.raises(TypeError):
        pack_command(("SET", "key", value))
