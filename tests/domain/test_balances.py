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
