"""The runbook's (seed 000) example commands, the byte-for-byte target of the shipped kinds."""

# Seed 000's example commands, copied here (tests never read ../shared), joined on single
# spaces; the runbook's last line lacks its closing quote, a typo we do not reproduce.
BROKER = ("oms/broker/ccxt/scripts/run_ccxt_broker.py --log_dir tmp_log_dir --max_parent_order_notional 60 "
          "--randomize_orders --parent_order_duration_in_min 5 --num_bars 3 --num_parent_orders_per_bar 5 "
          "--secret_id 4 --clean_up_before_run --clean_up_after_run --close_positions_using_twap "
          "--passivity_factor 0.55 --child_order_execution_freq 1T --include_btc_usdt True "
          "--volatility_multiple 0.75 0.7 0.6 0.8 1.0 -v DEBUG")
FULL = ("/app/dataflow_orange/system/Cx/run_Cx_prod_system.py --strategy 'C5b' --dag_builder_name 'C5b' "
        "--set_config_value \"('params','style'),(str('longitudinal'))\" --set_config_value "
        "\"('params','kwargs'),({'target_dollar_risk_per_name': float(0.1)})\" --trade_date 20230822 "
        "--liveness 'CANDIDATE' --instance_type 'PROD' --exchange 'binance' --stage 'preprod' "
        "--account_type 'trading' --secret_id '4' -v 'DEBUG' 2>&1 --start_time '20230822_142000' "
        "--run_duration 7200 --run_mode 'prod' --log_file_name "
        "'/data/shared/ecs/test/system_reconciliation/C5b/prod/20230822_142000.20230822_161500/logs/log.manual.txt' "
        "--dst_dir '/data/shared/ecs/test/system_reconciliation/C5b/prod/20230822_142000.20230822_161500/"
        "system_log_dir.manual'")
