"""Close codes tell a client whether to reconnect."""

from protocol.codes import CloseCode, should_reconnect


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
