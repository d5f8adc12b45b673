"""What members asked, voted and were left without: the feedback log, gaps and
follow-ups."""
