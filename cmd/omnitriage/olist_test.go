package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/omnitriage/omnitriage/internal/database/dbtest"
	"github.com/omnitriage/omnitriage/models"
)

// writeOlistCSVs writes a synthetic dataset in the Olist layout (zip
// prefixes without leading zeros, product numbers as floats) with n orders
// purchased in 2017 from January to August, late more often when the
// seller is slow and the lane long.
func writeOlistCSVs(t *testing.T, n int, seed uint64) string {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 5))
	states := []string{"SP", "RJ", "MG", "BA"}
	zipOf := map[string]int{"SP": 1000, "RJ": 20000, "MG": 30000, "BA": 40000}
	var customers, orders, items, products, sellers strings.Builder
	customers.WriteString("customer_id,customer_unique_id,customer_zip_code_prefix,customer_city,customer_state\n")
	orders.WriteString("order_id,customer_id,order_status,order_purchase_timestamp,order_approved_at,order_delivered_carrier_date,order_delivered_customer_date,order_estimated_delivery_date\n")
	items.WriteString("order_id,order_item_id,product_id,seller_id,shipping_limit_date,price,freight_value\n")
	products.WriteString("product_id,product_category_name,product_name_lenght,product_description_lenght,product_photos_qty,product_weight_g,product_length_cm,product_height_cm,product_width_cm\n")
	sellers.WriteString(`"seller_id","seller_zip_code_prefix","seller_city","seller_state"` + "\n")
	for i, s := range states[:3] {
		fmt.Fprintf(&sellers, "\"s%d\",\"%d\",city,%s\n", i, zipOf[s]+i, s)
	}
	start := time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC)
	ts := func(t time.Time) string { return t.Format(time.DateTime) }
	for i := range n {
		cust, si := states[rng.IntN(len(states))], rng.IntN(3)
		base := 3.0
		if cust != states[si] {
			base = 7
		}
		purchase := start.Add(time.Duration(rng.Int64N(int64(242 * 24 * time.Hour)))).Truncate(time.Second)
		approved := purchase.Add(time.Duration(rng.Int64N(int64(30 * time.Hour)))).Truncate(time.Second)
		carrier := approved.Add(time.Duration(rng.ExpFloat64() * 2 * float64(24*time.Hour))).Truncate(time.Second)
		transit := base * math.Exp(rng.NormFloat64()*0.35)
		delivered := carrier.Add(time.Duration(transit * float64(24*time.Hour))).Truncate(time.Second)
		estimate := purchase.Truncate(24*time.Hour).AddDate(0, 0, int(base*1.3+3+rng.Float64()*4))
		status, carrierS, deliveredS := "delivered", ts(carrier), ts(delivered)
		if i%25 == 0 {
			status, deliveredS = "shipped", ""
		}
		fmt.Fprintf(&customers, "c%d,u%d,%d,city,%s\n", i, i, zipOf[cust]+rng.IntN(900), cust)
		fmt.Fprintf(&orders, "o%d,c%d,%s,%s,%s,%s,%s,%s\n", i, i, status, ts(purchase), ts(approved), carrierS, deliveredS, ts(estimate))
		fmt.Fprintf(&products, "p%d,utilidades_domesticas,40.0,300.0,1.0,%d.0,20.0,10.0,15.0\n", i, 100+rng.IntN(3000))
		fmt.Fprintf(&items, "o%d,1,p%d,s%d,%s,%.2f,%.2f\n", i, i, si, ts(approved.AddDate(0, 0, 3)), 10+rng.Float64()*200, rng.Float64()*30)
	}
	dir := t.TempDir()
	for name, b := range map[string]*strings.Builder{
		"customers.csv": &customers, "orders.csv": &orders, "order_items.csv": &items, "products.csv": &products, "sellers.csv": &sellers,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// testEnv is an environment whose database is url.
func testEnv(url string) (*environment, *strings.Builder, *strings.Builder) {
	var out, errb strings.Builder
	return &environment{stdout: &out, stderr: &errb, getenv: func(k string) string {
		if k == "DATABASE_URL" {
			return url
		}
		return ""
	}}, &out, &errb
}

func TestImportOlistAndEvalDelivery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.NewURL(t)
	dir := writeOlistCSVs(t, 1200, 1)

	env, out, errb := testEnv(url)
	if err := runImport(ctx, env, []string{"olist", dir}); err != nil {
		t.Fatalf("import olist: %v\nstderr:\n%s", err, errb)
	}
	for _, want := range []string{"orders   1200  1200", "items    1200  1200", "sellers  3     3"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("import olist stdout lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errb.String(), "olist: read orders.csv: 1200 rows") {
		t.Errorf("import olist stderr lacks progress:\n%s", errb)
	}
	env, out, _ = testEnv(url)
	if err := runImport(ctx, env, []string{"olist", dir}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "orders   1200  0    0        1200") {
		t.Errorf("second import olist: want every order unchanged:\n%s", out)
	}

	for _, at := range []string{"approval", "handoff"} {
		env, out, errb := testEnv(url)
		modelFile := filepath.Join(t.TempDir(), "model.json")
		err := runEvalDelivery(ctx, env, []string{"--at", at, "--train-before", "2017-06-01",
			"--test-from", "2017-06-01", "--test-before", "2017-09-01", "--model-out", modelFile})
		if err != nil {
			t.Fatalf("eval delivery --at %s: %v\nstderr:\n%s", at, err, errb)
		}
		for _, want := range []string{"delivery backtest at " + at, "train ", "test ", "precision top 10%", "model ", "baseline ", "model − baseline", "chosen by validation"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("eval delivery --at %s stdout lacks %q:\n%s", at, want, out)
			}
		}
		b, err := os.ReadFile(modelFile)
		if err != nil {
			t.Fatal(err)
		}
		if m, err := models.LoadRiskModel(b); err != nil || m.Name != "delivery_late_at_"+at {
			t.Errorf("--model-out wrote a model that loads as %v, %v", m, err)
		}
	}
}

func TestImportOlistErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := writeOlistCSVs(t, 5, 2)
	b, err := os.ReadFile(filepath.Join(dir, "orders.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	lines[3] = strings.Replace(lines[3], "2017-", "2017/", 1)
	bad := t.TempDir()
	for _, f := range []string{"customers.csv", "order_items.csv", "products.csv", "sellers.csv"} {
		b, _ := os.ReadFile(filepath.Join(dir, f))
		os.WriteFile(filepath.Join(bad, f), b, 0o644)
	}
	os.WriteFile(filepath.Join(bad, "orders.csv"), []byte(strings.Join(lines, "\n")), 0o644)

	for _, tc := range []struct {
		args []string
		want string
		code int
	}{
		{[]string{"olist"}, "want one DIR", 2},
		{[]string{"olist", filepath.Join(dir, "orders.csv")}, "is not a directory", 2},
		{[]string{"olist", bad}, "orders.csv:4: order_purchase_timestamp", 1},
		{[]string{"kaggle", dir}, `unknown subcommand "kaggle"`, 2},
	} {
		env, _, _ := testEnv("")
		err := runImport(ctx, env, tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) || exitCode(err) != tc.code {
			t.Errorf("import %v = %v (exit %d), want %q (exit %d)", tc.args, err, exitCode(err), tc.want, tc.code)
		}
	}
	env, out, _ := testEnv("")
	if err := runImport(ctx, env, []string{"olist", "--dry-run", dir}); err != nil || !strings.Contains(out.String(), "5 orders, 5 items, 3 sellers") {
		t.Errorf("import olist --dry-run = %v, stdout %q; want counts without a database", err, out)
	}
}

func TestEvalDeliveryUsage(t *testing.T) {
	t.Parallel()
	ok := []string{"--at", "handoff", "--train-before", "2017-06-01", "--test-from", "2017-06-01", "--test-before", "2017-09-01"}
	with := func(flag, value string) []string {
		args := append([]string(nil), ok...)
		for i := 0; i < len(args); i += 2 {
			if args[i] == flag {
				if value == "" {
					return append(args[:i], args[i+2:]...)
				}
				args[i+1] = value
			}
		}
		return args
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{with("--at", ""), "--at"},
		{with("--at", "delivery"), `delivery moment "delivery"`},
		{with("--train-before", ""), "--train-before is required"},
		{with("--test-from", "June"), `--test-from "June": want a date`},
		{append(ok, "extra"), `unexpected argument "extra"`},
	} {
		env, _, _ := testEnv("")
		err := runEvalDelivery(context.Background(), env, tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) || exitCode(err) != 2 {
			t.Errorf("eval delivery %v = %v (exit %d), want a usage error with %q", tc.args, err, exitCode(err), tc.want)
		}
	}
	env, _, _ := testEnv("")
	if err := runEvalDelivery(context.Background(), env, ok); err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Errorf("eval delivery without a database = %v, want a message about DATABASE_URL", err)
	}
}
