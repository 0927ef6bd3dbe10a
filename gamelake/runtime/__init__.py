"""The embedded local stack: JVM artifacts, Java lookup, Kafka and Trino as local processes."""
