package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/foundation-go/foundation"
)

// progress reports bytes moved on the error stream: a bar redrawn at most
// every 100ms on a terminal, one summary line otherwise.
type progress struct {
	w     io.Writer
	label string
	total int64 // 0: unknown
	done  int64
	last  time.Time
	tty   bool
}

func newProgress(w io.Writer, label string, total int64) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progress{w: w, label: label, total: total, tty: tty}
}

func (p *progress) Write(b []byte) (int, error) {
	p.done += int64(len(b))
	if p.tty && time.Since(p.last) > 100*time.Millisecond {
		p.last = time.Now()
		p.draw()
	}
	return len(b), nil
}

func (p *progress) draw() {
	if p.total <= 0 {
		fmt.Fprintf(p.w, "\r%s %s", p.label, human(p.done))
		return
	}
	const width = 30
	filled := int(float64(width) * float64(p.done) / float64(p.total))
	filled = min(max(filled, 0), width)
	fmt.Fprintf(p.w, "\r%s [%s%s] %3.0f%% %s/%s", p.label, strings.Repeat("#", filled), strings.Repeat(" ", width-filled),
		100*float64(p.done)/float64(p.total), human(p.done), human(p.total))
}

func (p *progress) finish(msg string) {
	if p.tty {
		p.draw()
		fmt.Fprintln(p.w)
	}
	fmt.Fprintln(p.w, msg)
}

func human(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// adminRequest makes a request to an administration endpoint, with the
// bearer token derived from the cluster secret.
func (c *cli) adminRequest(ctx context.Context, method, path string, body io.Reader, secret string) (*http.Response, error) {
	if secret == "" {
		return nil, fmt.Errorf("the cluster secret is needed: --secret or FOUNDATION_SECRET")
	}
	u := url.URL{Scheme: "http", Host: c.addr, Path: path}
	if i := strings.IndexByte(path, '?'); i >= 0 {
		u.Path, u.RawQuery = path[:i], path[i+1:]
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("--addr %q: %w", c.addr, err)
	}
	req.Header.Set("Authorization", "Bearer "+foundation.AdminToken(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("member at %s: %w", c.addr, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("member at %s: %s %s: %s: %s", c.addr, method, u.Path, resp.Status, strings.TrimSpace(string(msg)))
	}
	return resp, nil
}

func (c *cli) secretFlag(cmd *cobra.Command, secret *string) {
	cmd.Flags().StringVar(secret, "secret", "", "the cluster secret (default $FOUNDATION_SECRET): the administration endpoints' credential")
}

func (c *cli) secret(flag string) string {
	if flag != "" {
		return flag
	}
	v, _ := c.getenv("FOUNDATION_SECRET")
	return v
}

func (c *cli) backupCmd() *cobra.Command {
	var file, secret string
	cmd := &cobra.Command{
		Use:   "backup -f FILE",
		Short: "Write the cluster's state (registry, replicated keys, caches, configuration) to a backup file",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return fmt.Errorf("-f: want the backup file to write")
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), c.timeout)
			defer cancel()
			resp, err := c.adminRequest(ctx, http.MethodGet, "/admin/backup", nil, c.secret(secret))
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			// Written beside the target and renamed: an interrupted backup
			// never leaves a partial file under the name.
			tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*")
			if err != nil {
				return err
			}
			defer os.Remove(tmp.Name())
			p := newProgress(c.errOut, "backup", resp.ContentLength)
			var buf bytes.Buffer
			if _, err := io.Copy(io.MultiWriter(tmp, &buf, p), resp.Body); err != nil {
				tmp.Close()
				return fmt.Errorf("member at %s: reading the backup: %w", c.addr, err)
			}
			if err := tmp.Close(); err != nil {
				return err
			}
			info, err := foundation.ReadBackup(&buf)
			if err != nil {
				return fmt.Errorf("the backup received does not check: %w", err)
			}
			if err := os.Rename(tmp.Name(), file); err != nil {
				return err
			}
			p.finish(fmt.Sprintf("backup of cluster %s written to %s: %s, %d keys, %d member(s), caches %v", info.Cluster, file, human(info.Size), info.Keys, len(info.Members), info.Caches))
			if c.output == "json" {
				return json.NewEncoder(c.out).Encode(info)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "the backup file to write")
	c.secretFlag(cmd, &secret)
	return cmd
}

func (c *cli) restoreCmd() *cobra.Command {
	var file, secret, from string
	cmd := &cobra.Command{
		Use:   "restore -f FILE",
		Short: "Restore a backup file into the cluster (checked here first; a corrupt or foreign file changes nothing)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return fmt.Errorf("-f: want the backup file to restore")
			}
			data, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			info, err := foundation.ReadBackup(bytes.NewReader(data))
			if err != nil {
				return fmt.Errorf("%w: %s: %w", errFound, file, err)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), c.timeout)
			defer cancel()
			p := newProgress(c.errOut, "restore", int64(len(data)))
			path := "/admin/restore"
			if from != "" {
				path += "?from=" + url.QueryEscape(from)
			}
			resp, err := c.adminRequest(ctx, http.MethodPost, path, io.TeeReader(bytes.NewReader(data), p), c.secret(secret))
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			var got foundation.BackupInfo
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				return fmt.Errorf("member at %s: the restore's answer: %w", c.addr, err)
			}
			p.finish(fmt.Sprintf("restored the backup of cluster %s (%s, written by %s at %s): %d keys, caches %v",
				info.Cluster, human(info.Size), info.Member, info.Created.UTC().Format(time.RFC3339), got.Keys, got.Caches))
			if c.output == "json" {
				return json.NewEncoder(c.out).Encode(got)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "the backup file to restore")
	cmd.Flags().StringVar(&from, "from", "", "accept a backup of this cluster name (restoring into a cluster of another name)")
	c.secretFlag(cmd, &secret)
	return cmd
}
