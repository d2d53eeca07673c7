package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/internal/errs"
	"github.com/foundation-go/foundation/telemetry"
)

// errFound: the command ran and found a problem (exit status 1).
var errFound = errors.New("problems found")

// defaultAddr is the production profile's HTTP listener on this host.
const defaultAddr = "127.0.0.1:7352"

type cli struct {
	out, errOut io.Writer
	addr        string
	output      string
	timeout     time.Duration
	getenv      func(string) (string, bool)
}

// run executes the command line args and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	c := &cli{out: stdout, errOut: stderr, getenv: os.LookupEnv}
	root := c.command()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errFound):
		return 1
	default:
		fmt.Fprintln(stderr, "foundation:", err)
		return 2
	}
}

func (c *cli) command() *cobra.Command {
	root := &cobra.Command{
		Use:           "foundation",
		Short:         "Operate a Foundation cluster: members, health, traces, processes, configuration checks",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			switch c.output {
			case "table", "json":
			default:
				return fmt.Errorf("-o %q: want table or json", c.output)
			}
			if c.addr == "" {
				c.addr = defaultAddr
				if v, ok := c.getenv("FOUNDATION_ADDR"); ok && v != "" {
					c.addr = v
				}
			}
			if c.timeout <= 0 {
				return fmt.Errorf("--timeout %v: want a positive duration", c.timeout)
			}
			return nil
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&c.addr, "addr", "", "a member's HTTP listener, host:port (default $FOUNDATION_ADDR, else "+defaultAddr+")")
	pf.StringVarP(&c.output, "output", "o", "table", "output: table or json")
	pf.DurationVar(&c.timeout, "timeout", 10*time.Second, "how long to wait for the member")
	root.AddCommand(c.membersCmd(), c.healthCmd(), c.tracesCmd(), c.traceCmd(), c.inspectCmd(), c.checkCmd(), c.backupCmd(), c.restoreCmd())
	return root
}

// get fetches path from the member and returns the body of a 200.
func (c *cli) get(ctx context.Context, path string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	u := url.URL{Scheme: "http", Host: c.addr, Path: path}
	if i := strings.IndexByte(path, '?'); i >= 0 {
		u.Path, u.RawQuery = path[:i], path[i+1:]
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("--addr %q: %w", c.addr, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("member at %s: %w", c.addr, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("member at %s: reading %s: %w", c.addr, path, err)
	}
	// /health answers 503 with its report when the cluster is unhealthy.
	if resp.StatusCode != http.StatusOK && !(resp.StatusCode == http.StatusServiceUnavailable && strings.HasPrefix(path, "/health")) {
		return nil, fmt.Errorf("member at %s: GET %s: %s: %s", c.addr, path, resp.Status, strings.TrimSpace(string(body)))
	}
	return body, nil
}

func (c *cli) getJSON(ctx context.Context, path string, v any) ([]byte, error) {
	body, err := c.get(ctx, path)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return nil, fmt.Errorf("member at %s: GET %s: not the JSON expected: %w", c.addr, path, err)
	}
	return body, nil
}

func (c *cli) table() *tabwriter.Writer {
	return tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
}

func (c *cli) membersCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "members",
		Short: "List the cluster's members, each as it describes itself",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var ms []telemetry.MemberSummary
			body, err := c.getJSON(cmd.Context(), "/debug/members", &ms)
			if err != nil {
				return err
			}
			if c.output == "json" {
				_, err := c.out.Write(body)
				return err
			}
			sort.Slice(ms, func(i, j int) bool { return ms[i].ID < ms[j].ID })
			w := c.table()
			fmt.Fprintln(w, "MEMBER\tADDRESS\tSTATUS\tREADY\tGRAINS\tPROCESSES\tHTTP\tERROR")
			for _, m := range ms {
				grains := 0
				for _, n := range m.Grains {
					grains += n
				}
				procs := 0
				for _, k := range m.Kinds {
					procs += k.Processes
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%v\t%d\t%d\t%s\t%s\n", m.ID, m.Address, dash(m.Status), m.Ready, grains, procs, dash(m.HTTP), m.Error)
			}
			return w.Flush()
		},
	}
}

