"""leadscore serving package."""
