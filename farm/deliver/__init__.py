"""Deliverables: a release's masters turned into the files stores and plants take, each verified after writing."""
