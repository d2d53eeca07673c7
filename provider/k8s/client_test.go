package k8s_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/foundation-go/foundation/provider"
	"github.com/foundation-go/foundation/provider/k8s"
)

// writeKubeconfig writes a kubeconfig whose current context reaches host.
func writeKubeconfig(t *testing.T, host string) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["c"] = &clientcmdapi.Cluster{Server: host}
	cfg.AuthInfos["u"] = &clientcmdapi.AuthInfo{Token: "t"}
	cfg.Contexts["x"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
	cfg.CurrentContext = "x"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestInClusterClientFromKubeconfig: with FOUNDATION_KUBECONFIG set, the
// client is the named file's; a file that is not there is a configuration
// error naming it; KUBECONFIG is never read.
func TestInClusterClientFromKubeconfig(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBECONFIG", writeKubeconfig(t, "https://127.0.0.1:1"))
	t.Setenv(k8s.EnvKubeconfig, "")
	os.Unsetenv(k8s.EnvKubeconfig)
	if _, err := k8s.InClusterClient(); !errors.Is(err, provider.ErrUnavailable) {
		t.Fatalf("outside a pod, with only KUBECONFIG set: %v; want ErrUnavailable (KUBECONFIG is not read)", err)
	}

	t.Setenv(k8s.EnvKubeconfig, writeKubeconfig(t, "https://127.0.0.1:2"))
	c, err := k8s.InClusterClient()
	if err != nil {
		t.Fatal(err)
	}
	rc, ok := c.CoreV1().RESTClient().(*rest.RESTClient)
	if !ok || rc.Get().URL().Host != "127.0.0.1:2" {
		t.Fatalf("client for %v; want the one of %s's file", rc.Get().URL(), k8s.EnvKubeconfig)
	}

	missing := filepath.Join(t.TempDir(), "none")
	t.Setenv(k8s.EnvKubeconfig, missing)
	if _, err := k8s.InClusterClient(); !errors.Is(err, provider.ErrInvalidConfig) || !strings.Contains(err.Error(), missing) {
		t.Fatalf("a missing kubeconfig: %v; want ErrInvalidConfig naming it", err)
	}
}
