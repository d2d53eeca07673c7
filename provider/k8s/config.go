package k8s

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/foundation-go/foundation/provider"
)

// Defaults of Config. A zero field means its default.
const (
	// DefaultRetryMin is the first pause after a failed list or watch call:
	// short, so that a blip (an API server restarting behind its load
	// balancer) costs little.
	DefaultRetryMin = 200 * time.Millisecond
	// DefaultRetryMax caps the pause between retries, doubled after each
	// failure: the cap client-go's reflector uses too, so that a long
	// outage costs the API server one request per 30s per member.
	DefaultRetryMax = 30 * time.Second
	// MinResyncPeriod is the shortest ResyncPeriod: client-go raises
	// shorter ones to it.
	MinResyncPeriod = time.Second
	// DefaultStartTimeout bounds how long Start waits for the first list of
	// pods: as long as a production member's join timeout.
	DefaultStartTimeout = 10 * time.Second

	// NamespaceFile is where Kubernetes mounts the namespace of a pod's
	// service account; New reads it when Config.Namespace is empty.
	NamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
	// EnvPodNamespace is read when Config.Namespace is empty and
	// NamespaceFile cannot be read (set it from the downward API's
	// metadata.namespace).
	EnvPodNamespace = "POD_NAMESPACE"
	// EnvPodName is the default of Config.PodName (set it from the downward
	// API's metadata.name); the host name is used when it is unset.
	EnvPodName = "POD_NAME"
	// EnvKubeconfig, when set, names a kubeconfig file that InClusterClient
	// uses instead of the pod's service account: for tests and development
	// outside a cluster (the project's tests point member processes at a
	// test API server with it). Its current context is used. KUBECONFIG is
	// never read, so that a program started by a test never reaches a
	// cluster the developer's shell happens to point at.
	EnvKubeconfig = "FOUNDATION_KUBECONFIG"
)

// Config configures a Provider. Client and LabelSelector are required; every
// other zero field means its default. The fields with a YAML key are the
// "kubernetes" section of cluster.Config (namespace, label_selector,
// port_name); the others (yaml:"-") are set in code. New copies the Config;
// later changes to the caller's value do not affect the Provider.
type Config struct {
	// Client talks to the API server. Required; InClusterClient builds one
	// from the pod's service account.
	Client kubernetes.Interface `yaml:"-"`
	// Namespace is where member pods run (kubernetes.namespace), a DNS
	// label. Default (empty): the pod's own namespace, read by New from
	// NamespaceFile, else from the environment variable EnvPodNamespace;
	// when neither is there New fails.
	Namespace string `yaml:"namespace,omitempty"`
	// LabelSelector selects the member pods, in kubectl syntax
	// (kubernetes.label_selector), e.g. "app.kubernetes.io/part-of=foundation".
	// Required: an empty selector would select every pod of the namespace.
	LabelSelector string `yaml:"label_selector,omitempty"`
	// PortName is the name of the container port members listen on
	// (kubernetes.port_name): at most 15 lower-case letters, digits and
	// '-', with a letter. A selected pod without a container port of that
	// name is skipped (and logged once). Default (empty): every pod is
	// dialled on the port of self.Address given to Start.
	PortName string `yaml:"port_name,omitempty"`
	// PodName is this member's pod, used only to log whether the selector
	// finds it. Default (empty): the environment variable EnvPodName, else
	// the host name (which Kubernetes sets to the pod's name).
	PodName string `yaml:"-"`
	// ResyncPeriod, when not zero, makes the informer re-deliver every pod
	// it holds this often, at least MinResyncPeriod (1s); the member set is
	// re-computed but reported only if it changed. Default (zero): no
	// resync; the watch alone keeps the set current.
	ResyncPeriod time.Duration `yaml:"-"`
	// RetryMin is the pause after the first failed list or watch call;
	// each further failure doubles it, up to RetryMax; each pause is
	// shortened by up to half at random. At least 1ms.
	// Default DefaultRetryMin (200ms).
	RetryMin time.Duration `yaml:"-"`
	// RetryMax caps the pause between retries; at least RetryMin. Default
	// DefaultRetryMax (30s).
	RetryMax time.Duration `yaml:"-"`
	// StartTimeout bounds how long Start waits for the first list of pods
	// (retrying failures meanwhile) before it fails with
	// provider.ErrUnavailable. Default DefaultStartTimeout (10s).
	StartTimeout time.Duration `yaml:"-"`
	// Logger receives the provider's logs. Default (nil): no logging.
	Logger *zap.Logger `yaml:"-"`
}

