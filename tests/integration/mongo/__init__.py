"""Mongo-only behaviour: schema ensuring, faults, the pipeline state machine on Mongo."""
