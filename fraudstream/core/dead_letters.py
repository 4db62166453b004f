"""Header names of a dead-letter record, the same for every service that writes one.

A record that cannot be processed goes to the dead-letter topic unchanged, with these
headers saying why (`reason`, one line), what kind of failure it was (`category`), where
it came from (`source`: topic/partition/offset, or file:line) and, for the scorer, which
instance rejected it. A value too large to be copied whole is cut to what the
dead-letter topic accepts (`fraudstream.clients.dead_letters.bounded`); then `truncated`
says so and `original_size` and `sha256` describe the original value.
"""

REASON_HEADER = "fraudstream.dlq.reason"
CATEGORY_HEADER = "fraudstream.dlq.category"
SOURCE_HEADER = "fraudstream.dlq.source"
INSTANCE_HEADER = "fraudstream.dlq.instance"
TRUNCATED_HEADER = "fraudstream.dlq.truncated"
ORIGINAL_SIZE_HEADER = "fraudstream.dlq.original_size"
DIGEST_HEADER = "fraudstream.dlq.sha256"
