"""What ``study show`` tells of a PBT study: members' lineage, exploit events, the best schedule."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.study._pbt import GENERATION, MEMBER, START, _units

if TYPE_CHECKING:
    import optuna


def population_report(study: optuna.Study) -> dict[str, Any]:
    """Members' lineage, every exploit/explore event, and the best member's schedule."""
    from optuna.trial import TrialState

    complete = _units(study, (TrialState.COMPLETE,))
    members: dict[int, list[dict[str, Any]]] = {}
    events = []
    for t in sorted(complete, key=lambda t: (t.user_attrs[GENERATION], t.user_attrs[MEMBER])):
        member, generation, start = int(t.user_attrs[MEMBER]), int(t.user_attrs[GENERATION]), t.user_attrs[START]
        members.setdefault(member, []).append({
            "generation": generation, "trial": t.number, "run_id": t.user_attrs.get("run_id"),
            "value": t.value, "params": dict(t.params), "start": start.get("kind"),
            "intermediate": {str(k): v for k, v in sorted(t.intermediate_values.items())},
        })
        if start.get("kind") == "exploit":
            events.append({"generation": generation, "member": member} | start)
    last_generation = max((g["generation"] for history in members.values() for g in history), default=-1)
    finals = {m: h[-1] for m, h in members.items() if h and h[-1]["generation"] == last_generation}
    best_member = None
    if finals:
        maximize = study.direction.name == "MAXIMIZE"
        best_member = (max if maximize else min)(finals, key=lambda m: finals[m]["value"])
    return {
        "members": {str(m): h for m, h in members.items()},
        "events": events,
        "best_member": best_member,
        "best_schedule": _schedule(members, events, best_member) if best_member is not None else [],
    }


def _schedule(members: dict[int, list[dict[str, Any]]], events: list[dict[str, Any]], member: int) -> list[dict[str, Any]]:
    """The parameters the best member's lineage trained with, generation by generation, from step 0.

    Its lineage is followed backwards: at an exploit the weights came from the donor, so
    earlier generations are the donor's.
    """
    by_gen = {(m, g["generation"]): g for m, h in members.items() for g in h}
    exploit = {(e["member"], e["generation"]): e for e in events}
    chain = []
    current = member
    generation = max(g["generation"] for g in members[member])
    while generation >= 0:
        unit = by_gen.get((current, generation))
        if unit is None:
            break
        chain.append({"generation": generation, "member": current, "run_id": unit["run_id"], "params": unit["params"],
                      "value": unit["value"], "event": unit["start"]})
        event = exploit.get((current, generation))
        if event is not None:
            current = int(event["from_member"])
        generation -= 1
    return list(reversed(chain))
