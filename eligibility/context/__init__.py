"""Context of a patient-text mention (negated, family, historical, hypothetical), from ConText rules as data."""

from eligibility.context.matcher import Context, clause_bounds, context, cues
from eligibility.context.subject import proxy_relative

__all__ = ["Context", "clause_bounds", "context", "cues", "proxy_relative"]
