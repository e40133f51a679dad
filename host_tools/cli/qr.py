"""`ykt qr`: test e-card QR codes (docs/qr.md).

    ykt qr issue  (--issuer-seed S | --issuer-key PEM) (--holder-seed S | --holder-key PEM)
                  --id-number N --card C [--alg rsa|p256] [--rsa-exponent 3|65537]
                  [--at T] [--validity S] [--cert-days D] [--png FILE] [--show]
    ykt qr check  CODE (--anchors FILE | --issuer-seed S ...) [--at T] [--json]
    ykt qr anchors (--issuer-seed S | --issuer-key PEM)... [--alg rsa|p256]
                  --set production|test --version N [--until T] -o FILE
    ykt qr deny-number CARD

Codes are RSA-2048 (algorithm 3) by default, P-256 (algorithm 1) with ``--alg p256``; a key
from a seed is of the algorithm asked, a key from a PEM file of its own.

``check`` exits 0 when the terminal would admit the code, 1 when it would refuse it.
"""

import hashlib
import json

from host_tools.cli import examples

DAY = 86400


def _seeded(args, seed):
    from host_tools.lib import qr

    return qr.key_from_seed(seed, args.alg, args.rsa_exponent)


def _issuers(args):
    from host_tools.lib import qr

    keys = [_seeded(args, s) for s in args.issuer_seed or []]
    keys += [qr.load_private_key(p) for p in args.issuer_key or []]
    if not keys:
        raise ValueError("give --issuer-seed or --issuer-key")
    return keys


def _issue(args):
    from host_tools.lib import qr

    issuer = _issuers(args)[0]
    if bool(args.holder_seed) == bool(args.holder_key):
        raise ValueError("give one of --holder-seed and --holder-key")
    holder = (_seeded(args, args.holder_seed) if args.holder_seed
              else qr.load_private_key(args.holder_key))
    if args.match_secret_file:
        from host_tools.lib.files import read_input

        secret = read_input(args.match_secret_file, "match secret").strip()
    elif args.issuer_seed:
        secret = hashlib.sha256(b"ykt-qr-match:" + args.issuer_seed[0].encode()).digest()
    else:
        raise ValueError("with --issuer-key, give --match-secret-file")
    region, birth = qr.id_fields(args.id_number)
    now = qr.parse_time(args.at)
    raw = qr.issue(issuer, holder, cert_not_after=now + args.cert_days * DAY,
                   match=qr.match_key(secret, args.id_number), card=args.card,
                   region=region, birth=birth, generated=now, validity=args.validity)
    text = qr.encode(raw)
    print(text)
    sym = qr.qr(text)
    if args.png:
        sym.save(args.png, scale=4, border=4)
    if args.show:
        sym.terminal(compact=True)
    return 0


def _anchor_map(args):
    from host_tools.lib import qr
    from host_tools.lib.files import read_input

    out = {}
    if args.anchors:
        for a in qr.read_anchors(read_input(args.anchors, "trust anchor"))[2]:
            out[a.kid] = a
    keys = [qr.key_from_seed(s, alg, e) for s in args.issuer_seed or []
            for alg, e in (("rsa", 3), ("rsa", 65537), ("p256", 3))]
    keys += [qr.load_private_key(p) for p in args.issuer_key or []]
    for k in keys:  # a seed stands for its keys of either algorithm and RSA exponent
        pub = k.public_key()
        out[qr.key_id(pub)] = qr.Anchor(qr.key_id(pub), 0xFFFFFFFF, pub, True)
    if not out:
        raise ValueError("give --anchors or --issuer-seed/--issuer-key to check against")
    return out


def _check(args):
    from host_tools.lib import qr

    anchors = _anchor_map(args)
    raw = qr.decode(args.code)
    now = qr.parse_time(args.at)
    f = qr.fields(raw)
    f["verdict"] = qr.verdict(raw, anchors, now)
    a = anchors.get(int(f["key_id"], 16))
    f["signed_by"] = ("issuer key %s, %s (%s)" % (f["key_id"], f["alg"],
                                                  "test" if a.test else "production")
                      if a else "issuer key %s: not a trust anchor" % f["key_id"])
    f["valid_until"] = qr.when(qr.secs(qr.datetime.datetime.fromisoformat(f["generated"]))
                               + f["validity_s"]).isoformat()
    if args.json:
        print(json.dumps(f, ensure_ascii=False))
    else:
        for k, v in f.items():
            print("%-18s %s" % (k, v))
    return 0 if f["verdict"] == "ok" else 1


def _anchors(args):
    from host_tools.lib import qr
    from host_tools.lib.files import write_atomic

    until = qr.parse_time(args.until)
    data = qr.anchors_payload([(k.public_key(), until) for k in _issuers(args)], args.set,
                              args.version)
    write_atomic(args.out, data)
    print("trust anchors (%s) v%d: %d keys -> %s  (sign: ykt update sign --kind %s)"
          % (args.set, args.version, data[10], args.out,
             "trust" if args.set == "production" else "trust-test"))
    return 0


