"""Submitter role: gather a quorum of checkpoint signatures and deliver batches to the destination."""
