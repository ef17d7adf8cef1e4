"""Node names and their % abbreviations (PROTOCOL.md §6)."""

from __future__ import annotations

import os
import socket

import pytest

from tuiq.worker import nodenames
from tuiq.worker.nodenames import (
    anon_nodename,
    default_nodename,
    expand_hostname,
    node_format,
    nodesplit,
)

MACHINE = "box1.example.com"


@pytest.fixture
def machine(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(nodenames.socket, "gethostname", lambda: MACHINE)
    return MACHINE


class TestNodesplit:
    def test_splits_on_first_at(self) -> None:
        assert nodesplit("w1@box1.example.com") == ("w1", "box1.example.com")
        assert nodesplit("a@b@c") == ("a", "b@c")

    def test_without_at_is_all_host(self) -> None:
        assert nodesplit("box1") == ("", "box1")

    def test_empty_parts(self) -> None:
        assert nodesplit("@box") == ("", "box")
        assert nodesplit("w1@") == ("w1", "")


class TestDefaultAndAnon:
    def test_default_nodename(self, machine: str) -> None:
        assert default_nodename() == "celery@box1.example.com"
        assert default_nodename("w9") == "w9@box1.example.com"

    def test_default_uses_real_hostname(self) -> None:
        assert default_nodename() == f"celery@{socket.gethostname()}"

    def test_anon_nodename(self, machine: str) -> None:
        assert anon_nodename() == f"gen{os.getpid()}@box1.example.com"
        assert anon_nodename("client.local") == f"gen{os.getpid()}@client.local"


class TestExpandHostname:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("w1@%h", "w1@box1.example.com"),
            ("%n@%d", "box1@example.com"),
            ("w1@%n", "w1@box1"),
            ("foo", "celery@foo"),
            ("worker.%h", "celery@worker.box1.example.com"),
            ("%n", "celery@box1"),
            ("w1@%%h", "w1@%h"),
            ("a%%b", "celery@a%b"),
            ("@box", "celery@box"),
            ("w1@", "w1@box1.example.com"),
            (None, "celery@box1.example.com"),
            ("", "celery@box1.example.com"),
            ("w%i@%h%I", "w0@box1.example.com"),
            ("trailing%", "celery@trailing%"),
        ],
    )
    def test_rules(self, value: str | None, expected: str) -> None:
        assert expand_hostname(value, MACHINE) == expected

    def test_defaults_to_machine_hostname(self, machine: str) -> None:
        assert expand_hostname("w1@%h") == "w1@box1.example.com"

    def test_host_without_domain(self) -> None:
        assert expand_hostname("w1@%n.%d", "box1") == "w1@box1."

    def test_unknown_letter(self) -> None:
        with pytest.raises(ValueError, match=r"^Unknown format %x$"):
            expand_hostname("w1@%x", MACHINE)

    @pytest.mark.parametrize("value", ["w1@%h", "%n@%d", "w1@%n", "foo", "worker.%h", "a%%b"])
    def test_matches_celery(self, value: str) -> None:
        from celery.utils.nodenames import default_nodename as c_default
        from celery.utils.nodenames import host_format

        assert expand_hostname(value, MACHINE) == host_format(c_default(value), host=MACHINE)


class TestNodeFormat:
    NODE = "w1@box1.example.com"

    @pytest.mark.parametrize(
        ("template", "expected"),
        [
            ("%p.log", "w1@box1.example.com.log"),
            ("%h.log", "box1.example.com.log"),
            ("%n.log", "w1.log"),
            ("%d.log", "example.com.log"),
            ("/var/run/celery/%n.pid", "/var/run/celery/w1.pid"),
            ("%n-%i.log", "w1-0.log"),
            ("%n%I.log", "w1.log"),
            ("100%%-%n", "100%-w1"),
            ("no-vars", "no-vars"),
        ],
    )
    def test_main_process(self, template: str, expected: str) -> None:
        assert node_format(template, self.NODE) == expected
        assert node_format(template, self.NODE, 0) == expected

    def test_child_process(self) -> None:
        assert node_format("%n-%i.log", self.NODE, 2) == "w1-2.log"
        assert node_format("/var/log/celery/%n%I.log", self.NODE, 2) == "/var/log/celery/w1-2.log"

    def test_n_and_h_describe_the_nodename_not_the_machine(self, machine: str) -> None:
        assert node_format("%n|%h|%d", "t1@other.host.org") == "t1|other.host.org|host.org"

    def test_no_name_part_defaults_to_celery(self) -> None:
        assert node_format("%n@%h", "box1.example.com") == "celery@box1.example.com"

    def test_empty_host_falls_back_to_machine(self, machine: str) -> None:
        assert node_format("%h", "w1@") == "box1.example.com"

    @pytest.mark.parametrize("letter", ["x", "N", "1", "_"])
    def test_unknown_letter(self, letter: str) -> None:
        with pytest.raises(ValueError) as info:
            node_format(f"%{letter}.log", self.NODE)
        assert str(info.value) == f"Unknown format %{letter}"

    @pytest.mark.parametrize(
        "template", ["%p.log", "%h.log", "%n.log", "%d.log", "%n-%i.log", "%n%I.log", "a%%b"]
    )
    def test_matches_celery_in_main_process(self, template: str) -> None:
        from celery.utils.nodenames import node_format as c_node_format

        assert node_format(template, self.NODE) == c_node_format(template, self.NODE)