def _deny_number(args):
    from host_tools.lib import qr

    print(qr.denylist_number(args.card))
    return 0


def _issuer_opts(p, alg=True):
    p.add_argument("--issuer-seed", action="append",
                   help="an issuer key derived from this text (tests and demos; repeatable)")
    p.add_argument("--issuer-key", action="append",
                   help="an issuer's private key, PEM: RSA-2048 (e 3 or 65537) or P-256 "
                        "(repeatable)")
    if alg:
        p.add_argument("--alg", choices=("rsa", "p256"), default="rsa",
                       help="the algorithm of keys made from seeds: rsa (RSA-2048 "
                            "PKCS#1 v1.5, the default) or p256 (ECDSA P-256)")
        p.add_argument("--rsa-exponent", type=int, choices=(3, 65537), default=3,
                       help="public exponent of RSA keys made from seeds (default 3: the "
                            "cheapest verify, docs/qr.md section 4)")


def register(sub):
    p = sub.add_parser("qr", help="e-card QR codes: issue test codes, explain a code, "
                                  "trust-anchor files (docs/qr.md)",
                       **examples("ykt qr issue --issuer-seed demo --holder-seed alice "
                                  "--id-number 320502199001011234 --card A12345678 --show",
                                  "ykt qr check 'YK1:...' --issuer-seed demo"))
    cmds = p.add_subparsers(dest="qr_cmd", required=True)
    i = cmds.add_parser("issue", help="make a test e-card code (text, PNG, terminal)",
                        **examples("ykt qr issue --issuer-seed demo --holder-seed alice "
                                   "--id-number 320502199001011234 --card A12345678 --show",
                                   "ykt qr issue --issuer-key issuer.pem --holder-key phone.pem "
                                   "--match-secret-file match.key --id-number "
                                   "320502199001011234 --card A12345678 --png code.png"))
    _issuer_opts(i)
    i.add_argument("--holder-seed", help="the holder's (phone's) key derived from this text")
    i.add_argument("--holder-key", help="the holder's private key, PEM (the issuer's "
                                        "algorithm)")
    i.add_argument("--match-secret-file",
                   help="the secret of the match key (HMAC-SHA256 of the ID number); "
                        "default: derived from the first --issuer-seed")
    i.add_argument("--id-number", required=True,
                   help="the holder's 18-character ID number: region, birth date and match "
                        "key come from it; it is never in the code")
    i.add_argument("--card", required=True, help="the card id, up to 9 characters")
    i.add_argument("--at", default="now", help="generation time (local, e.g. "
                                                "2026-12-03T09:00:00; default now)")
    i.add_argument("--validity", type=int, default=60,
                   help="seconds the code is valid after it is generated (1..600, default 60)")
    i.add_argument("--cert-days", type=int, default=30,
                   help="days the certificate of the holder's key is valid (default 30)")
    i.add_argument("--png", help="also write the QR code as a PNG file")
    i.add_argument("--show", action="store_true", help="also draw the QR code on the terminal")
    i.set_defaults(fn=_issue)
    c = cmds.add_parser("check", help="explain a code: fields (holder masked), validity, the "
                                      "key that signed it and the terminal's verdict",
                        **examples("ykt qr check 'YK1:...' --issuer-seed demo",
                                   "ykt qr check 'YK1:...' --anchors trust.bin --at "
                                   "2026-12-03T09:00:30 --json"))
    c.add_argument("code", help="the code's text, YK1:...")
    c.add_argument("--anchors", help="a trust-anchor payload (ykt qr anchors)")
    _issuer_opts(c, alg=False)
    c.add_argument("--at", default="now", help="the terminal's time (default now)")
    c.add_argument("--json", action="store_true", help="one JSON object")
    c.set_defaults(fn=_check)
    a = cmds.add_parser("anchors", help="a trust-anchor payload for ykt update sign --kind "
                                        "trust (production) or trust-test",
                        **examples("ykt qr anchors --issuer-seed demo --set test --version 1 "
                                   "--until 2027-12-31T23:59:59 -o trust-test.bin"))
    _issuer_opts(a)
    a.add_argument("--set", required=True, choices=("production", "test"),
                   help="production keys (kind trust) or test keys (kind trust-test)")
    a.add_argument("--version", type=int, required=True,
                   help="content version; the update's --version must be the same")
    a.add_argument("--until", required=True, help="the keys' expiry (local time)")
    a.add_argument("-o", "--out", required=True, help="output file")
    a.set_defaults(fn=_anchors)
    d = cmds.add_parser("deny-number", help="the 20-digit number under which a code's card id "
                                            "goes on the denylist (ykt denylist)",
                        **examples("ykt qr deny-number A12345678"))
    d.add_argument("card", help="the card id a code carries (the social security card "
                                "number, up to 9 characters 0-9 A-Z)")
    d.set_defaults(fn=_deny_number)
