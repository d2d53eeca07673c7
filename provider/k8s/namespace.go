package k8s

import (
	"fmt"
	"os"
	"strings"

	"github.com/foundation-go/foundation/provider"
)

// PodNamespace returns the namespace of the pod this process runs in: the
// service account's NamespaceFile, else the environment variable
// EnvPodNamespace.
func PodNamespace() (string, error) {
	b, err := os.ReadFile(NamespaceFile)
	if ns := strings.TrimSpace(string(b)); ns != "" {
		return ns, nil
	}
	if ns := strings.TrimSpace(os.Getenv(EnvPodNamespace)); ns != "" {
		return ns, nil
	}
	if err == nil {
		err = fmt.Errorf("%s is empty", NamespaceFile)
	}
	return "", fmt.Errorf("%w: k8s: the pod's namespace is unknown (%v; %s unset): set kubernetes.namespace", provider.ErrInvalidConfig, err, EnvPodNamespace)
}
