"""The coupon-stacking optimiser: worked examples, typed errors, and hypothesis vs an independent brute force."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopmind.errors import BadInput
from shopmind.live import optimizer as opt
from shopmind.live.optimizer import allocate, best_price
from shopmind.live.promotions import (
    BasketItem,
    DirectDiscount,
    EveryReduction,
    Gift,
    PromotionSet,
    StackingRules,
    StoreCoupon,
    TieredReduction,
    parse_promotions,
)
from shopmind.live.reference import _legal, brute_force_total, random_case

D = Decimal


def quote(items, promos, rules=None):
    return best_price(items, PromotionSet(promotions=promos, rules=rules or StackingRules()))


# -- worked examples -------------------------------------------------------------------------------
def test_tiered_reduction_takes_highest_tier_reached():
    q = quote([("a", "320.00", 1)], [TieredReduction(id="p", tiers="满300减40,满500减80")])
    assert q.final_total == D("280.00") and q.applied == ["p"]
    q = quote([("a", "260.00", 2)], [TieredReduction(id="p", tiers="满300减40,满500减80")])
    assert q.final_total == D("440.00")


def test_every_reduction_repeats_and_caps():
    q = quote([("a", "650", 1)], [EveryReduction(id="e", every=200, amount=20)])
    assert q.final_total == D("590.00")
    q = quote([("a", "650", 1)], [EveryReduction(id="e", every=200, amount=20, cap=50)])
    assert q.final_total == D("600.00")


def test_discount_rounds_half_up_per_unit_and_respects_limits():
    d = DirectDiscount(id="d", rate="8.5折", per_order_limit=2)
    assert d.rate == D("0.85")
    q = quote([("a", "99.90", 3)], [d])  # 99.90*0.85 = 84.915 -> 84.92, twice, then full price
    assert q.final_total == D("84.92") * 2 + D("99.90")
    q = quote([("a", "99.90", 3)], [DirectDiscount(id="d", rate="0.85", stock=1)])
    assert q.final_total == D("84.92") + D("99.90") * 2


def test_exclusive_coupon_competes_with_coupon_plus_platform():
    promos = [TieredReduction(id="plat", tiers=[(D(300), D(40))]), StoreCoupon(id="small", threshold=D(0), amount=D(10)),
              StoreCoupon(id="excl", percent_off=D(20), cap=D(45), exclusive=True)]
    q = quote([("a", "300", 1)], promos)  # 40+10=50 beats exclusive 45
    assert q.final_total == D("250.00") and set(q.applied) == {"plat", "small"}
    promos[2] = StoreCoupon(id="excl", percent_off=D(20), cap=D(55), exclusive=True)
    q = quote([("a", "300", 1)], promos)
    assert q.final_total == D("245.00") and q.applied == ["excl"]


def test_coupon_that_does_not_stack_with_platform():
    promos = [TieredReduction(id="plat", tiers=[(D(100), D(30))]),
              StoreCoupon(id="c", amount=D(20), stacks_with_platform=False)]
    assert quote([("a", "100", 1)], promos).applied == ["plat"]
    rules = StackingRules(coupon_with_platform=False)
    promos[1] = StoreCoupon(id="c", amount=D(35))
    assert quote([("a", "100", 1)], promos, rules).applied == ["c"]


def test_max_store_coupons_and_scope():
    promos = [StoreCoupon(id="c1", amount=D(10)), StoreCoupon(id="c2", amount=D(15)), StoreCoupon(id="c3", amount=D(5), product_ids=["b"])]
    assert quote([("a", "100", 1)], promos).applied == ["c2"]
    q = quote([("a", "100", 1)], promos, StackingRules(max_store_coupons=2))
    assert q.applied == ["c1", "c2"] and q.final_total == D("75.00")
    q = quote([("a", "100", 1), ("b", "3", 1)], promos, StackingRules(max_store_coupons=3))
    assert q.final_total == D("75.00")  # c3 is capped by its scope (b costs 3)


def test_basket_allocation_adds_up_and_breakdown_is_bilingual():
    promos = [TieredReduction(id="plat", tiers=[(D(300), D(40))]), DirectDiscount(id="d", rate=D("0.9"), product_ids=["a"]),
              Gift(id="g", threshold=D(200), gift_zh="收纳袋", gift_en="a bag")]
    q = quote([("a", "199", 1), ("b", "59.9", 3)], promos)
    assert sum(i.line_final for i in q.items) == q.final_total
    assert q.final_total == D("179.10") + D("179.70") - D(40)
    assert q.breakdown("zh").splitlines()[-2].startswith("到手价") and "收纳袋" in q.breakdown("zh")
    assert "Final price ¥318.80" in q.breakdown("en")
    assert all(isinstance(v, Decimal) for v in (q.final_total, q.items[0].unit_final))


def test_allocate_largest_remainder():
    assert allocate(100, [1, 1, 1]) == [34, 33, 33]
    assert sum(allocate(4001, [299, 59, 1])) == 4001
    assert allocate(5, [0, 0]) == [0, 0]


def test_bad_input_is_typed():
    with pytest.raises(BadInput):
        best_price([], None)
    with pytest.raises(BadInput):
        best_price([("a", "1", 1), ("a", "2", 1)], None)
    with pytest.raises(BadInput):
        best_price([{"product_id": "a", "unit_price": "-1"}], None)
    with pytest.raises(BadInput):
        parse_promotions([{"kind": "coupon", "id": "c", "amount": 5, "percent_off": 10}])
    with pytest.raises(BadInput):
        parse_promotions([{"kind": "coupon", "id": "c", "amount": 5}, {"kind": "coupon", "id": "c", "amount": 6}])
    with pytest.raises(BadInput):
        parse_promotions({"promotions": [{"kind": "platform_tiers", "id": "t", "tiers": "三百减四十"}]})


# -- property-based comparison with the brute force ------------------------------------------------
money = st.integers(min_value=0, max_value=80_000).map(lambda c: Decimal(c) / 100)
pos_money = st.integers(min_value=1, max_value=20_000).map(lambda c: Decimal(c) / 100)
IDS = ["a", "b", "c"]
scope = st.one_of(st.none(), st.lists(st.sampled_from(IDS), min_size=1, max_size=3, unique=True))


@st.composite
def cases(draw):
    n = draw(st.integers(1, 3))
    items = [BasketItem(product_id=IDS[i], unit_price=draw(money), qty=draw(st.integers(1, 4))) for i in range(n)]
    promos = []
    for k in range(draw(st.integers(0, 7))):
        kind = draw(st.sampled_from(["tiers", "every", "coupon", "percent", "discount", "gift"]))
        pid = f"{kind}{k}"
        if kind == "tiers":
            promos.append(TieredReduction(id=pid, product_ids=draw(scope), tiers=draw(st.lists(st.tuples(money, pos_money), min_size=1, max_size=3))))
        elif kind == "every":
            promos.append(EveryReduction(id=pid, product_ids=draw(scope), every=draw(pos_money), amount=draw(pos_money),
                                         cap=draw(st.one_of(st.none(), pos_money))))
        elif kind == "coupon":
            promos.append(StoreCoupon(id=pid, product_ids=draw(scope), threshold=draw(money), amount=draw(pos_money),
                                      exclusive=draw(st.booleans()), stacks_with_platform=draw(st.booleans())))
        elif kind == "percent":
            promos.append(StoreCoupon(id=pid, product_ids=draw(scope), threshold=draw(money), percent_off=D(draw(st.integers(1, 99))),
                                      cap=draw(st.one_of(st.none(), pos_money)), exclusive=draw(st.booleans()),
                                      stacks_with_platform=draw(st.booleans())))
        elif kind == "discount":
            promos.append(DirectDiscount(id=pid, product_ids=draw(scope), rate=D(draw(st.integers(1, 99))) / 100,
                                         per_order_limit=draw(st.one_of(st.none(), st.integers(1, 4))),
                                         stock=draw(st.one_of(st.none(), st.integers(0, 5)))))
        else:
            promos.append(Gift(id=pid, product_ids=draw(scope), threshold=draw(money), gift_zh="赠品", gift_en="gift"))
    rules = StackingRules(max_store_coupons=draw(st.integers(0, 3)), coupon_with_platform=draw(st.booleans()))
    return items, PromotionSet(promotions=promos, rules=rules)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_optimiser_matches_brute_force(case):
    items, promos = case
    q = best_price(items, promos)
    assert q.final_total == brute_force_total(items, promos)
    # the chosen plan is itself legal, and the numbers are consistent to the cent
    chosen = [p for p in promos.promotions if p.id in q.applied]
    assert _legal(chosen, promos.rules)
    assert sum(i.line_final for i in q.items) == q.final_total
    assert all(i.line_final >= 0 for i in q.items)
    assert q.final_total <= q.discounted_total <= q.original_total
    assert q.savings == q.original_total - q.final_total
    assert q.final_total == q.final_total.quantize(Decimal("0.01"))


def test_brute_force_catches_a_wrong_optimiser(monkeypatch):
    """The comparison can fail: an optimiser that forgets exclusive coupons disagrees on some case."""
    real = opt._best_plan

    def forgetful(coupons, platforms, promos):
        return real([(c, s) for c, s in coupons if not c.exclusive], platforms, promos)

    monkeypatch.setattr(opt, "_best_plan", forgetful)
    rng = random.Random(3)
    disagreements = 0
    for _ in range(400):
        items, promos = random_case(rng)
        disagreements += best_price(items, promos).final_total != brute_force_total(items, promos)
    assert disagreements > 0
