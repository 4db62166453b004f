"""Header names of a dead-letter record, the same for every service that writes one.

A record that cannot be processed goes to the dead-letter topic unchanged, with these
headers saying why (`reason`, one line), what kind of failure it was (`category`), where
it came from (`source`: topic/partition/offset, or file:line) and, for the scorer, which
instance rejected it.
"""

REASON_HEADER = "fraudstream.dlq.reason"
CATEGORY_HEADER = "fraudstream.dlq.category"
SOURCE_HEADER = "fraudstream.dlq.source"
INSTANCE_HEADER = "fraudstream.dlq.instance"
