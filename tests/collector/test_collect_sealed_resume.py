"""`collect --resume` on a bundle whose seal an earlier run committed: no dead end, no network.

A crash between the commit and the clean-up used to leave a signed bundle that resume refused
("already sealed") while verify called it "never sealed". Now resume finishes the clean-up and
reports the sealed collection with the exit status its ledger implies.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from collector_fakes import StaticTokens, config_dict

from evkit.collector.config import parse_config
from evkit.collector.errors import BundleError
from evkit.collector.run import collect
from evkit.manifests.bundle import BundleWriter
from evkit.manifests.keys import load_signing_key
from evkit.manifests.verify import verify_bundle

ENTRY = {"source": "ual", "unit": "w1", "window": None, "expected": 10, "received": 10, "unique_ids": 10,
         "retries": 0, "reason": ""}


@pytest.fixture(scope="module")
def examiner_key(signing_key):
    return load_signing_key(signing_key[0], signing_key[1])


def sealed(root: Path, key, statuses: list[str]) -> Path:
    writer = BundleWriter.create(root, case_id="IR-1", collection_id="C-1")
    writer.write("raw/ual/w1/p000001.json", b"{}")
    ledger = [dict(ENTRY, unit=f"w{n}", status=status) for n, status in enumerate(statuses, 1)]
    writer.seal(key, bag_info={}, collection={"kind": "collect", "ledger": ledger})
    return root


@pytest.mark.parametrize("statuses, complete", [(["complete"], True), (["complete", "capped"], False)])
def test_resume_of_a_sealed_bundle_with_a_leftover_reports_it(tmp_path, signing_key, examiner_key,
                                                              statuses, complete):
    root = sealed(tmp_path / "b", examiner_key, statuses)
    (root / ".evkit-open" / "tmp").mkdir(parents=True)   # what a kill during the clean-up leaves
    (root / ".evkit-open" / "state.json").write_text("{}")
    cfg = parse_config(config_dict(), tmp_path / "collect.toml")
    outcome = collect(cfg, root, key=examiner_key, tokens=StaticTokens(), resume=True, quiet=True)
    assert outcome.already_sealed and outcome.complete is complete
    assert len(outcome.ledger) == len(statuses)
    assert not (root / ".evkit-open").exists()
    result = verify_bundle(root, signer_key=Path(f"{signing_key[0]}.pub"))
    assert result.verdict == "valid", [str(f) for f in result.findings]


def test_resume_of_a_sealed_bundle_with_an_unreadable_record_says_so(tmp_path, examiner_key):
    root = sealed(tmp_path / "b", examiner_key, ["complete"])
    (root / "data" / "collection.json").write_text("[1]")
    cfg = parse_config(config_dict(), tmp_path / "collect.toml")
    with pytest.raises(BundleError, match="already sealed.*evkit verify"):
        collect(cfg, root, key=examiner_key, tokens=StaticTokens(), resume=True, quiet=True)
