"""leadscore training package."""