func (c *cli) healthCmd() *cobra.Command {
	strict := false
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Print the cluster health report; exit 1 when unhealthy (or degraded, with --strict)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var h telemetry.Health
			body, err := c.getJSON(cmd.Context(), "/health", &h)
			if err != nil {
				return err
			}
			if c.output == "json" {
				if _, err := c.out.Write(body); err != nil {
					return err
				}
			} else {
				w := c.table()
				expected := "-"
				if h.ExpectedMembers > 0 {
					expected = fmt.Sprint(h.ExpectedMembers)
				}
				fmt.Fprintf(w, "CLUSTER\t%s\nSTATUS\t%s\nMEMBERS\t%d (expected %s)\nPARTITIONS\t%v\n", h.Cluster, h.Status, h.ActualMembers, expected, h.PartitionsDetected)
				if len(h.Unreachable) > 0 {
					fmt.Fprintf(w, "UNREACHABLE\t%s\n", strings.Join(h.Unreachable, ", "))
				}
				if err := w.Flush(); err != nil {
					return err
				}
				if len(h.Services) > 0 {
					fmt.Fprintln(c.out)
					w = c.table()
					fmt.Fprintln(w, "SERVICE\tMEMBER\tHEALTHY\tERROR")
					for _, s := range h.Services {
						fmt.Fprintf(w, "%s\t%s\t%v\t%s\n", s.Name, s.Member, s.Healthy, s.Error)
					}
					if err := w.Flush(); err != nil {
						return err
					}
				}
				if len(h.Recommendations) > 0 {
					fmt.Fprintln(c.out)
					w = c.table()
					fmt.Fprintln(w, "RECOMMENDATION\tSEVERITY\tMEMBER\tTARGET")
					for _, r := range h.Recommendations {
						fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", r.Rule, r.Severity, r.Member, dash(r.Target))
					}
					if err := w.Flush(); err != nil {
						return err
					}
				}
			}
			if h.Status == "unhealthy" || (strict && h.Status != "healthy") {
				return fmt.Errorf("%w: cluster %s is %s", errFound, h.Cluster, h.Status)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&strict, "strict", false, "exit 1 when the cluster is degraded too")
	return cmd
}

func (c *cli) tracesCmd() *cobra.Command {
	limit := 20
	cmd := &cobra.Command{
		Use:   "traces",
		Short: "List the recent traces of the member at --addr, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 1 || limit > 1000 {
				return fmt.Errorf("--limit %d: want 1..1000", limit)
			}
			var ts []telemetry.TraceSummary
			body, err := c.getJSON(cmd.Context(), fmt.Sprintf("/debug/traces?limit=%d", limit), &ts)
			if err != nil {
				return err
			}
			if c.output == "json" {
				_, err := c.out.Write(body)
				return err
			}
			w := c.table()
			fmt.Fprintln(w, "TRACE	ROOT	SPANS	ERRORS	DURATION	START")
			for _, tr := range ts {
				fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%v\t%s\n", tr.TraceID, tr.Root, tr.Spans, tr.Errors, tr.Duration, tr.Start.Format(time.RFC3339Nano))
			}
			return w.Flush()
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 20, "how many traces, 1..1000")
	return cmd
}

func (c *cli) traceCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "trace TRACE_ID",
		Short: "Gather one trace from every member and print its tree",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "/debug/traces/" + url.PathEscape(args[0])
			if c.output == "table" {
				path += "?format=text"
			}
			body, err := c.get(cmd.Context(), path)
			if err != nil {
				return err
			}
			_, err = c.out.Write(body)
			return err
		},
	}
}

