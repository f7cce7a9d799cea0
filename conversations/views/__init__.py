"""Agent inbox pages (issue #5): lists, conversation, settings for saved replies."""
