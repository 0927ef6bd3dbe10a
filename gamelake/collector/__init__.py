"""The HTTP collector: game clients POST events, valid ones land in their family's Kafka topic.

app.py       the HTTP API (its request and answer formats), create_app
ingest.py    validation, envelopes, routing and rejects of events, without HTTP
guards.py    ASGI middleware: collector keys, rate limits, the body-size limit
emulator.py  seed 003's game API (/create/user, /buy/sword, ...) over in-memory players
"""