func (c *cli) inspectCmd() *cobra.Command {
	member := ""
	cmd := &cobra.Command{
		Use:   "inspect",
		Short: "List a member's processes (kind, parent in the supervision tree, mailbox, names)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := "/debug/processes"
			if member != "" {
				path += "?member=" + url.QueryEscape(member)
			}
			var ps []telemetry.ProcessInfo
			body, err := c.getJSON(cmd.Context(), path, &ps)
			if err != nil {
				return err
			}
			if c.output == "json" {
				_, err := c.out.Write(body)
				return err
			}
			w := c.table()
			fmt.Fprintln(w, "PID\tKIND\tPARENT\tMAILBOX\tNAMES")
			for _, p := range ps {
				fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\n", p.ID, dash(p.Kind), dash(p.Parent), p.Mailbox, dash(strings.Join(p.Names, ",")))
			}
			if err := w.Flush(); err != nil {
				return err
			}
			// The member's supervision tree and grain activations, from
			// its summary.
			target := member
			if target == "" {
				var h telemetry.Health // written by the member at --addr
				if _, err := c.getJSON(cmd.Context(), "/health", &h); err != nil {
					return err
				}
				target = h.Member
			}
			var ms []telemetry.MemberSummary
			if _, err := c.getJSON(cmd.Context(), "/debug/members", &ms); err != nil {
				return err
			}
			for _, m := range ms {
				if m.ID == target {
					if len(m.Supervision) > 0 {
						fmt.Fprintln(c.out)
						w = c.table()
						fmt.Fprintln(w, "SUPERVISOR\tPARENT\tCHILDREN")
						for _, e := range m.Supervision {
							fmt.Fprintf(w, "%s\t%s\t%s\n", e.Supervisor, dash(e.Parent), dash(strings.Join(e.Children, ",")))
						}
						if err := w.Flush(); err != nil {
							return err
						}
					}
					if len(m.Grains) > 0 {
						fmt.Fprintln(c.out)
						w = c.table()
						fmt.Fprintln(w, "GRAIN KIND\tACTIVATIONS")
						for _, k := range slices.Sorted(maps.Keys(m.Grains)) {
							fmt.Fprintf(w, "%s\t%d\n", k, m.Grains[k])
						}
						if err := w.Flush(); err != nil {
							return err
						}
					}
					break
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&member, "member", "", "the member to inspect (default: the one at --addr)")
	return cmd
}

func (c *cli) checkCmd() *cobra.Command {
	var (
		file       string
		profile    string
		members    int
		throughput float64
		perMember  float64
		benchFor   time.Duration
		strict     bool
	)
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check a configuration for production: errors, security, timings, capacity",
		Long: `check loads a configuration as a member would (the YAML file, then the
FOUNDATION_* environment) and reports, each with a reason and a fix:
configuration errors, security risks, timings that risk false suspicions or
slow failover, and, with --throughput, the members needed (from a short
self-benchmark of this machine, or --per-member). Exit status 1 when a
finding is an error (or a warning, with --strict).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, extra, err := c.loadForCheck(cluster.Profile(profile), file)
			if err != nil {
				return err
			}
			if throughput > 0 && perMember == 0 {
				if perMember, err = selfBenchmark(cmd.Context(), benchFor); err != nil {
					return fmt.Errorf("self-benchmark: %w", err)
				}
			}
			var r cluster.ReadinessReport
			if cfg != nil {
				r = cluster.CheckReadiness(*cfg, cluster.ReadinessOptions{Members: members, Throughput: throughput, PerMember: perMember})
			}
			r.Findings = append(extra, r.Findings...)
			if c.output == "json" {
				enc := json.NewEncoder(c.out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(r); err != nil {
					return err
				}
			} else {
				w := c.table()
				fmt.Fprintln(w, "SEVERITY\tAREA\tKEY\tPROBLEM\tFIX")
				for _, f := range r.Findings {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", f.Severity, f.Area, dash(f.Key), f.Problem, dash(f.Fix))
				}
				if err := w.Flush(); err != nil {
					return err
				}
				verdict := "ready"
				if !r.Ready() {
					verdict = "not ready"
				}
				fmt.Fprintf(c.out, "\n%s: %d error(s), %d warning(s) (profile %s)\n", verdict, r.Count(cluster.SeverityError), r.Count(cluster.SeverityWarning), r.Profile)
			}
			if !r.Ready() || (strict && r.Count(cluster.SeverityWarning) > 0) {
				return fmt.Errorf("%w: configuration not ready", errFound)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&file, "config", "", "YAML configuration file (default: the environment alone)")
	f.StringVar(&profile, "profile", "production", "the profile when neither the file nor FOUNDATION_PROFILE names one")
	f.IntVar(&members, "members", 0, "planned cluster size (default: telemetry.expected_members)")
	f.Float64Var(&throughput, "throughput", 0, "messages per second the cluster must carry (0: skip the capacity check)")
	f.Float64Var(&perMember, "per-member", 0, "messages per second one member carries (0: measure this machine)")
	f.DurationVar(&benchFor, "bench-time", time.Second, "how long the self-benchmark runs")
	f.BoolVar(&strict, "strict", false, "exit 1 on warnings too")
	return cmd
}

// loadForCheck loads the configuration as a member would. A configuration
// that fails validation is still returned, to be checked in full; problems
// Validate does not see again (a malformed environment variable) come back
// as findings, and when the file itself cannot be decoded there is no
// configuration, only those findings. An unreadable file is an error.
func (c *cli) loadForCheck(profile cluster.Profile, file string) (*cluster.Config, []cluster.Finding, error) {
	var captured *cluster.Config
	cfg, err := cluster.LoadConfigFor(profile, file, c.getenv, func(c *cluster.Config) {
		cp := *c
		captured = &cp
	})
	switch {
	case err == nil:
		return &cfg, nil, nil
	case !errors.Is(err, cluster.ErrInvalidConfig):
		return nil, nil, err
	}
	var extra []cluster.Finding
	for _, e := range errs.Flatten(err) {
		var ce *cluster.ConfigError
		if errors.As(e, &ce) && captured != nil {
			continue // CheckReadiness reports it
		}
		extra = append(extra, cluster.Finding{Severity: cluster.SeverityError, Area: cluster.AreaConfig, Problem: e.Error(),
			Fix: "correct the value (docs/reference/configuration-options.md lists every key and variable)"})
	}
	return captured, extra, nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
