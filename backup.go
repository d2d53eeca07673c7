package foundation

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"time"

	"google.golang.org/protobuf/proto"
	"gopkg.in/yaml.v3"

	"github.com/foundation-go/foundation/internal/protos"
)

// A backup file is the magic line, the body's format version (4 bytes,
// big endian), the body's length (8 bytes), the body (a protobuf
// protos.Backup) and the SHA-256 of everything before it.
const (
	backupMagic   = "FOUNDATION-BACKUP\n"
	backupFormat  = 1
	backupHeader  = len(backupMagic) + 4 + 8
	backupSumSize = sha256.Size
	// maxBackupBody bounds what Restore reads: 4 GiB.
	maxBackupBody = 4 << 30
)

// Backup and restore errors. Restore checks the whole file before it
// changes anything: with any of these, nothing was restored.
var (
	// ErrBackupCorrupt: not a backup file, or one that was truncated or
	// altered (its checksum does not match).
	ErrBackupCorrupt = errors.New("foundation: backup file is corrupt")
	// ErrBackupVersion: a backup of a format this version cannot read.
	ErrBackupVersion = errors.New("foundation: backup file format not supported")
	// ErrBackupForeign: a backup of another cluster (RestoreOptions.From
	// names the cluster to accept).
	ErrBackupForeign = errors.New("foundation: backup of another cluster")
)

// Dumper is a cache (or any state) a backup includes: cache.Cache has
// these methods.
type Dumper interface {
	Dump(ctx context.Context, w io.Writer) error
	Load(ctx context.Context, r io.Reader) error
}

// BackupOptions choose what a backup holds beyond the cluster's own state.
type BackupOptions struct {
	// Caches are dumped by name; Restore loads each into the cache given
	// under the same name.
	Caches map[string]Dumper
}

// BackupInfo describes a backup: what Backup wrote, what Restore read.
type BackupInfo struct {
	Cluster string
	// Member wrote it, at Created.
	Member  string
	Created time.Time
	// Members is the topology the writing member saw.
	Members []string
	// Keys is the number of replicated keys (service registry, topic
	// interest, durable and other CRDT keys).
	Keys int
	// Caches are the caches dumped.
	Caches []string
	// Config is the writing member's effective configuration (YAML), its
	// secret redacted.
	Config []byte
	// Size is the file's size in bytes.
	Size int64
}

// Backup writes the cluster's state to w as a versioned, checksummed file:
// the topology, every replicated key (the service registry, topic
// interest, durable and other CRDT keys; deleted keys included), a dump of
// each cache in o.Caches, and this member's effective configuration with
// its secret redacted. It reads this member's replicas: a write not yet
// replicated here is not in it (replication takes milliseconds; anti-
// entropy a second). Restore reads it into a fresh cluster.
func (n *Node) Backup(ctx context.Context, w io.Writer, o BackupOptions) (BackupInfo, error) {
	if n.Replicator == nil {
		return BackupInfo{}, fmt.Errorf("%w: the replicator (no node)", ErrNotEnabled)
	}
	b := &protos.Backup{Format: backupFormat, Cluster: n.Config.Name, CreatedUnixNano: time.Now().UnixNano(),
		Member: n.Membership.Self().ID, FoundationVersion: Version}
	for _, m := range n.Membership.View().Members {
		b.Members = append(b.Members, &protos.BackupMember{Id: m.ID, Address: m.Address, ClusterAddress: m.ClusterAddress,
			Kinds: m.Kinds, Labels: m.Labels, Version: m.Version, Protocol: uint32(max(m.Protocol, 0)),
			StartedUnixNano: m.Started.UnixNano(), Status: m.Status.String()})
	}
	cfg := n.Config
	if cfg.Secret != "" {
		cfg.Secret = "REDACTED"
	}
	var err error
	if b.ConfigYaml, err = yaml.Marshal(cfg); err != nil {
		return BackupInfo{}, fmt.Errorf("foundation: backup: the configuration: %w", err)
	}
	keys := 0
	if b.Crdt, keys, err = n.Replicator.Export("*"); err != nil {
		return BackupInfo{}, fmt.Errorf("foundation: backup: replicated keys: %w", err)
	}
	b.CrdtKeys = uint32(keys)
	names := make([]string, 0, len(o.Caches))
	for name := range o.Caches {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		var buf bytes.Buffer
		if o.Caches[name] == nil {
			return BackupInfo{}, fmt.Errorf("foundation: backup: BackupOptions.Caches[%q] is nil", name)
		}
		if err := o.Caches[name].Dump(ctx, &buf); err != nil {
			return BackupInfo{}, fmt.Errorf("foundation: backup: cache %q: %w", name, err)
		}
		b.Caches = append(b.Caches, &protos.BackupSection{Name: name, Data: buf.Bytes()})
	}
	body, err := proto.MarshalOptions{Deterministic: true}.Marshal(b)
	if err != nil {
		return BackupInfo{}, err
	}
	head := make([]byte, 0, backupHeader)
	head = append(head, backupMagic...)
	head = binary.BigEndian.AppendUint32(head, backupFormat)
	head = binary.BigEndian.AppendUint64(head, uint64(len(body)))
	sum := sha256.New()
	sum.Write(head)
	sum.Write(body)
	for _, part := range [][]byte{head, body, sum.Sum(nil)} {
		if _, err := w.Write(part); err != nil {
			return BackupInfo{}, fmt.Errorf("foundation: backup: writing: %w", err)
		}
	}
	info := backupInfo(b)
	info.Size = int64(len(head) + len(body) + backupSumSize)
	return info, nil
}

