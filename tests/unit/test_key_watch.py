"""The suite-wide leak scan must itself catch a leak, or a green run proves nothing."""
import logging
from types import SimpleNamespace

from support.key_watch import LeakWatch, make_canary_key


def test_canary_key_has_the_contract_format():
    key = make_canary_key()
    assert key.startswith("jns_live_LEAKCANARY") and len(key) == len("jns_live_") + 32
    assert key[len("jns_live_"):].isalnum()


def test_a_log_record_or_a_report_holding_the_key_is_a_leak():
    key = make_canary_key()
    watch = LeakWatch(key)
    logger = logging.getLogger("junis_jupyter.test_key_watch")
    logger.addHandler(watch)
    try:
        logger.debug("sending %s", "nothing secret")
        logger.warning("header X-API-Key: %s", key)
        try:
            raise RuntimeError(f"bad {key}")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(watch)
    assert watch.records == 3 and len(watch.leaks) == 2

    clean = SimpleNamespace(sections=[("Captured stdout call", "fine")], longrepr=None,
                            nodeid="t::a", when="call")
    leaky = SimpleNamespace(sections=[], longrepr=f"AssertionError: {key}", nodeid="t::b",
                            when="call")
    watch.scan_report(clean)
    watch.scan_report(leaky)
    assert watch.leaks[-1] == "t::b (call)" and watch.reports == 2
    assert "3 leak(s)" in watch.summary()
