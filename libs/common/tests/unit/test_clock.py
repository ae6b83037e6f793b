from datetime import UTC, date, datetime, timedelta

from chorus_common.clock import FixedClock, paris_day


def test_paris_day_follows_the_paris_calendar_not_utc():
    # 23:30 UTC on 27 November is already 28 November in Paris (UTC+1 in winter).
    assert paris_day(datetime(2026, 11, 27, 23, 30, tzinfo=UTC)) == date(2026, 11, 28)
    # 22:30 UTC on 30 June is 00:30 on 1 July in Paris (UTC+2 in summer).
    assert paris_day(datetime(2026, 6, 30, 22, 30, tzinfo=UTC)) == date(2026, 7, 1)


def test_a_fixed_clock_moves_only_when_told():
    clock = FixedClock(datetime(2026, 1, 1, tzinfo=UTC))
    clock.advance(timedelta(days=8))
    assert clock.now() == datetime(2026, 1, 9, tzinfo=UTC)
