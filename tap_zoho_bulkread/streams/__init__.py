"""singer-sdk glue: the streams of the tap."""
