"""The exactly-once ledger: what every card committed against what every terminal journaled.

``check(run)`` takes a finished ``hw_sim.scenario.Run`` (any number of terminals and
cards) and returns the violations, one line each (empty: all is well). ``audit(run)``
returns the whole ``Ledger``: the violations, a verdict for every transaction a card
committed, and the intents still open, so a test can also demand "nothing pending"
when the card did come back.

The card model's ``app.commits`` is the truth (every DEBIT and CREDIT the card
committed: ``hw_sim.purse_app.Commit``); the terminals' journals (docs/stores.md
"Journal") are checked against it:

1. Every journal verifies (CRC and MAC chain under the terminal's device key, its
   terminal id) and its seqs are 1..n.
2. Every commit has its intent (``purchase-intent`` / ``load-intent``: same card, ATC,
   transaction type, amount and time) at the terminal whose id the card recorded, and
   that intent is either completed by exactly one completion record (``purchase``,
   ``entry``, ``exit``, ``load``, ``void``, ``refund`` linked to it): verdict
   ``completed``; or still unresolved (the card never came back, or the terminal could
   not decide): verdict ``pending``. An intent closed ``unpaid`` or ``abandoned`` for a
   transaction the card did commit is a violation (money taken, no record of it).
   Attempts that look alike (same ATC, amount and second: one cut off before its DEBIT,
   retried at once) stand for one commit: the completed one, else an open one.
   Unique terminal sequence numbers across a terminal's intents.
3. No completion without a commit: a completion whose intent matches nothing the card
   committed at that terminal; no intent resolved twice; no resolving record that
   links to something other than an intent.
4. A completion says what the card did: its ATC, type, balance after and amount (a
   plain sale's or load's amount is the commit's; a void's or refund's cash part is
   minus the load; a give-back's record part debits 0), and its TAC verifies in the
   back office (``hw_sim.issuer.verify_tac`` / ``verify_load_tac``).
5. The card model itself adds up: opening balance minus debits plus loads, each commit's
   balance after, and consecutive counters.
"""

import datetime
from collections import namedtuple

INTENTS = ("purchase-intent", "load-intent")
COMPLETIONS = ("purchase", "entry", "exit", "load", "void", "refund")
CLOSED = ("unpaid", "abandoned")  # the terminal says the card did not commit it
RESOLVING = COMPLETIONS + CLOSED
GIVE_BACKS = ("void", "refund")

COMPLETED = "completed"
PENDING = "pending"

# One committed card transaction and what its terminal made of it: ``state`` is
# COMPLETED (``completion`` is the record) or PENDING (``intent`` still open), or
# None when the ledger found no proper account of it (a violation says why).
Verdict = namedtuple("Verdict", ("card", "terminal", "commit", "state", "intent", "completion"))
# An intent nothing resolved: ``committed`` says whether the card made that transaction.
Open = namedtuple("Open", ("terminal", "intent", "committed"))


class Ledger:
    """What ``audit`` found: ``violations`` (lines), ``verdicts`` (a Verdict per commit,
    in terminal order), ``open`` (Open intents) and ``journals`` (terminal name -> the
    records, as ``host_tools.lib.journal.dump`` gives them)."""

    def __init__(self):
        self.violations = []
        self.verdicts = []
        self.open = []
        self.journals = {}  # terminal name -> [record dict]

    def pending(self, card=None, terminal=None):
        """Committed transactions whose completion is still to come (optionally of one
        card name and/or terminal name)."""
        return [v for v in self.verdicts if v.state == PENDING
                and card in (None, v.card) and terminal in (None, v.terminal)]

    def open_intents(self, card=None, terminal=None, number=None):
        """Unresolved intents (of a card name, or card number, and/or terminal name)."""
        return [o for o in self.open if terminal in (None, o.terminal)
                and (number is None or o.intent["card"] == number)
                and (card is None or o.intent.get("_card_name") == card)]

    def summary(self):
        """A one-line count of the verdicts."""
        done = sum(1 for v in self.verdicts if v.state == COMPLETED)
        return "%d commits: %d completed, %d pending; %d intents open; %d violations" % (
            len(self.verdicts), done, len(self.pending()), len(self.open), len(self.violations))


def _files(sim):
    from hw_sim.lfs import LfsVfs

    fs = LfsVfs(sim.flash)
    try:
        names = sorted(fs.listdir("/journal"))
    except OSError:
        return {}
    files = {}
    for name in names:
        with fs.open("/journal/" + name, "rb") as f:
            files[name] = f.read()
    return files


def _time7(dt7):
    """A card's BCD datetime(7) as a naive datetime."""
    d = dt7.hex()
    return datetime.datetime(int(d[0:4]), int(d[4:6]), int(d[6:8]), int(d[8:10]),
                             int(d[10:12]), int(d[12:14]))


