from opsconsole.domain.balances import balance_diff, parse_balance_dicts
from opsconsole.services.balances import log_balances

SEED_DICT = """{'BNB': 0.0,
 'BTC': 0.0,
 'BUSD': 0.0,
 'ETH': 0.0,
 'TUSD': 0.0,
 'USDC': 0.0,
 'USDP': 0.0,
 'USDT': 6090.5617341,
 'XRP': 0.0}"""


def test_parses_the_runbook_balance_dict_and_ignores_other_dicts():
    text = f"INFO flatten_account: balance before run:\n{SEED_DICT}\nconf {{'a': 'b'}} {{'x': True}}\n"
    (found,) = parse_balance_dicts(text)
    assert found["USDT"] == 6090.5617341 and len(found) == 9


def test_pre_is_the_first_dict_post_the_last():
    after = SEED_DICT.replace("6090.5617341", "6101.0")
    diff = balance_diff(parse_balance_dicts(SEED_DICT + "\n...\n" + after))
    assert diff.pre_quote == 6090.5617341 and diff.post_quote == 6101.0
    assert round(diff.pnl, 7) == round(6101.0 - 6090.5617341, 7)
    assert balance_diff(parse_balance_dicts(SEED_DICT)).post is None


def test_a_big_log_is_read_at_both_ends_only(tmp_path):
    path = tmp_path / "big.log"
    filler = "2026-11-22 07:40:00,078 DEBUG broker fill ...\n" * 40_000  # ~1.8 MB between the dicts
    path.write_text(SEED_DICT + "\n" + filler + SEED_DICT.replace("6090.5617341", "6000.5"))
    diff = log_balances(str(path), window=64 * 1024)
    assert diff.pre_quote == 6090.5617341 and diff.post_quote == 6000.5
    assert log_balances(str(tmp_path / "missing.log")).pre is None


def test_dicts_printed_line_by_line_with_logger_prefixes_and_interleaved_lines():
    from opsconsole.domain.balances import parse_balance_lines

    af3 = """2026-11-29T22:51:36.403878Z INFO task.stdout {'BNB': 0.0,
2026-11-29T22:51:36.404988Z INFO task.stdout  'BTC': 0.0,
2026-11-29T22:51:36.404322Z INFO airflow.task.operators.PythonOperator Done. Returned value was: None
2026-11-29T22:51:36.405412Z INFO task.stdout  'USDT': 6090.5617341,
2026-11-29T22:51:36.405492Z INFO task.stdout  'XRP': 0.0}"""
    af2 = """[2026-11-29T22:51:36.403+0000] {logging_mixin.py:190} INFO - {'USDT': 1.5,
[2026-11-29T22:51:36.404+0000] {taskinstance.py:12} WARNING - something else
[2026-11-29T22:51:36.405+0000] {logging_mixin.py:190} INFO -  'BTC': 2}"""
    assert parse_balance_lines(af3.splitlines()) == [{"BNB": 0.0, "BTC": 0.0, "USDT": 6090.5617341, "XRP": 0.0}]
    assert parse_balance_lines(af2.splitlines()) == [{"USDT": 1.5, "BTC": 2.0}]
    # an unprefixed line that is no entry ends the dict: nothing half-read is returned
    assert parse_balance_lines(["{'USDT': 1.0,", "Traceback (most recent call last):", " 'BTC': 2}"]) == []
    assert parse_balance_lines(["{'USDT': 1.0, 'BTC': True}", "{'A': 1e400}", "{'B': 2}"]) == [{"B": 2.0}]
