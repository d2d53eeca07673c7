package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/foundation-go/foundation"
	"github.com/foundation-go/foundation/cluster"
	"github.com/foundation-go/foundation/internal/kubeapi"
	"github.com/foundation-go/foundation/internal/nodeproc"
	"github.com/foundation-go/foundation/internal/provharness"
	"github.com/foundation-go/foundation/provider/k8s/k8stest"
)

func init() {
	register("providers", "cluster formation through each discovery back-end in its harness (consul and k8s: in-house fakes, labelled _fake; k8s_real: a real kube-apiserver, `make kubeapi`)", runProviders)
}

func runProviders(out *report) error {
	for _, name := range provharness.Names {
		var runs []float64
		for i := 0; i < 3; i++ {
			d, err := formationVia(name)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			runs = append(runs, ms(d))
		}
		out.figure("formation_ms_"+name+harnessLabel[name], median(runs), "ms")
	}
	runs, err := formationK8sReal(3)
	if errors.Is(err, kubeapi.ErrNotBuilt) {
		fmt.Fprintf(os.Stderr, "bench providers: formation_ms_k8s_real skipped: %v\n", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("k8s_real: %w", err)
	}
	out.figure("formation_ms_k8s_real", median(runs), "ms")
	return nil
}

// harnessLabel marks the figures measured against an in-house stand-in for
// the real back-end rather than the real one: the Consul agent API is
// consultest, the Kubernetes API client-go's fake clientset. DNS (a real
// DNS server on 127.0.0.1) and etcd (a real etcd) are real, and so is the
// Kubernetes API of formation_ms_k8s_real.
var harnessLabel = map[string]string{"consul": "_fake", "k8s": "_fake"}

// formationVia starts clusterSize nodes at once, discovering each other
// through back-end name, and returns the time until every node sees all.
// The back-end is started first and is not counted.
func formationVia(name string) (time.Duration, error) {
	ports, err := nodeproc.FreePorts(clusterSize)
	if err != nil {
		return 0, err
	}
	b, err := provharness.Start(name, ports)
	if err != nil {
		return 0, err
	}
	defer b.Close()
	_, d, stop, err := startNodes(ports, nodeSetup{
		configure: b.Configure,
		options:   b.Options,
		ready:     seesMembers(clusterSize),
	})
	if err != nil {
		return 0, err
	}
	stop()
	return d, nil
}

// formationK8sReal measures runs formations of clusterSize nodes through a
// real kube-apiserver (internal/kubeapi), in milliseconds. For each run the
// members' pods (Running, Ready, IP 127.0.0.1, the container port
// "foundation" at each node's cluster port) are in a new namespace before
// the clock starts; each node has a client of its own, as each pod would.
// The API server is started once, and not counted.
func formationK8sReal(runs int) ([]float64, error) {
	dir, err := os.MkdirTemp("", "bench-kubeapi-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	srv, err := kubeapi.StartServer(dir, kubeapi.Options{})
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	var dialers []*kubeapi.Dialer
	defer func() {
		for _, d := range dialers {
			d.Close()
		}
	}()
	client := func() (*kubernetes.Clientset, error) {
		d := kubeapi.NewDialer()
		dialers = append(dialers, d)
		return kubeapi.NewClient(srv.Config(), d)
	}
	admin, err := client()
	if err != nil {
		return nil, err
	}
	var out []float64
	for range runs {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		ns, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "bench-"}}, metav1.CreateOptions{})
		if err != nil {
			cancel()
			return nil, err
		}
		ports, err := nodeproc.FreePorts(clusterSize)
		if err != nil {
			cancel()
			return nil, err
		}
		for i, p := range ports {
			pod := k8stest.Pod("member-"+strconv.Itoa(i), "", "127.0.0.1", k8stest.PortName, int32(p), true)
			pod.Namespace = ns.Name
			pod.Labels = map[string]string{k8stest.PartOfLabel: "bench"} // the default selector of the cluster "bench"
			if _, err := kubeapi.CreatePod(ctx, admin, pod); err != nil {
				cancel()
				return nil, err
			}
		}
		cancel()
		var opts [][]foundation.Option
		for range ports {
			c, err := client()
			if err != nil {
				return nil, err
			}
			opts = append(opts, []foundation.Option{foundation.WithKubernetesClient(c)})
		}
		_, d, stop, err := startNodes(ports, nodeSetup{
			configure: func(_ int, c *cluster.Config) {
				c.Provider = "kubernetes"
				c.Kubernetes.Namespace = ns.Name
				c.Kubernetes.PortName = k8stest.PortName
			},
			options: func(i int) []foundation.Option { return opts[i] },
			ready:   seesMembers(clusterSize),
		})
		if err != nil {
			return nil, err
		}
		stop()
		out = append(out, ms(d))
	}
	return out, nil
}
