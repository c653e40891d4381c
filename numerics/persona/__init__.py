"""Real data: persona-format preference sets embedded by a real model (issue 6)."""
