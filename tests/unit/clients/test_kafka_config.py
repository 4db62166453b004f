"""One place builds every Kafka client's configuration: the call site's settings win."""

from fraudstream.clients.kafka_config import admin_config, consumer_config, producer_config


def test_call_site_settings_are_merged_over_the_common_part():
    assert producer_config("b:9092", {"acks": "all"}) == {"bootstrap.servers": "b:9092", "acks": "all"}
    assert admin_config("b:9092") == {"bootstrap.servers": "b:9092"}
    conf = consumer_config("b:9092", "g", {"isolation.level": "read_committed"})
    assert conf == {"bootstrap.servers": "b:9092", "group.id": "g", "isolation.level": "read_committed"}


def test_a_group_less_consumer_gets_a_group_of_its_own():
    a, b = consumer_config("b:9092")["group.id"], consumer_config("b:9092")["group.id"]
    assert a != b and a.startswith("fraudstream-reader-")
