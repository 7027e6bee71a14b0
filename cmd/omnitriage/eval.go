package main

import "context"

func runEval(ctx context.Context, env *environment, args []string) error {
	return subcommand(ctx, env, "eval", args, map[string]command{
		"classify": {"cause classifier: accuracy, macro-F1, calibration, coverage at a target precision", func(ctx context.Context, env *environment, args []string) error {
			return runEvalClassify(ctx, args, env.stdout, env.stderr)
		}},
		"cluster": {"root-cause clustering: grouping accuracy (GA) and F1 over groups against labelled messages", func(ctx context.Context, env *environment, args []string) error {
			return runEvalCluster(ctx, args, env.stdout, env.stderr)
		}},
		"delivery": {"delivery-risk backtest at approval or hand-off on imported history", runEvalDelivery},
	})
}
