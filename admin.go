package foundation

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// AdminToken is the bearer token of a cluster's administration endpoints
// (GET /admin/backup, POST /admin/restore on the member's HTTP listener):
// derived from the cluster secret, so that whoever holds the secret — the
// operator's CLI — can call them, and the secret itself never crosses the
// network. The endpoints are refused when the cluster has no secret.
func AdminToken(secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("foundation admin v1"))
	return hex.EncodeToString(m.Sum(nil))
}

// adminState is what the administration endpoints reach.
type adminState struct {
	mu     sync.Mutex
	caches map[string]Dumper
}

// IncludeInBackups makes the backups of the administration endpoint
// (foundation backup) dump d under name, and their restores load it.
// Backup and Restore in Go take their caches as options instead.
func (n *Node) IncludeInBackups(name string, d Dumper) {
	n.admin.mu.Lock()
	defer n.admin.mu.Unlock()
	if n.admin.caches == nil {
		n.admin.caches = map[string]Dumper{}
	}
	if d == nil {
		delete(n.admin.caches, name)
		return
	}
	n.admin.caches[name] = d
}

func (n *Node) backupCaches() map[string]Dumper {
	n.admin.mu.Lock()
	defer n.admin.mu.Unlock()
	out := make(map[string]Dumper, len(n.admin.caches))
	for k, v := range n.admin.caches {
		out[k] = v
	}
	return out
}

// adminHandlers are the administration routes of the HTTP listener.
func (n *Node) adminHandlers(secret string) map[string]http.Handler {
	auth := func(h http.HandlerFunc) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if secret == "" {
				http.Error(w, "administration endpoints need a cluster secret (secret, FOUNDATION_SECRET)", http.StatusForbidden)
				return
			}
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(AdminToken(secret))) != 1 {
				http.Error(w, "administration endpoints need Authorization: Bearer <foundation.AdminToken(secret)>", http.StatusUnauthorized)
				return
			}
			h(w, r)
		})
	}
	return map[string]http.Handler{
		"GET /admin/backup": auth(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), 5*time.Minute)
			defer cancel()
			var buf bytes.Buffer
			info, err := n.Backup(ctx, &buf, BackupOptions{Caches: n.backupCaches()})
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Length", fmt.Sprint(buf.Len()))
			w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", info.Cluster+"-"+info.Created.UTC().Format("20060102T150405Z")+".fbk"))
			_, _ = buf.WriteTo(w)
		}),
		"POST /admin/restore": auth(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), 5*time.Minute)
			defer cancel()
			info, err := n.Restore(ctx, io.LimitReader(r.Body, maxBackupBody+int64(backupHeader)+backupSumSize), RestoreOptions{
				From: r.URL.Query().Get("from"), Caches: n.backupCaches()})
			switch {
			case errors.Is(err, ErrBackupCorrupt), errors.Is(err, ErrBackupVersion), errors.Is(err, ErrBackupForeign):
				http.Error(w, err.Error(), http.StatusUnprocessableEntity)
				return
			case err != nil:
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(info)
		}),
	}
}