// RestoreOptions adjust Restore.
type RestoreOptions struct {
	// From accepts a backup of the cluster so named, when it is not this
	// cluster's name (a backup restored into a cluster of another name, such
	// as a standby). Empty: only this cluster's backups.
	From string
	// Caches receive the cache dumps by name; a dump whose name is absent
	// is skipped (BackupInfo.Caches lists them all).
	Caches map[string]Dumper
}

// ReadBackup reads and checks a backup file without restoring it: the
// errors are Restore's.
func ReadBackup(r io.Reader) (BackupInfo, error) {
	b, size, err := readBackup(r)
	if err != nil {
		return BackupInfo{}, err
	}
	info := backupInfo(b)
	info.Size = size
	return info, nil
}

// Restore reads a backup Backup wrote and merges it into the cluster
// through this member: every replicated key is merged into this member's
// replicas and pushed to the others (a fresh cluster gets the backup's
// state; a running one the merge of both — CRDTs never lose a write), and
// each cache dump is loaded into the cache of RestoreOptions.Caches of its
// name. The file is read and checked in full first: a truncated or altered
// file (ErrBackupCorrupt), a format this version does not read
// (ErrBackupVersion) or another cluster's backup (ErrBackupForeign)
// changes nothing. Service registrations of members absent from this
// cluster come back as records no call is routed to (a service is called
// on Up members only).
func (n *Node) Restore(ctx context.Context, r io.Reader, o RestoreOptions) (BackupInfo, error) {
	if n.Replicator == nil {
		return BackupInfo{}, fmt.Errorf("%w: the replicator (no node)", ErrNotEnabled)
	}
	b, size, err := readBackup(r)
	if err != nil {
		return BackupInfo{}, err
	}
	want := n.Config.Name
	if o.From != "" {
		want = o.From
	}
	if b.Cluster != want {
		return BackupInfo{}, fmt.Errorf("%w: the backup is of cluster %q, this is %q (RestoreOptions.From accepts another)", ErrBackupForeign, b.Cluster, n.Config.Name)
	}
	info := backupInfo(b)
	info.Size = size
	if _, err := n.Replicator.Import(ctx, b.Crdt); err != nil {
		return info, fmt.Errorf("foundation: restore: replicated keys: %w", err)
	}
	for _, c := range b.Caches {
		d := o.Caches[c.Name]
		if d == nil {
			continue
		}
		if err := d.Load(ctx, bytes.NewReader(c.Data)); err != nil {
			return info, fmt.Errorf("foundation: restore: cache %q: %w", c.Name, err)
		}
	}
	return info, nil
}

func readBackup(r io.Reader) (*protos.Backup, int64, error) {
	head := make([]byte, backupHeader)
	if _, err := io.ReadFull(r, head); err != nil {
		return nil, 0, fmt.Errorf("%w: %d bytes of header expected: %v", ErrBackupCorrupt, backupHeader, err)
	}
	if string(head[:len(backupMagic)]) != backupMagic {
		return nil, 0, fmt.Errorf("%w: not a Foundation backup (no %q header)", ErrBackupCorrupt, backupMagic[:len(backupMagic)-1])
	}
	format := binary.BigEndian.Uint32(head[len(backupMagic):])
	if format != backupFormat {
		return nil, 0, fmt.Errorf("%w: format %d; this version reads format %d", ErrBackupVersion, format, backupFormat)
	}
	size := binary.BigEndian.Uint64(head[len(backupMagic)+4:])
	if size > maxBackupBody {
		return nil, 0, fmt.Errorf("%w: a body of %d bytes (at most %d)", ErrBackupCorrupt, size, maxBackupBody)
	}
	// Read in steps, not one allocation of the declared size: a corrupt
	// length must not allocate gigabytes before the read fails.
	var body bytes.Buffer
	if n, err := io.CopyN(&body, r, int64(size)); err != nil {
		return nil, 0, fmt.Errorf("%w: truncated: %d of %d bytes of body: %v", ErrBackupCorrupt, n, size, err)
	}
	sum := make([]byte, backupSumSize)
	if _, err := io.ReadFull(r, sum); err != nil {
		return nil, 0, fmt.Errorf("%w: truncated: no checksum: %v", ErrBackupCorrupt, err)
	}
	h := sha256.New()
	h.Write(head)
	h.Write(body.Bytes())
	if !bytes.Equal(h.Sum(nil), sum) {
		return nil, 0, fmt.Errorf("%w: checksum mismatch (the file was altered or damaged)", ErrBackupCorrupt)
	}
	if extra, _ := io.Copy(io.Discard, io.LimitReader(r, 1)); extra > 0 {
		return nil, 0, fmt.Errorf("%w: data after the checksum", ErrBackupCorrupt)
	}
	var b protos.Backup
	if err := proto.Unmarshal(body.Bytes(), &b); err != nil {
		return nil, 0, fmt.Errorf("%w: %v", ErrBackupCorrupt, err)
	}
	if b.Format != backupFormat {
		return nil, 0, fmt.Errorf("%w: body format %d; this version reads format %d", ErrBackupVersion, b.Format, backupFormat)
	}
	return &b, int64(backupHeader) + int64(size) + backupSumSize, nil
}

func backupInfo(b *protos.Backup) BackupInfo {
	info := BackupInfo{Cluster: b.Cluster, Member: b.Member, Created: time.Unix(0, b.CreatedUnixNano), Keys: int(b.CrdtKeys), Config: b.ConfigYaml}
	for _, m := range b.Members {
		info.Members = append(info.Members, m.Id)
	}
	slices.Sort(info.Members)
	for _, c := range b.Caches {
		info.Caches = append(info.Caches, c.Name)
	}
	return info
}
