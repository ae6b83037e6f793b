import pytest

from chorus_common.rejections import RejectionOutcome, RejectionsOut, rejection_outcome


@pytest.mark.parametrize(
    ("found", "is_supplier", "rejected", "processed", "outcome"),
    [
        (True, True, True, False, RejectionOutcome.PROCESSED),
        (True, True, True, True, RejectionOutcome.ALREADY_PROCESSED),
        (True, True, False, False, RejectionOutcome.NOT_REJECTED),
        # Another structure's invoice is reported as not found: its existence is not told.
        (True, False, True, False, RejectionOutcome.NOT_FOUND),
        (False, False, False, False, RejectionOutcome.NOT_FOUND),
    ],
)
def test_each_item_of_a_bulk_rejection_gets_its_own_outcome(found, is_supplier, rejected, processed, outcome):
    assert rejection_outcome(found, is_supplier, rejected, processed) is outcome


def test_the_report_counts_the_processed_and_explains_each():
    report = RejectionsOut.of(
        [
            ("a", RejectionOutcome.PROCESSED),
            ("b", RejectionOutcome.NOT_FOUND),
            ("a", RejectionOutcome.ALREADY_PROCESSED),
        ]
    )
    assert report.processed == 1
    assert [(r.id, r.outcome) for r in report.results] == [
        ("a", RejectionOutcome.PROCESSED),
        ("b", RejectionOutcome.NOT_FOUND),
        ("a", RejectionOutcome.ALREADY_PROCESSED),
    ]
    assert report.results[1].detail == "no invoice of yours has this id"
