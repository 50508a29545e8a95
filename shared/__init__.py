"""Code the three kaohe services share: event schemas, policy, settings, database access."""
