"""Livestream studio: exact coupon-stacking prices (`best_price`) and timed multilingual scripts (`build_script`)."""

from shopmind.live.optimizer import PriceQuote, best_price
from shopmind.live.promotions import BasketItem, PromotionSet, load_promotions, parse_promotions
from shopmind.live.script import LiveScript, build_script

__all__ = ["best_price", "build_script", "PriceQuote", "LiveScript", "BasketItem", "PromotionSet", "load_promotions",
           "parse_promotions"]
