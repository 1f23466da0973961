"""Command line: `python -m bot <command>` (the Makefile calls these)."""
import argparse
import logging
import sys

from bot.config import Config
from bot.errors import DomainError


def _spacy_build(config: Config, args: argparse.Namespace) -> int:
    from bot.nlu.spacy_pipeline import save_pipeline

    save_pipeline(config.spacy_pipeline_dir)
    print(f"spaCy pipeline written to {config.spacy_pipeline_dir}")
    return 0


def _faq_generate(config: Config, args: argparse.Namespace) -> int:
    from bot.faq.store import FaqValidationError, write_training_data

    try:
        count = write_training_data(config.faq_dir, config.faq_training_file)
    except FaqValidationError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"{count} FAQs -> {config.faq_training_file}")
    return 0


def _db_setup(config: Config, args: argparse.Namespace) -> int:
    from bot.shop import demo
    from bot.shop.context import ShopContext

    with ShopContext(config) as shop:
        print(demo.set_up(shop))
    return 0


def _import_orders(config: Config, args: argparse.Namespace) -> int:
    from pathlib import Path

    from bot.shop.context import ShopContext
    from bot.shop.importer import import_orders

    with ShopContext(config) as shop:
        report = import_orders(shop.sessions, shop.shop_id, Path(args.file))
    print(report, file=sys.stderr if report.errors else sys.stdout)
    return 1 if report.errors else 0


def _add_user(config: Config, args: argparse.Namespace) -> int:
    import getpass

    from bot.shop import db
    from bot.shop.accounts import create_user
    from bot.shop.context import ShopContext

    with ShopContext(config) as shop:
        shop_id = shop.shop_id  # before asking for a password: the shop must be set up
        password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("Password: ")
        with db.transaction(shop.sessions) as session:
            create_user(session, shop_id, args.username, password, args.role, args.name or args.username)
    print(f"{args.role} {args.username!r} created")
    return 0


def _report(config: Config, args: argparse.Namespace) -> int:
    import json

    from bot.shop import report
    from bot.shop.context import ShopContext

    with ShopContext(config) as shop:
        found = report.build_report(shop, args.days)
    sys.stdout.write(json.dumps(report.as_json(found), indent=2, ensure_ascii=False) + "\n" if args.json else report.as_text(found))
    return 0


def _serve(config: Config, args: argparse.Namespace) -> int:
    from aiohttp import web

    from bot.web.app import create_app

    from bot import garbage

    logging.basicConfig(level=logging.INFO)
    app = create_app(config)
    garbage.settle()
    web.run_app(app, host=config.host, port=config.web_port, print=None, shutdown_timeout=5)
    return 0


def _run(config: Config, args: argparse.Namespace) -> int:
    from bot.run import run, run_production

    return run_production() if args.production else run(config)


def _benchmark_nlu(config: Config, args: argparse.Namespace) -> int:
    from bot.nlu.benchmark import benchmark_nlu

    return benchmark_nlu(args.csv, args.model)


def _benchmark_faq(config: Config, args: argparse.Namespace) -> int:
    from bot.nlu.benchmark import benchmark_faq

    return benchmark_faq(args.heldout, args.model)


def _benchmark_retrain(config: Config, args: argparse.Namespace) -> int:
    from bot.nlu.benchmark import benchmark_retrain

    return benchmark_retrain(args.url, args.user, args.password, args.faq)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("spacy-build", help="build the spaCy pipeline").set_defaults(func=_spacy_build)
    sub.add_parser("faq-generate", help="validate data/faq/ and write data/nlu/faq.yml").set_defaults(func=_faq_generate)
    sub.add_parser("db-setup", help="apply migrations and load the demo shop").set_defaults(func=_db_setup)
    importer = sub.add_parser("import-orders", help="import an order export (CSV or JSON, see docs/import.md)")
    importer.add_argument("file")
    importer.set_defaults(func=_import_orders)
    add_user = sub.add_parser("add-user", help="create a seller or agent login (asks for the password)")
    add_user.add_argument("username")
    add_user.add_argument("--role", choices=("seller", "agent"), required=True)
    add_user.add_argument("--name", help="the name shown to colleagues")
    add_user.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add_user.set_defaults(func=_add_user)
    report = sub.add_parser("report", help="the seller's performance figures (Late Delivery Rate, cancellations, ...)")
    report.add_argument("--days", type=int, default=30, help="the period: the last DAYS days (default 30)")
    report.add_argument("--json", action="store_true", help="print JSON instead of text tables")
    report.set_defaults(func=_report)
    sub.add_parser("serve", help="run the web service").set_defaults(func=_serve)
    run_parser = sub.add_parser("run", help="run Rasa, the action server and the web service")
    run_parser.add_argument(
        "--production", action="store_true",
        help="PostgreSQL, Redis and RASA_SERVERS Rasa servers (README: Production)",
    )
    run_parser.set_defaults(func=_run)
    bench = sub.add_parser("benchmark-nlu", help="score intents on a CSV benchmark")
    bench.add_argument("--csv", default="../shared/benchmarks/nlu/dev.csv")
    bench.add_argument("--model", default="models", help="model file or folder (newest model)")
    bench.set_defaults(func=_benchmark_nlu)
    bench_faq = sub.add_parser("benchmark-faq", help="score the FAQ recommendations on held-out phrasings")
    bench_faq.add_argument("--heldout", default="benchmarks/faq_heldout.yml")
    bench_faq.add_argument("--model", default="models", help="model file or folder (newest model)")
    bench_faq.set_defaults(func=_benchmark_faq)
    bench_retrain = sub.add_parser("benchmark-retrain", help="time a FAQ edit's retrain and model swap on the running product")
    bench_retrain.add_argument("--url", default="http://127.0.0.1:8080")
    bench_retrain.add_argument("--user", default="seller")
    bench_retrain.add_argument("--password", default="demo-seller")
    bench_retrain.add_argument("--faq", default="gift_wrapping", help="the FAQ that gets a question added, then reverted")
    bench_retrain.set_defaults(func=_benchmark_retrain)
    args = parser.parse_args(argv)
    try:
        status = args.func(Config.from_env(), args)
    except DomainError as error:  # what the user can be told: the shop not set up, a bad user name, ...
        print(error, file=sys.stderr)
        status = 1
    sys.exit(status)
