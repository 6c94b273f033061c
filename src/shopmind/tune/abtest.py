"""Close the loop: pit an adapter's copy against the base model's copy as an A/B experiment.

Both variants go through the full `write` loop (compliance + fact checks), so the test compares
voices, never a checked text against an unchecked one. The experiment is an ordinary one in the
`ab` module: assign, ingest events and analyze it with `shopmind ab …`.
"""

from __future__ import annotations

from typing import Any

from shopmind.errors import BadInput


def create_voice_experiment(settings: Any, voice: str, product_id: str, *, content_type: str = "description",
                            metric: str = "ctr", exp_id: str | None = None, llm_base: Any = None,
                            llm_voice: Any = None) -> dict[str, Any]:
    from shopmind.experiments.models import ExperimentSpec
    from shopmind.experiments.store import open_experiments
    from shopmind.generate import WriteRequest, write
    from shopmind.tune.voice import get_voiced_llm

    llm_base = llm_base or get_voiced_llm(settings, None)
    llm_voice = llm_voice or get_voiced_llm(settings, voice)
    drafts = {}
    for key, llm in (("base", llm_base), (f"voice-{voice}", llm_voice)):
        result = write(WriteRequest(content_type=content_type, product_id=product_id, seed=settings.seed), llm)
        if not result.passed:
            raise BadInput(f"the {key} copy for {product_id} did not pass the checks; not testing it")
        drafts[key] = result.content
    try:
        spec = ExperimentSpec(id=exp_id, name=f"voice {voice} vs base", product_id=product_id,
                              content_type=content_type, metric=metric,
                              variants=[{"key": k, "payload": v, "weight": 1.0, "control": k == "base"}
                                        for k, v in drafts.items()])
    except ValueError as exc:
        raise BadInput(f"invalid experiment: {exc}") from exc
    return open_experiments(settings).create(spec).model_dump()
