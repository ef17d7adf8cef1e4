"""Rate limit strings and the token bucket."""

from __future__ import annotations

import math

import pytest

from tuiq.worker.ratelimit import TokenBucket, parse_rate


class TestParseRate:
    @pytest.mark.parametrize(
        ("rate", "expected"),
        [
            ("10/s", 10.0),
            ("100/m", 100 / 60),
            ("1000/h", 1000 / 3600),
            ("0.5/s", 0.5),
            ("10/sec", 10.0),
            ("10/second", 10.0),
            ("10/seconds", 10.0),
            ("5/min", 5 / 60),
            ("5/minute", 5 / 60),
            ("5/minutes", 5 / 60),
            ("2/h", 2 / 3600),
            ("2/hours", 2 / 3600),
            ("2/hour", 2 / 3600),
            ("200/M", 200 / 60),
            (" 200 / m ", 200 / 60),
            ("10/", 10.0),
            ("10", 10.0),
            ("2.5", 2.5),
            (7, 7.0),
            (0.25, 0.25),
        ],
    )
    def test_valid(self, rate: str | float, expected: float) -> None:
        assert parse_rate(rate) == expected

    @pytest.mark.parametrize("rate", [None, "", "  ", 0, 0.0, "0", "0/m", "0.0/h"])
    def test_no_limit(self, rate: str | float | None) -> None:
        assert parse_rate(rate) is None

    @pytest.mark.parametrize(
        "rate",
        [
            "abc",
            "10/x",
            "10/d",
            "10/ms",
            "2/hr",
            "/s",
            "ten/s",
            "10/s/m",
            "-1/s",
            "-3",
            "nan",
            "inf/s",
        ],
    )
    def test_invalid_string(self, rate: str) -> None:
        with pytest.raises(ValueError) as info:
            parse_rate(rate)
        assert str(info.value) == f"Invalid rate limit string: {rate!r}"

    @pytest.mark.parametrize("rate", [True, -2, float("nan"), float("inf"), [10]])
    def test_invalid_other(self, rate: object) -> None:
        with pytest.raises(ValueError, match=r"^Invalid rate limit string: "):
            parse_rate(rate)  # type: ignore[arg-type]

    @pytest.mark.parametrize("rate", ["10/s", "100/m", "1000/h", "0.5/s", 7, "10"])
    def test_agrees_with_celery(self, rate: str | int) -> None:
        from celery.utils.time import rate as c_rate

        assert parse_rate(rate) == pytest.approx(float(c_rate(rate)))


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TestTokenBucket:
    def test_starts_full_then_empties(self) -> None:
        clock = FakeClock()
        bucket = TokenBucket(2.0, capacity=3, clock=clock)
        assert [bucket.can_consume() for _ in range(4)] == [True, True, True, False]
        assert bucket.expected_time() == pytest.approx(0.5)

    def test_refills_at_fill_rate(self) -> None:
        clock = FakeClock()
        bucket = TokenBucket(4.0, clock=clock)
        assert bucket.can_consume()
        assert not bucket.can_consume()
        assert bucket.expected_time() == pytest.approx(0.25)
        clock.now += 0.1
        assert not bucket.can_consume()
        assert bucket.expected_time() == pytest.approx(0.15)
        clock.now += 0.15
        assert bucket.expected_time() == 0.0
        assert bucket.can_consume()

    def test_never_exceeds_capacity(self) -> None:
        clock = FakeClock()
        bucket = TokenBucket(10.0, capacity=2, clock=clock)
        clock.now += 3600
        assert bucket.can_consume(2)
        assert not bucket.can_consume(1)

    def test_multiple_tokens(self) -> None:
        clock = FakeClock()
        bucket = TokenBucket(1.0, capacity=5, clock=clock)
        assert bucket.can_consume(4)
        assert not bucket.can_consume(3)
        assert bucket.expected_time(3) == pytest.approx(2.0)
        assert bucket.expected_time(6) == math.inf

    def test_failed_consume_takes_nothing(self) -> None:
        clock = FakeClock()
        bucket = TokenBucket(1.0, capacity=2, clock=clock)
        assert bucket.can_consume(1)
        assert not bucket.can_consume(2)
        assert bucket.can_consume(1)

    def test_clock_going_backwards_adds_nothing(self) -> None:
        clock = FakeClock()
        bucket = TokenBucket(1.0, clock=clock)
        assert bucket.can_consume()
        clock.now -= 50
        assert not bucket.can_consume()
        assert bucket.expected_time() == pytest.approx(1.0)

    def test_real_monotonic_clock(self) -> None:
        bucket = TokenBucket(0.001)
        assert bucket.can_consume()
        assert not bucket.can_consume()
        assert 990 < bucket.expected_time() <= 1000

    @pytest.mark.parametrize("fill_rate", [0, -1, float("nan"), float("inf")])
    def test_rejects_bad_fill_rate(self, fill_rate: float) -> None:
        with pytest.raises(ValueError, match="fill_rate"):
            TokenBucket(fill_rate)

    def test_rejects_bad_capacity(self) -> None:
        with pytest.raises(ValueError, match="capacity"):
            TokenBucket(1.0, capacity=0)

    def test_parsed_rate_drives_bucket(self) -> None:
        clock = FakeClock()
        rate = parse_rate("60/m")
        assert rate is not None
        bucket = TokenBucket(rate, clock=clock)
        assert bucket.can_consume()
        assert bucket.expected_time() == pytest.approx(1.0)
