"""Conversations: earlier turns read into a follow-up before it is searched."""

from assistant.conversation.followup import Resolution, names, resolve
from assistant.conversation.prior import prior_doc_ids, with_prior

__all__ = ["Resolution", "names", "prior_doc_ids", "resolve", "with_prior"]
