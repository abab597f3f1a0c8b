"""Close codes tell a client whether to reconnect, and their documented ranges hold."""

from protocol.codes import (
    CLOSE_RULES,
    FINAL_RANGE,
    FINAL_STANDARD,
    RESUME_RANGE,
    CloseCode,
    CloseReason,
    should_reconnect,
)


def test_reconnect_after_transient_closes() -> None:
    """Shutdown, slow-consumer, not-ready and abnormal closes mean: reconnect and resume."""
    for code in (CloseCode.GOING_AWAY, CloseCode.SLOW_CONSUMER, CloseCode.TRY_AGAIN_LATER, 1006, 4150):
        assert should_reconnect(code), code


def test_no_reconnect_after_auth_or_protocol_errors() -> None:
    """Bad credentials or a broken client would only fail again."""
    for code in (
        CloseCode.UNAUTHENTICATED,
        CloseCode.FORBIDDEN,
        CloseCode.MESSAGE_TOO_BIG,
        CloseCode.UNSUPPORTED_DATA,
        CloseCode.NORMAL,
    ):
        assert not should_reconnect(code), code


def test_every_code_sits_in_the_range_its_reconnect_rule_says() -> None:
    """A hub code in 4000-4099 means do not reconnect, one in 4100-4199 reconnect and resume; a
    standard code is final only if FINAL_STANDARD names it. No hub code is outside those."""
    for code in CloseCode:
        if code < 3000:
            assert should_reconnect(code) is (code not in FINAL_STANDARD), code
        elif FINAL_RANGE[0] <= code <= FINAL_RANGE[1]:
            assert not should_reconnect(code), code
        else:
            assert RESUME_RANGE[0] <= code <= RESUME_RANGE[1], f"{code!r} is in no documented range"
            assert should_reconnect(code), code


def test_the_served_rules_say_what_should_reconnect_says() -> None:
    """The browser's rule (a code is final when listed or in a final range) over CLOSE_RULES, the
    data /api/me serves, agrees with should_reconnect on every code a close frame may carry."""
    for code in range(1000, 5000):
        listed = code in CLOSE_RULES.final
        ranged = any(first <= code <= last for first, last in CLOSE_RULES.final_ranges)
        assert (listed or ranged) is not should_reconnect(code), code
    assert CLOSE_RULES.codes == {c.name: int(c) for c in CloseCode}


def test_every_close_reason_has_a_code_and_a_text_that_fits_a_close_frame() -> None:
    """A close frame carries at most 123 bytes of reason; each reason has its own text."""
    texts = [reason.text for reason in CloseReason]
    assert len(set(texts)) == len(texts)
    for reason in CloseReason:
        assert isinstance(reason.code, CloseCode)
        assert 0 < len(reason.text.encode()) <= 123, reason
