"""xmargin relayer: validators, submitters and keepers that carry checkpoints between chains."""

__version__ = "0.1.0"
