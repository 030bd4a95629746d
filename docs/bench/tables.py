#!/usr/bin/env python3
"""Markdown tables of docs/security.md §4 from the raw JSON reports in docs/bench/.

Usage: python3 docs/bench/tables.py > /tmp/tables.md
"""
import glob
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
ORDER = ["garbage", "copier", "lazy", "false-accuser", "late-accuser", "raise-flood",
         "colluder", "grinder", "bad-distributor", "list-blocker", "flaky", "manager-updater"]


def load():
    rows = []
    for p in glob.glob(os.path.join(HERE, "security-v2-*.json")):
        name = os.path.basename(p)[len("security-v2-"):-len(".json")]
        base = name.rsplit("-r", 1)[0] if name.rsplit("-", 1)[1].startswith("r") else name
        strat, share = base.rsplit("-", 1)
        with open(p) as f:
            rows.append((strat, int(share) if share.isdigit() else share, name, json.load(f)))
    key = lambda r: (str(r[1]), ORDER.index(r[0]) if r[0] in ORDER else 99, len(r[2]), r[2])
    return sorted(rows, key=key)


def mix(cfg):
    return ",".join(f"{k}={v // 100}" + (f".{v % 100:02d}" if v % 100 else "") for k, v in cfg["mix"].items())


def cmd(cfg):
    return f"gradual-sim --seed {cfg['seed']:#x} --nodes {cfg['nodes']} --rounds {cfg['rounds']} --mix {mix(cfg)}"


def adv(r):
    seats = r["seats"]
    if not seats:
        return "–"
    won = sum(c["seats"] for n, c in r["classes"].items() if n != "honest")
    exp = sum(c["seats_expected"] for n, c in r["classes"].items() if n != "honest")
    return f"{won * 100 / seats:.2f} % / {exp * 100 / seats:.2f} %"


def list_adv(r):
    seats = r.get("list_seats", 0)
    if not seats:
        return "–"
    won = sum(c.get("list_seats", 0) for n, c in r["classes"].items() if n != "honest")
    exp = sum(c.get("list_seats_expected", 0.0) for n, c in r["classes"].items() if n != "honest")
    return f"{won * 100 / seats:.2f} % / {exp * 100 / seats:.2f} %"


def pred(r, key):
    v = r.get(key)
    return "–" if v is None else f"{v:.2f}"


def main():
    rows = load()
    print("| strategy | adv. stake | command (raw output) | honest reward / fair | honest stake wrongly slashed / round (events) | catch rate (voided / landed) | false accusations: refuted / unresolved / upheld (predicted Σ P(X > K/2)) | lists: paid / bad rejected / honest rejected (vindicated; predicted) / not submitted | adversary seats, audits: won / pool share | adversary seats, lists: won / pool share | raises refused: late / too many | rounds unpaid / settled |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for strat, share, name, r in rows:
        c = r["config"]
        refused_late = sum(x["raises_refused_late"] for x in r["classes"].values())
        refused_many = sum(x["raises_refused_too_many"] for x in r["classes"].values())
        print(
            f"| {strat} | {share} % | [`{cmd(c)}`](bench/security-v2-{name}.txt) "
            f"| {r['honest_reward_pct']:.3f} % "
            f"| {r['honest_slash_pct_per_round']:.4f} % ({r['honest_slash_events']}) "
            f"| {r['catch_rate_pct']:.2f} % ({r['bad_proofs_voided']} / {r['bad_proofs']}) "
            f"| {r['false_refuted']} / {r['false_unresolved']} / {r['false_upheld']} ({pred(r, 'false_upheld_expected')}) "
            f"| {r['payouts']} / {r['bad_lists_rejected']} / {r['honest_lists_rejected']} ({r['vindications']}; {pred(r, 'honest_lists_rejected_expected')}) / {r['lists_missing']} "
            f"| {adv(r)} | {list_adv(r)} | {refused_late} / {refused_many} "
            f"| {r['rounds_unpaid']} / {r['rounds_settled']} |"
        )
    print()
    print("| strategy | adv. stake | class | nodes | net / node (KOII) | list rewards / node (KOII) | slashed (KOII) | seats won / expected (z) | raises | first ranked / turns / missed |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for strat, share, name, r in rows:
        for cname, x in sorted(r["classes"].items()):
            n = max(x["nodes"], 1)
            net = (x["final_roe"] - x["initial_roe"]) / n / 1e9
            z = (x["seats"] - x["seats_expected"]) / x["seats_var"] ** 0.5 if x["seats_var"] > 0 else 0.0
            seats = f"{x['seats']} / {x['seats_expected']:.0f} ({z:+.2f})" if r["seats"] else "–"
            print(
                f"| {strat} | {share} % | {cname} | {x['nodes']} | {net:+.2f} | {x['rewards_roe'] / n / 1e9:.3f} "
                f"| {x['slashed_roe'] / 1e9:.1f} | {seats} | {x['raises']} | {x['first_ranked']} / {x['turns']} / {x['missed_turns']} |"
            )
    print()
    print("| strategy | adv. stake | candidates evaluated | raise variants tried | distinct predicted committees | raises chosen | grinder seats per committee: predicted / won / expected |")
    print("|---|---|---|---|---|---|---|")
    for strat, share, name, r in rows:
        g = r["grind"]
        if not g["candidates"]:
            continue
        print(
            f"| {strat} | {share} % | {g['candidates']} | {g['tries']} | {g['distinct']} | {g['raises_chosen']} "
            f"| {g['predicted_seats'] / max(g['raises_chosen'], 1):.2f} / {g['actual_seats'] / max(g['committees'], 1):.2f} / {g['expected_seats'] / max(g['committees'], 1):.2f} |"
        )
    print()
    for strat, share, name, r in rows:
        if r.get("manager_round") is not None:
            print(f"- manager-updater {share} %: struck in the middle of round {r['manager_round']}, {r['manager_txs_ok']} of 2 txs landed; rounds 1..={r['manager_round']} paid: {r['rounds_before_update_paid']} / {r['rounds_before_update']}")
    print()
    print("State roots: " + "; ".join(f"{name} `{r['state_root']}`" for _, _, name, r in rows))


if __name__ == "__main__":
    main()