// withDefaults returns a copy of c with the zero fields that have constant
// defaults set. Namespace and PodName, whose defaults come from the pod's
// environment, are resolved by New.
func (c Config) withDefaults() Config {
	if c.RetryMin == 0 {
		c.RetryMin = DefaultRetryMin
	}
	if c.RetryMax == 0 {
		c.RetryMax = max(DefaultRetryMax, c.RetryMin)
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = DefaultStartTimeout
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c
}

// Validate reports every field of c, with its defaults applied, that is
// unusable, each as a *provider.FieldError naming the field and what is
// allowed, joined with errors.Join; they wrap provider.ErrInvalidConfig.
// Validate does not change c and reads nothing: an empty Namespace is valid
// here, and New resolves it.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(field, key string, missing bool, format string, args ...any) {
		errs = append(errs, &provider.FieldError{Provider: "k8s", Field: field, Key: key, Missing: missing, Problem: fmt.Sprintf(format, args...)})
	}
	if c.Client == nil {
		bad("Client", "", true, "is nil: want a kubernetes.Interface, e.g. from k8s.InClusterClient()")
	}
	if c.Namespace != "" {
		if msgs := validation.IsDNS1123Label(c.Namespace); len(msgs) > 0 {
			bad("Namespace", "namespace", false, "%q: want a namespace name: %s", c.Namespace, strings.Join(msgs, "; "))
		}
	}
	if strings.TrimSpace(c.LabelSelector) == "" {
		bad("LabelSelector", "label_selector", c.LabelSelector == "", `is empty: want a label selector such as "app.kubernetes.io/part-of=foundation" (an empty one would select every pod)`)
	} else if _, err := labels.Parse(c.LabelSelector); err != nil {
		bad("LabelSelector", "label_selector", false, "%q: want kubectl selector syntax: %v", c.LabelSelector, err)
	}
	if c.PortName != "" {
		if msgs := validation.IsValidPortName(c.PortName); len(msgs) > 0 {
			bad("PortName", "port_name", false, "%q: want at most 15 lower-case letters, digits and '-', with a letter: %s", c.PortName, strings.Join(msgs, "; "))
		}
	}
	if c.ResyncPeriod != 0 && c.ResyncPeriod < MinResyncPeriod {
		bad("ResyncPeriod", "", false, "%v: want 0 (no resync) or at least %v", c.ResyncPeriod, MinResyncPeriod)
	}
	if c.RetryMin < time.Millisecond {
		bad("RetryMin", "", false, "%v: want at least 1ms (zero: %v)", c.RetryMin, DefaultRetryMin)
	} else if c.RetryMax < c.RetryMin {
		bad("RetryMax", "", false, "%v: want at least Config.RetryMin (%v) (zero: %v)", c.RetryMax, c.RetryMin, DefaultRetryMax)
	}
	if c.StartTimeout < 0 {
		bad("StartTimeout", "", false, "%v: want more than 0 (zero: %v)", c.StartTimeout, DefaultStartTimeout)
	}
	return errors.Join(errs...)
}

// resolve returns c with its defaults, Namespace and PodName included,
// reading file for the namespace and getenv for the variables.
func (c Config) resolve(file string, getenv func(string) string, hostname func() (string, error)) (Config, error) {
	c = c.withDefaults()
	if c.Namespace == "" {
		b, err := os.ReadFile(file)
		ns := strings.TrimSpace(string(b))
		if ns == "" {
			ns = strings.TrimSpace(getenv(EnvPodNamespace))
		}
		if ns == "" {
			if err == nil {
				err = fmt.Errorf("%s is empty", file)
			}
			return c, fmt.Errorf("%w: k8s: Config.Namespace is empty and the pod's namespace is unknown (%v; %s unset): set it, e.g. FOUNDATION_K8S_NAMESPACE=default",
				provider.ErrInvalidConfig, err, EnvPodNamespace)
		}
		c.Namespace = ns
	}
	if c.PodName == "" {
		c.PodName = strings.TrimSpace(getenv(EnvPodName))
	}
	if c.PodName == "" {
		c.PodName, _ = hostname()
	}
	return c, c.Validate()
}

// InClusterClient returns a client for the API server of the cluster the
// process runs in, authenticated as the pod's service account (the
// KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT variables and the
// token Kubernetes mounts). Outside a pod the error wraps
// provider.ErrUnavailable. When the environment variable EnvKubeconfig
// (FOUNDATION_KUBECONFIG) is set, the client is built from the kubeconfig
// file it names instead, for tests and development; a file that cannot be
// read or has no usable current context is an error wrapping
// provider.ErrInvalidConfig. It contacts nothing: the first request does.
func InClusterClient() (kubernetes.Interface, error) {
	if path := os.Getenv(EnvKubeconfig); path != "" {
		// ExplicitPath alone: neither KUBECONFIG nor ~/.kube/config is read.
		rc, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
			&clientcmd.ClientConfigLoadingRules{ExplicitPath: path}, &clientcmd.ConfigOverrides{}).ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("%w: k8s: %s=%s: %v", provider.ErrInvalidConfig, EnvKubeconfig, path, err)
		}
		cs, err := kubernetes.NewForConfig(rc)
		if err != nil {
			return nil, fmt.Errorf("%w: k8s: a client for %s (from %s): %v", provider.ErrInvalidConfig, rc.Host, path, err)
		}
		return cs, nil
	}
	rc, err := rest.InClusterConfig()
	if err != nil {
		return nil, fmt.Errorf("%w: k8s: no in-cluster API server configuration (not running in a pod?): %v", provider.ErrUnavailable, err)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("%w: k8s: a client for %s: %v", provider.ErrUnavailable, rc.Host, err)
	}
	return cs, nil
}
