"""China Advertising Law (广告法) and FTC-style compliance checks for ad copy, with rewrites.

Public surface: `check(text, category=None, price_context=None) -> ComplianceReport` and
`rewrite(text, ...) -> RewriteResult`. Rules are YAML data in `data/`.
"""

from shopmind.compliance.engine import check
from shopmind.compliance.models import ComplianceReport, PriceContext, PricePoint, RewriteResult
from shopmind.compliance.rewrite import rewrite

__all__ = ["check", "rewrite", "ComplianceReport", "PriceContext", "PricePoint", "RewriteResult"]
