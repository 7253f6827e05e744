"""A custodian's witness settings: bad values are refused at start in one line."""

from __future__ import annotations

import pytest

from common.config import ConfigError, load
from crypto.tlog.cosignature import CosignatureSigner
from escrow_service.core.settings import EscrowSettings
from escrow_service.services.witnessing import WitnessConfig

W1 = CosignatureSigner.generate("witness.test/s1").verifier.to_text()
W2 = CosignatureSigner.generate("witness.test/s2").verifier.to_text()


def test_a_good_list_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMVAULT_ESCROW_WITNESSES", f"http://w1:8300/ {W1}, https://w2 {W2}")
    monkeypatch.setenv("CAMVAULT_ESCROW_WITNESS_QUORUM", "2")
    settings = load(EscrowSettings)
    configs = WitnessConfig.parse_list(settings.witnesses)
    assert [c.url for c in configs] == ["http://w1:8300", "https://w2"]
    assert [c.verifier.to_text() for c in configs] == [W1, W2]


@pytest.mark.parametrize(
    ("witnesses", "quorum", "why"),
    [
        (f"w1 {W1}", None, "expected '<http\\(s\\) URL> <witness key>'"),
        ("http://w1 witness.test/s1+00000000+AAAA", None, "witness key"),
        (f"http://w1 {W1},http://w2 {W1}", None, "two witnesses share a name"),
        (f"http://w1 {W1}", "2", "WITNESS_QUORUM 2 is more than the 1 witnesses"),
        ("", "1", "WITNESS_QUORUM 1 is more than the 0 witnesses"),
    ],
)
def test_bad_settings_are_one_line(
    monkeypatch: pytest.MonkeyPatch, witnesses: str, quorum: str | None, why: str
) -> None:
    monkeypatch.setenv("CAMVAULT_ESCROW_WITNESSES", witnesses)
    if quorum is not None:
        monkeypatch.setenv("CAMVAULT_ESCROW_WITNESS_QUORUM", quorum)
    with pytest.raises(ConfigError, match=why) as info:
        load(EscrowSettings)
    assert "\n" not in str(info.value)