def _describe(c):
    what = "load" if c.kind == "load" else "debit"
    return "%s of %d fen (type %02d, ATC %d, %s)" % (
        what, c.amount, c.tx_type, c.atc, _time7(c.datetime7).time().isoformat())


def audit(run):  # noqa: C901  (one rule of the ledger per branch, docs in the docstring)
    """The Ledger of a finished Run (module docstring)."""
    from host_tools.lib.journal import dump, verify
    from hw_sim.issuer import IssuerKeys, verify_load_tac, verify_tac

    led = Ledger()
    bad = led.violations.append
    sc = run.scenario

    # -- the terminals' journals ------------------------------------------------------------
    by_id = {}  # 6-byte terminal id -> terminal name
    for t in sc.terminals:
        name = t["id"]
        cfg = sc.terminal_config(t)
        tid = bytes.fromhex(cfg["terminal_id"])
        by_id[tid] = name
        files = _files(run.terms[name])
        recs = list(dump(files))
        led.journals[name] = recs
        if files:
            verdict = verify(files, bytes.fromhex(cfg["keys"]["device"]), tid)
            if not verdict.ok:
                bad("%s: journal does not verify: %s" % (name, verdict.problem))
        seqs = [x["seq"] for x in recs]
        if seqs != list(range(1, len(seqs) + 1)):
            bad("%s: journal seqs are not 1..n: %s" % (name, seqs[:12]))

    # -- the cards' commits -----------------------------------------------------------------
    names = {}  # card number -> [card name]
    commits = {}  # (terminal name, card number) -> [(card name, Commit)]
    for cname, c in sc.cards.items():
        app = run.apps[cname]
        names.setdefault(c["number"], []).append(cname)
        bad_card = _card_adds_up(cname, c, app)
        for line in bad_card:
            bad(line)
        for cm in app.commits:
            term = by_id.get(bytes(cm.terminal_id))
            if term is None:
                bad("%s: %s by terminal %s, which is not in the run"
                    % (cname, _describe(cm), bytes(cm.terminal_id).hex()))
                continue
            commits.setdefault((term, c["number"]), []).append((cname, cm))

    # -- each terminal's intents against the commits -------------------------------------------
    for term, recs in led.journals.items():
        by_seq = {x["seq"]: x for x in recs}
        intents = {x["seq"]: x for x in recs if x["kind"] in INTENTS}
        resolved = {}
        for x in recs:
            if x["kind"] not in RESOLVING:
                continue
            if x["link"] in intents:
                resolved.setdefault(x["link"], []).append(x)
            else:
                target = by_seq.get(x["link"])
                bad("%s: %s seq %d links to %s, not to an intent" % (
                    term, x["kind"], x["seq"],
                    "nothing" if target is None else "%s seq %d" % (target["kind"], x["link"])))
        for seq, rs in resolved.items():
            if len(rs) > 1:
                bad("%s: intent seq %d resolved %d times: %s" % (
                    term, seq, len(rs), ", ".join("%s seq %d" % (r["kind"], r["seq"]) for r in rs)))
        tseqs = [i["tseq"] for i in intents.values()]
        if len(tseqs) != len(set(tseqs)):
            bad("%s: a terminal sequence number was used by two intents: %s" % (
                term, sorted(t for t in set(tseqs) if tseqs.count(t) > 1)))
        claimed = {}
        for (t, number), cms in sorted(commits.items()):
            if t != term:
                continue
            for cname, cm in cms:
                led.verdicts.append(_match(led, term, cname, number, cm, intents, resolved,
                                           claimed))
        for seq, i in intents.items():
            rs = resolved.get(seq, [])
            if seq not in claimed:
                for r in rs:
                    if r["kind"] in COMPLETIONS:
                        bad("%s: %s seq %d completes intent seq %d (card %s, ATC %d, type %02d, "
                            "%d fen), which the card never committed" % (
                                term, r["kind"], r["seq"], seq, i["card"], i["atc"],
                                i["tx_type"], i["amount"]))
            if not rs:
                rec = dict(i, _card_name=(names.get(i["card"]) or [None])[0])
                led.open.append(Open(term, rec, seq in claimed))

    # -- completions say what the card did -------------------------------------------------
    for v in led.verdicts:
        if v.state != COMPLETED:
            continue
        r, cm, i = v.completion, v.commit, v.intent
        where = "%s: %s seq %d (card %s)" % (v.terminal, r["kind"], r["seq"], v.card)
        if (r["card"], r["atc"], r["tx_type"]) != (i["card"], cm.atc, cm.tx_type):
            bad("%s: card/ATC/type %s/%d/%02d, the card committed %s/%d/%02d" % (
                where, r["card"], r["atc"], r["tx_type"], i["card"], cm.atc, cm.tx_type))
        if r["balance"] != cm.balance:
            bad("%s: balance after %d, the card's is %d" % (where, r["balance"], cm.balance))
        if r["kind"] in GIVE_BACKS:
            if cm.kind == "load" and r["amount"] != -cm.amount:
                bad("%s: gives back %d, the card was loaded %d" % (where, -r["amount"], cm.amount))
            if cm.kind != "load" and cm.amount != 0:
                bad("%s: a give-back part debited %d fen" % (where, cm.amount))
        elif r["amount"] != cm.amount:
            bad("%s: amount %d, the card committed %d" % (where, r["amount"], cm.amount))
        if r["tseq"] != i["tseq"]:
            bad("%s: terminal sequence %d, its intent's %d" % (where, r["tseq"], i["tseq"]))
        keys = IssuerKeys.from_seed(str(sc.cards[v.card].get("issuer_seed", sc.seed)).encode())
        tac = bytes.fromhex(r["tac"])
        if cm.kind == "load":
            ok = verify_load_tac(keys, i["card"], tac, balance_after=cm.balance,
                                 online_atc=cm.atc, amount=cm.amount,
                                 terminal_id=bytes(cm.terminal_id), datetime7=bytes(cm.datetime7))
        else:
            ok = verify_tac(keys, i["card"], tac, balance_after=cm.balance, atc=cm.atc,
                            amount=cm.amount, tx_type=cm.tx_type,
                            terminal_id=bytes(cm.terminal_id), term_seq=r["tseq"],
                            datetime7=bytes(cm.datetime7))
        if not ok:
            bad("%s: TAC %s does not verify" % (where, r["tac"]))
    return led


