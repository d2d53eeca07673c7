package e2e_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/cluster/clustertest"
	"github.com/foundation-go/foundation/telemetry"
)

// telLayer runs a Telemetry with an HTTP listener on a clustertest member.
type telLayer struct{ t *telemetry.Telemetry }

func (l *telLayer) Prepare(*clustertest.Member, *cluster.Member) error { return nil }

func (l *telLayer) Start(m *clustertest.Member) error {
	return l.t.Start(context.Background(), telemetry.Member{System: m.System, Membership: m.Membership})
}

func (l *telLayer) Stop(ctx context.Context) error { return l.t.Stop(ctx) }

func (l *telLayer) Abort() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = l.t.Stop(ctx)
}

func readyz(t *testing.T, addr string) (int, map[string]any) {
	t.Helper()
	code, body := httpGet(t, "http://"+addr+"/readyz")
	var v map[string]any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("/readyz body %q: %v", body, err)
	}
	return code, v
}

// TestReadyzFollowsTheSplitBrainResolver: a member cut off from the two
// others is downed by keep-majority; its /readyz goes 503 while the
// majority's stay 200, /health reports the partition, and after the heal
// the member is ready again.
func TestReadyzFollowsTheSplitBrainResolver(t *testing.T) {
	layers := make([]*telLayer, 3)
	c := clustertest.Start(t, 3, clustertest.Options{Layer: func(i int) clustertest.Layer {
		tel, err := telemetry.New(telemetry.Config{Address: "127.0.0.1:0", Metrics: true, SampleEvery: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		layers[i] = &telLayer{t: tel}
		return layers[i]
	}})
	addr := func(i int) string { return layers[i].t.Address() }
	for i := range 3 {
		i := i
		eventually(t, 5*time.Second, "member ready", func() bool { code, _ := readyz(t, addr(i)); return code == 200 })
	}
	c.Isolate(2)
	eventually(t, 10*time.Second, "the isolated member to go not ready", func() bool {
		code, v := readyz(t, addr(2))
		return code == 503 && (v["status"] == "downed" || v["status"] == "fenced")
	})
	eventually(t, 10*time.Second, "the isolated member downed", func() bool {
		_, v := readyz(t, addr(2))
		return v["status"] == "downed"
	})
	for i := range 2 {
		if code, v := readyz(t, addr(i)); code != 200 {
			t.Fatalf("majority member %d not ready: %v", i, v)
		}
	}
	code, body := httpGet(t, "http://"+addr(2)+"/health")
	var h telemetry.Health
	if err := json.Unmarshal([]byte(body), &h); err != nil {
		t.Fatal(err)
	}
	if code != 503 || h.Status != "unhealthy" {
		t.Fatalf("/health of the downed member: %d %s", code, h.Status)
	}
	c.Network.HealAll()
	eventually(t, 20*time.Second, "the healed member ready again", func() bool { code, _ := readyz(t, addr(2)); return code == 200 })
	eventually(t, 10*time.Second, "a healthy cluster", func() bool {
		code, body := httpGet(t, "http://"+addr(0)+"/health")
		var h telemetry.Health
		_ = json.Unmarshal([]byte(body), &h)
		return code == 200 && h.Status == "healthy" && h.ActualMembers == 3 && !h.PartitionsDetected
	})
}
