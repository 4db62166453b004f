"""The real contract: a KSQL CSAS (the pipeline's own statement text, topics renamed) turns
DELIMITED source events into the Avro topic the trainer reads. Unlabelled events are
filtered out by the CSAS; the trainer decodes the CSAS's writer schema and trains."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from fraudstream.clients.ksql_rest import KsqlClient, split_statements
from fraudstream.core.settings import Endpoints
from fraudstream.trainer.errors import TopicError
from fraudstream.trainer.ingest import read_topic, topic_ranges
from fraudstream.trainer.model import ModelConfig
from fraudstream.trainer.pipeline import TrainOptions, run
from fraudstream.trainer.topic_fill import create_topic, produce_values

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KSQL_DIR = Path(__file__).resolve().parents[3] / "ksql"


def _statements(suffix: str) -> str:
    """01_source.ksql + 03_preprocessed.ksql with every topic and stream name suffixed."""
    text = (KSQL_DIR / "01_source.ksql").read_text() + "\n" + (KSQL_DIR / "03_preprocessed.ksql").read_text()
    for name in ("creditcardfraud_source", "creditcardfraud_preprocessed_avro"):
        text = text.replace(name, f"{name}_{suffix}")
    return text


def test_train_on_the_csas_output(kafka_bootstrap, schema_registry_url, ksql_url, tmp_path):
    from fraudstream.producers.synthetic import TransactionGenerator

    suffix = uuid.uuid4().hex[:8]
    source, preprocessed = f"creditcardfraud_source_{suffix}", f"creditcardfraud_preprocessed_avro_{suffix}"
    frame = TransactionGenerator(seed=4, fraud_rate=0.02).sample(4000)
    lines = []
    for i, row in enumerate(frame.itertuples(index=False)):
        label = "" if i % 10 == 9 else str(int(row.Class))  # every 10th event is live, unlabelled
        values = ",".join(repr(float(v)) for v in row[:-1])
        lines.append(f"{i},2013-09-01 00:00:00,user{i % 50:04d},{values},{label}".encode())
    labelled = sum(1 for i in range(4000) if i % 10 != 9)

    create_topic(kafka_bootstrap, source, 3)
    with KsqlClient(ksql_url) as client:
        for stmt in split_statements(_statements(suffix)):
            client.execute(stmt.text, {"ksql.streams.auto.offset.reset": "earliest"})
    produce_values(kafka_bootstrap, source, lines)

    # offsets also count the CSAS's transaction markers: wait for the records themselves
    deadline = time.monotonic() + 120
    got = None
    while time.monotonic() < deadline:
        try:
            written = sum(hi - lo for lo, hi in topic_ranges(kafka_bootstrap, preprocessed).values())
        except TopicError:  # the CSAS has not created its topic yet
            written = 0
        if written >= labelled:
            got = read_topic(kafka_bootstrap, preprocessed, registry_url=schema_registry_url, progress=False)
            if got.decoded >= labelled:
                break
        time.sleep(1)
    assert got is not None and got.decoded == labelled and got.skipped_count == 0
    assert got.read == labelled < sum(o.end_offset - o.start_offset for o in got.offsets)  # markers skipped
    f = got.frame.sort_values("ID").reset_index(drop=True)
    assert {"ID", "TIMESTAMP", "USER", "TIME", "V1", "V28", "AMOUNT", "CLASS"} <= set(f.columns)
    assert f["USER"].iloc[0] == "xxer0000"  # MASK_LEFT('user0000', 2)
    kept = frame[[i % 10 != 9 for i in range(4000)]].reset_index(drop=True)
    np.testing.assert_array_equal(f["V14"].to_numpy(), kept["V14"].to_numpy())
    assert f["CLASS"].tolist() == kept["Class"].astype(str).tolist()

    result = run(TrainOptions(topic=preprocessed, model=ModelConfig(epochs=3, batch_size=128), out=tmp_path,
                              publish=False, progress=False, threads=2),
                 Endpoints(kafka_bootstrap, schema_registry_url))
    assert result.metrics["data"]["labelled_rows"] == labelled
    assert result.metrics["data"]["frauds"] == int(kept["Class"].sum())
    assert result.metrics["test"]["roc_auc"] > 0.8
    assert (result.run_dir / "report.html").is_file() and result.published is None