def _match(led, term, cname, number, cm, intents, resolved, claimed):
    """The Verdict of commit ``cm`` at terminal ``term``; violations go to ``led``."""
    bad = led.violations.append
    when = _time7(cm.datetime7)
    same = [i for i in intents.values() if i["card"] == number and i["atc"] == cm.atc
            and i["tx_type"] == cm.tx_type]
    exact = [i for i in same if i["amount"] == cm.amount
             and datetime.datetime.fromisoformat(i["time"]) == when]
    what = "%s: card %s committed a %s" % (term, cname, _describe(cm))
    if not exact:
        bad("%s with no intent before it%s" % (
            what, "" if not same else " (intents seq %s have that ATC)"
            % ", ".join(str(i["seq"]) for i in same)))
        return Verdict(cname, term, cm, None, None, None)
    # Several attempts can look alike (same ATC, amount and second: one torn before its
    # DEBIT was sent, retried at once); the card committed one of them: the completed
    # one (its TAC, checked later, names its terminal sequence), else an open one.
    done = [(i, r) for i in exact for r in resolved.get(i["seq"], []) if r["kind"] in COMPLETIONS]
    still = [i for i in exact if not resolved.get(i["seq"])]
    if len(done) > 1:
        bad("%s once; it was completed %d times (%s)" % (what, len(done), ", ".join(
            "%s seq %d of intent seq %d" % (r["kind"], r["seq"], i["seq"]) for i, r in done)))
    if done:
        i, r = done[0]
    elif still:
        i, r = still[-1], None
    else:
        i = exact[-1]
        rs = resolved[i["seq"]]
        bad("%s, but intent seq %d was closed %s (seq %d)" % (what, i["seq"], rs[0]["kind"],
                                                               rs[0]["seq"]))
        return Verdict(cname, term, cm, None, i, None)
    if i["seq"] in claimed:
        bad("%s, and intent seq %d already stands for another commit" % (what, i["seq"]))
    claimed[i["seq"]] = cm
    if r is not None:
        return Verdict(cname, term, cm, COMPLETED, i, r)
    return Verdict(cname, term, cm, PENDING, i, None)


def _card_adds_up(cname, c, app):
    """The card model's own arithmetic: balances, counters."""
    out = []
    balance = c.get("balance_fen", 0)
    atcs = {"debit": [], "load": []}
    for cm in app.commits:
        balance += cm.amount if cm.kind == "load" else -cm.amount
        if cm.balance != balance:
            out.append("%s: %s leaves %d fen, the commits before it say %d"
                       % (cname, _describe(cm), cm.balance, balance))
            balance = cm.balance
        atcs[cm.kind].append(cm.atc)
    if app.balance != balance:
        out.append("%s: balance %d, opening %d minus debits plus loads is %d"
                   % (cname, app.balance, c.get("balance_fen", 0), balance))
    for kind, counter in (("debit", app.offline_atc), ("load", app.online_atc)):
        seen = atcs[kind]
        if seen and (seen != list(range(seen[0], seen[0] + len(seen))) or seen[-1] + 1 != counter):
            out.append("%s: %s ATCs %s do not count up to the card's %d" % (
                cname, kind, seen, counter))
    return out


def check(run):
    """Violations of the exactly-once ledger for a finished Run (empty: all is well)."""
    return audit(run).violations
