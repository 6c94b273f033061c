"""China Advertising Law (广告法) and FTC-style compliance checks for ad copy, with rewrites.

Public surface: `check(text, category=None, price_context=None, facts=None) -> ComplianceReport` and
`rewrite(text, ..., facts=None) -> RewriteResult`. Texts are normalised before matching (normalise.py),
each sentence's language picks its rule set (language.py), and a language without rules makes the verdict
`unchecked`. Rules are YAML data in `data/`.
"""

from shopmind.compliance.engine import check
from shopmind.compliance.models import ComplianceReport, PriceContext, PricePoint, RewriteResult
from shopmind.compliance.rewrite import rewrite

__all__ = ["check", "rewrite", "ComplianceReport", "PriceContext", "PricePoint", "RewriteResult"]
